// The internal description of one Zarr array, shared by the writer and the reader: geometry,
// how each chunk's bytes are encoded, where each file lives, and its JSON metadata (v2 .zarray,
// v3 zarr.json). Specs: https://zarr-specs.readthedocs.io/en/latest/v2/v2.0.html and
// https://zarr-specs.readthedocs.io/en/latest/v3/core/index.html (codecs in sibling pages).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "slidestream/zarr.hpp"

namespace slidestream::zarr::detail {

enum class Compressor { none, zstd, blosc };

// How the decoded bytes of one (inner) chunk are laid out and compressed.
struct ChunkEncoding {
  bool interleaved = true;  // bytes in (y, x, c) order; false: planar (c, y, x)
  Compressor compressor = Compressor::none;
  int level = 3;  // zstd level or blosc clevel
  std::string blosc_cname = "lz4";
  int blosc_shuffle = 1;  // 0 none, 1 byte shuffle, 2 bit shuffle
  bool crc32c = false;    // a v3 crc32c codec after compression (checked on read)
};

struct Layout {
  Format format = Format::v3;
  int64_t height = 0, width = 0;
  int channels = 1;
  // A multi-channel array whose dimensions are (y, x, c) (ChannelLayout::yxc); else (c, y, x).
  bool channels_last = false;
  DataType dtype = DataType::uint8;
  int64_t chunk_h = 0, chunk_w = 0;  // the (inner) chunk
  int64_t unit_h = 0, unit_w = 0;    // what one file holds: the shard when sharded, else a chunk
  bool sharded = false;
  bool index_at_end = true;  // sharding_indexed index_location
  bool index_crc32c = true;  // index_codecs end with crc32c
  ChunkEncoding encoding;
  double fill_value = 0;
  std::array<std::byte, 8> fill_sample{};  // fill_value as one little-endian sample of dtype
  // Chunk keys: v3 default encoding is "c" + sep + indices; v2 (and v3's "v2" encoding) has no
  // prefix. The channel index (always 0) is included for 3-D arrays: leading for (c, y, x),
  // trailing for (y, x, c).
  std::string key_prefix = "c";
  char separator = '/';

  size_t sample_bytes() const noexcept { return size_of(dtype); }
  size_t pixel_bytes() const noexcept { return sample_bytes() * static_cast<size_t>(channels); }
  size_t chunk_bytes() const noexcept {
    return static_cast<size_t>(chunk_h * chunk_w) * pixel_bytes();
  }
  size_t unit_bytes() const noexcept {
    return static_cast<size_t>(unit_h * unit_w) * pixel_bytes();
  }
  int64_t units_down() const noexcept { return (height + unit_h - 1) / unit_h; }
  int64_t units_across() const noexcept { return (width + unit_w - 1) / unit_w; }
  int64_t chunks_down() const noexcept { return (height + chunk_h - 1) / chunk_h; }
  int64_t chunks_across() const noexcept { return (width + chunk_w - 1) / chunk_w; }
  int64_t inner_down() const noexcept { return unit_h / chunk_h; }
  int64_t inner_across() const noexcept { return unit_w / chunk_w; }
  size_t index_bytes() const noexcept {
    return static_cast<size_t>(inner_down() * inner_across()) * 16 + (index_crc32c ? 4 : 0);
  }
  bool fill_is_zero() const noexcept;

  // The file of unit (uy, ux), relative to the array directory; and the directory holding a
  // row of units.
  std::string unit_key(int64_t uy, int64_t ux) const;
  std::string unit_row_dir(int64_t uy) const;

  // Validates a caller's spec (Error invalid_argument naming what is wrong).
  static Layout from_spec(const ArraySpec& spec);
  ArraySpec to_spec() const;
};

// Metadata documents. `attributes` is a JSON object.
nlohmann::json v2_array_metadata(const Layout& layout);  // .zarray
nlohmann::json v3_array_metadata(const Layout& layout, const nlohmann::json& attributes);

// Reads the metadata of the array at `dir` (v3 zarr.json or v2 .zarray + .zattrs), validating
// everything a hostile file could get wrong. Throws Error (not_found, format, unsupported, limit).
Layout read_array_metadata(const std::filesystem::path& dir, nlohmann::json* attributes);

// Writes a small file (metadata) through a temporary name and a rename, so that it exists either
// whole or not at all; fsyncs it first when durable. Returns the bytes written.
size_t write_small_file_atomically(const std::filesystem::path& path, const std::string& text,
                                   bool durable);

}  // namespace slidestream::zarr::detail
