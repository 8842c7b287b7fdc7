// libFuzzer target: JPEG 2000 codestreams and JP2 files, plain and Aperio (OpenJPEG), through
// codec::decode_tile with a format chosen by the input's first bytes (tile_fuzz.hpp). See
// fuzz/README.md.
#include "tile_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return slidestream::fuzz::decode_fuzzed_tile(slidestream::Compression::jpeg2000, data, size);
}
