// Philips TIFF's pieces shared by vendor/philips.cpp (levels) and philips_metadata.cpp (XML
// checks, properties, associated images from the XML).
#pragma once

#if SLIDESTREAM_HAVE_PUGIXML

#include <optional>
#include <string_view>

#include "source/slide_impl.hpp"
#include "vendor/vendor_xml.hpp"

namespace slidestream::vendor {

// A DICOM_PIXEL_SPACING value ("\"0.000243\" \"0.000244\"": row spacing, then column spacing,
// in mm), parsed as OpenSlide's parse_pixel_spacing does; nullopt where it does not parse.
struct PhilipsSpacing {
  double w = 0, h = 0;
};
std::optional<PhilipsSpacing> parse_philips_spacing(std::string_view text);

// The root is a DataObject of type DPUfsImport holding exactly one WSI image; Error otherwise.
void check_philips_xml(const pugi::xml_document& doc);
// philips.* from the XML's attributes, then openslide.mpp-x/y, objective-power and barcode.
void add_philips_properties(const pugi::xml_document& doc, Slide::Impl& slide);
// Label and macro from the XML's base64 JPEGs, where no TIFF directory gave them. As in
// OpenSlide, an image that cannot be found or decoded is left out without an error.
void add_philips_xml_associated(const pugi::xml_document& doc, Slide::Impl& slide);

}  // namespace slidestream::vendor

#endif  // SLIDESTREAM_HAVE_PUGIXML
