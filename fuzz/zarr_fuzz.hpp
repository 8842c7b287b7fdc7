// Shared by fuzz_zarr_metadata.cpp and tests/test_malformed_input.cpp (which replays the
// target's seeds and findings): the input is
//   [0]      bit 0: the metadata is zarr.json (v3) or .zarray (v2); bits 1-3: the key the chunk
//            file is written under (kKeys: unit (0, 0) in each key encoding, with and without
//            the leading channel index)
//   [1..N)   the metadata text, up to the first NUL byte
//   (N..]    one chunk (or shard) file
// written into an empty directory, which zarr::ArrayReader::open then opens; an array whose
// first unit (chunk or shard) is at most 16 MB decoded has that unit read. slidestream::Error
// is the expected outcome of bad input (caught here); anything else escapes.
#pragma once

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

namespace slidestream::fuzz {

inline void write_fuzz_file(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) std::abort();
}

// `dir` must exist; its contents are replaced.
inline void open_fuzzed_array(const std::filesystem::path& dir, const uint8_t* data, size_t size) {
  constexpr uint64_t kMaxUnitBytes = 16ull << 20;
  constexpr const char* kKeys[8] = {"0.0",   "0.0.0",   "0/0",   "0/0/0",
                                    "c/0/0", "c/0/0/0", "c.0.0", "c.0.0.0"};
  if (size < 2) return;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::filesystem::remove_all(entry.path());
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nul = std::min(input.find('\0'), input.size());
  const std::string_view metadata = input.substr(0, nul);
  const std::string_view chunk = nul < input.size() ? input.substr(nul + 1) : std::string_view{};
  write_fuzz_file(dir / ((data[0] & 1) ? "zarr.json" : ".zarray"), metadata);
  write_fuzz_file(dir / kKeys[(data[0] >> 1) & 7], chunk);
  try {
    zarr::ArrayReader reader = zarr::ArrayReader::open(dir);
    const zarr::ArraySpec& spec = reader.info().spec;
    // The first unit: a shard when sharded, else a chunk.
    const int64_t h =
        std::min(spec.height, spec.shard_height > 0 ? spec.shard_height : spec.chunk_height);
    const int64_t w =
        std::min(spec.width, spec.shard_width > 0 ? spec.shard_width : spec.chunk_width);
    const uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(h, 0)) *
                           static_cast<uint64_t>(std::max<int64_t>(w, 0)) *
                           static_cast<uint64_t>(std::max(spec.channels, 0)) * size_of(spec.dtype);
    if (h > 0 && w > 0 && bytes <= kMaxUnitBytes) {
      Image image = Image::allocate(w, h, spec.channels, spec.dtype, Device::cpu);
      ReadOptions options;
      options.threads = 1;
      reader.read_region(0, 0, image.view(), options);
    }
  } catch (const Error&) {
  }
}

}  // namespace slidestream::fuzz
