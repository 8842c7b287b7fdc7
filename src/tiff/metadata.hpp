// Slide metadata in OpenSlide's conventions: Aperio ImageDescription key=value pairs, OME-XML
// physical sizes and magnification, TIFF resolution tags, and number formatting that matches
// OpenSlide's property strings.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slidestream::tiff {

// OpenSlide's _openslide_format_double: printf "%.17g" in the C locale.
std::string format_double(double value);
// OpenSlide's _openslide_parse_double: ',' taken as '.', whole string must be a finite number.
std::optional<double> parse_double(std::string_view text);

// "aperio.KEY" -> value for every "|KEY = VALUE" field after the first, stripped of whitespace
// (OpenSlide's add_properties in openslide-vendor-aperio.c).
std::map<std::string, std::string> aperio_properties(const std::string& description);
// The associated-image name Aperio writes as the first word of the description's second line
// ("label 387x463" -> "label"); nullopt where there is none.
std::optional<std::string> aperio_associated_name(const std::string& description);

// True where the description is OME-XML.
bool is_ome_xml(std::string_view description);

struct OmeImage {
  std::string name;
  int64_t first_ifd = -1;  // TiffData IFD of the image's first plane; -1 if not given
};

struct OmeMetadata {
  std::optional<double> mpp_x, mpp_y;     // PhysicalSizeX/Y of the first image, in µm
  std::optional<double> objective_power;  // NominalMagnification of its objective
  // SizeC, SizeZ, SizeT of the first image (1 where absent).
  uint64_t size_c = 1, size_z = 1, size_t = 1;
  std::vector<OmeImage> images;
};

// A forgiving scan of the few elements and attributes we need; malformed XML gives what could
// be found, never an exception.
OmeMetadata parse_ome_xml(std::string_view xml);

// Microns per pixel from a TIFF X/YResolution value and ResolutionUnit (2 inch, 3 centimeter),
// as OpenSlide 4 computes it; nullopt for unit "none" or a non-positive resolution.
std::optional<double> resolution_to_mpp(double resolution, uint64_t unit);

}  // namespace slidestream::tiff
