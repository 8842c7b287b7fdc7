// The internal slide model behind slidestream::Slide: everything needed to find, decode and place
// a tile without touching the TIFF structure again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codec/tile_decoder.hpp"
#include "io/file.hpp"
#include "slidestream/slide.hpp"

namespace slidestream {

// One tiled pyramid level, or one associated image (tiled or stripped).
struct ImageData {
  // Tiles in row-major order, tiles_across × tiles_down; for planar_configuration 2, all tiles of
  // sample 0, then all tiles of sample 1, ... (as TIFF stores them). Strips are tiles of
  // image width × rows_per_strip.
  std::vector<uint64_t> tile_offsets;
  std::vector<uint64_t> tile_byte_counts;
  std::vector<std::byte> jpeg_tables;
  std::array<uint16_t, 2> ycbcr_subsampling{2, 2};
  uint64_t ifd_offset = 0;
  bool big_endian = false;  // the file is "MM": multi-byte samples are stored big-endian
  // Stored in strips (associated images only; levels are always tiled): the last strip holds
  // only the remaining rows, where a tiled image's last row of tiles is padded to full size.
  bool stripped = false;

  // The decoder's description of one tile (jpeg_tables points into this object).
  codec::TileFormat tile_format(const Level& level) const;
};

struct Slide::Impl {
  std::filesystem::path path;
  io::File file;
  uint64_t file_size = 0;
  std::string format;
  std::vector<Level> levels;
  std::vector<ImageData> level_data;  // parallel to levels
  std::vector<AssociatedImage> associated;
  std::vector<Level> associated_layout;    // the same description, for the decoders
  std::vector<ImageData> associated_data;  // parallel to associated
  std::map<std::string, std::string> properties;
  std::optional<double> mpp_x, mpp_y, objective_power;
  // Formats tried before the one that accepted the file, with the reason each refused it
  // (for `slidestream info`).
  std::vector<std::pair<std::string, std::string>> refused_formats;
};

}  // namespace slidestream
