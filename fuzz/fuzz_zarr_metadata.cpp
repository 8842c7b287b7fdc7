// libFuzzer target: the Zarr array reader over a directory made from the input. The input is
//   [0]      bit 0: the metadata is zarr.json (v3) or .zarray (v2); bits 1-3: the key the chunk
//            file is written under (kKeys: unit (0, 0) in each key encoding, with and without
//            the leading channel index)
//   [1..N)   the metadata text, up to the first NUL byte
//   (N..]    one chunk (or shard) file
// zarr::ArrayReader::open parses the metadata (shape, chunks, dtype, codecs, sharding, fill
// value); an array whose first unit is at most 16 MB decoded then has that unit read (chunk
// codecs, shard index). slidestream::Error is the expected outcome of bad input; anything
// else is a finding. fuzz/make_corpus.py writes the seeds from zarr-python's arrays.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "slidestream/error.hpp"
#include "slidestream/image.hpp"
#include "slidestream/zarr.hpp"

namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxUnitBytes = 16ull << 20;
constexpr const char* kKeys[8] = {"0.0",   "0.0.0",   "0/0",   "0/0/0",
                                  "c/0/0", "c/0/0/0", "c.0.0", "c.0.0.0"};

// One directory for the whole run, in memory where the machine has /dev/shm.
const fs::path& array_dir() {
  static const fs::path dir = [] {
    std::string base = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string pattern = base + "/slidestream-fuzz-zarr-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    return fs::path(pattern);
  }();
  return dir;
}

void write_file(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const fs::path& dir = array_dir();
  for (const auto& entry : fs::directory_iterator(dir)) fs::remove_all(entry.path());
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nul = std::min(input.find('\0'), input.size());
  const std::string_view metadata = input.substr(0, nul);
  const std::string_view chunk = nul < input.size() ? input.substr(nul + 1) : std::string_view{};
  write_file(dir / ((data[0] & 1) ? "zarr.json" : ".zarray"), metadata);
  write_file(dir / kKeys[(data[0] >> 1) & 7], chunk);
  try {
    slidestream::zarr::ArrayReader reader = slidestream::zarr::ArrayReader::open(dir);
    const slidestream::zarr::ArraySpec& spec = reader.info().spec;
    // The first unit: a shard when sharded, else a chunk.
    const int64_t h =
        std::min(spec.height, spec.shard_height > 0 ? spec.shard_height : spec.chunk_height);
    const int64_t w =
        std::min(spec.width, spec.shard_width > 0 ? spec.shard_width : spec.chunk_width);
    const uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(h, 0)) *
                           static_cast<uint64_t>(std::max<int64_t>(w, 0)) *
                           static_cast<uint64_t>(std::max(spec.channels, 0)) *
                           slidestream::size_of(spec.dtype);
    if (h > 0 && w > 0 && bytes <= kMaxUnitBytes) {
      slidestream::Image image =
          slidestream::Image::allocate(w, h, spec.channels, spec.dtype, slidestream::Device::cpu);
      slidestream::ReadOptions options;
      options.threads = 1;
      reader.read_region(0, 0, image.view(), options);
    }
  } catch (const slidestream::Error&) {
  }
  return 0;
}
