// libFuzzer target: the Zarr array reader over a directory made from the input (zarr_fuzz.hpp
// says how): zarr::ArrayReader::open parses the metadata (shape, chunks, dtype, codecs,
// sharding, fill value), then the first chunk or shard is read (chunk codecs, shard index).
// slidestream::Error is the expected outcome of bad input; anything else is a finding.
// fuzz/make_corpus.py writes the seeds from zarr-python's arrays.
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "zarr_fuzz.hpp"

namespace {

// One directory for the whole run, in memory where the machine has /dev/shm.
const std::filesystem::path& array_dir() {
  static const std::filesystem::path dir = [] {
    std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string pattern = base + "/slidestream-fuzz-zarr-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    return std::filesystem::path(pattern);
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  slidestream::fuzz::open_fuzzed_array(array_dir(), data, size);
  return 0;
}
