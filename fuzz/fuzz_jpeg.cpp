// libFuzzer target: JPEG tiles with the TIFF JPEGTables stream (libjpeg-turbo, our YCbCr path),
// through codec::decode_tile with a format chosen by the input's first bytes (tile_fuzz.hpp). See
// fuzz/README.md.
#include "tile_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return slidestream::fuzz::decode_fuzzed_tile(slidestream::Compression::jpeg, data, size);
}
