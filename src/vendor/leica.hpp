// Leica SCN's pieces shared by vendor/leica.cpp (levels), leica_xml.cpp (the XML: the collection
// the ImageDescription describes, as OpenSlide's openslide-vendor-leica.c reads it) and
// leica_compose.cpp (levels whose regions are off the tile grid).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "source/level_source.hpp"

namespace slidestream::vendor {

struct LeicaDimension {
  int64_t ifd = 0;
  int64_t width = 0, height = 0;
  double nm_per_pixel = 0;
};

struct LeicaImage {
  std::optional<std::string> creation_date, device_model, device_version, illumination_source,
      objective, aperture;
  int64_t nm_across = 0, nm_down = 0, nm_offset_x = 0, nm_offset_y = 0;
  bool is_macro = false;                   // the view is the whole collection
  std::vector<LeicaDimension> dimensions;  // z-plane 0, widest first
  bool brightfield() const { return illumination_source == "brightfield"; }
};

struct LeicaCollection {
  std::optional<std::string> barcode;
  int64_t nm_across = 0, nm_down = 0;
  std::vector<LeicaImage> images;
};

// Parses the SCN XML (either Leica namespace); Error(format) naming what is missing or bad.
LeicaCollection parse_leica_xml(std::string_view xml);

// One region of a level (its IFD's tiles) placed at (x, y) of the level's canvas.
struct LeicaPlacedRegion {
  std::shared_ptr<const source::LevelSource> source;
  int64_t x = 0, y = 0;
};

// A level width × height whose regions (in the XML's order: the first is on top where they
// overlap) do not lie on one tile grid, composed as OpenSlide paints it (leica_compose.cpp).
std::shared_ptr<source::LevelSource> make_leica_composed_level(
    int64_t width, int64_t height, std::vector<LeicaPlacedRegion> regions, size_t level_index);

}  // namespace slidestream::vendor
