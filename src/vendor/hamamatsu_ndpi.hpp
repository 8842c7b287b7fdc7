// Reading one NDPI directory into an image description (hamamatsu.cpp assembles the slide):
// its role (pyramid level or macro), size, pseudo-tile grid, restart intervals and tile header,
// checked as OpenSlide's hamamatsu_ndpi_open checks them, plus the small TIFF helpers NDPI's
// tags need.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "source/byte_store.hpp"
#include "tiff/tiff_parser.hpp"
#include "vendor/hamamatsu_level_source.hpp"

namespace slidestream::vendor::ndpi {

namespace tag {
inline constexpr uint16_t source_lens = 65421;  // FLOAT: objective; -1 macro, -2 map
inline constexpr uint16_t x_offset = 65422;     // SLONG, nm from the slide's centre
inline constexpr uint16_t y_offset = 65423;
inline constexpr uint16_t focal_plane = 65424;      // SLONG: 0 is the focused plane
inline constexpr uint16_t mcu_starts = 65426;       // LONG per tile: restart offsets (low 32 bits)
inline constexpr uint16_t reference = 65427;        // ASCII
inline constexpr uint16_t mcu_starts_high = 65432;  // LONG per tile: their high 32 bits
inline constexpr uint16_t property_map = 65449;     // ASCII "key=value\r\n..."
}  // namespace tag

enum class Role { level, macro };

struct Image {
  Role role = Role::level;
  int directory = 0;
  int64_t width = 0, height = 0;             // as OpenSlide sizes the level
  uint32_t tile_width = 0, tile_height = 0;  // full-resolution pseudo-tile
  int scale = 1;                             // OpenSlide's scale_denom of a derived level
  uint16_t photometric = 6;
  int mcu_width = 8, mcu_height = 8;
  std::vector<std::byte> tile_header;  // the stream's header, frame size = one tile
  std::shared_ptr<const Intervals> intervals;
};

// The image of directory `index`, or nullopt where OpenSlide skips it (other focal planes, the
// map). Throws Error(format / unsupported / limit) naming the directory.
std::optional<Image> read_image(const tiff::TiffFile& tf, const source::ByteStore& file,
                                const tiff::Ifd& ifd, int index);

// The level source serving `image` at its scale.
std::shared_ptr<NdpiLevelSource> make_source(const Image& image,
                                             std::shared_ptr<const source::ByteStore> file);

// A signed integer tag's first value (NDPI's offsets from the slide's centre are negative).
std::optional<int64_t> get_sint(const tiff::TiffFile& tf, const tiff::Ifd& ifd, uint16_t tag);

// Tag 65449's records, as OpenSlide splits them: "\r\n"-separated "key=value", both non-empty.
std::map<std::string, std::string> property_map(const std::string& text);

}  // namespace slidestream::vendor::ndpi
