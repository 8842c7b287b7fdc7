// Ventana BIF's pieces shared by vendor/ventana.cpp (levels), ventana_xml.cpp (the XML) and
// ventana_compose.cpp (levels off the tile grid), as OpenSlide's openslide-vendor-ventana.c
// reads them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "source/level_source.hpp"

namespace slidestream::vendor {

// The iScan element of the first XMLPacket: its attributes as ventana.* properties.
std::map<std::string, std::string> parse_ventana_iscan(std::string_view xml);

// A scanned area of interest of level 0 (EncodeInfo / SlideStitchInfo / ImageInfo).
struct VentanaArea {
  int64_t start_col = 0, start_row = 0;  // in level-0 tiles
  int64_t tiles_across = 0, tiles_down = 0;
  int64_t x = 0, y = 0;  // pixels, y from the top (OpenSlide's conversion of Pos-Y)
};

struct VentanaStitching {
  std::vector<VentanaArea> areas;
  double tile_advance_x = 0, tile_advance_y = 0;  // tile size less the mean overlap
};

// Level 0's XMLPacket; Error(format) naming what is missing or inconsistent.
VentanaStitching parse_ventana_level0(std::string_view xml, int64_t tile_width,
                                      int64_t tile_height);

// A BIF level `stored` (the TIFF's tile grid at a whole `downsample`) as OpenSlide paints its
// scanned tiles: each at its place, over its neighbours where they overlap, resampled where
// that is between pixels (ventana_compose.cpp). Error(format / limit) for lying placements.
std::shared_ptr<source::LevelSource> make_ventana_composed_level(
    std::shared_ptr<const source::LevelSource> stored, const VentanaStitching& bif,
    int64_t downsample, size_t level_index);

}  // namespace slidestream::vendor
