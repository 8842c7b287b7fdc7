// Leica SCN's pieces shared by vendor/leica.cpp (levels) and leica_xml.cpp (the XML): the
// collection the ImageDescription describes, as OpenSlide's openslide-vendor-leica.c reads it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace slidestream::vendor
