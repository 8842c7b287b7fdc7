// Philips TIFF (as OpenSlide's openslide-vendor-philips-tiff.c reads it): a TIFF whose Software
// starts with "Philips" and whose first ImageDescription is a DataObject of type DPUfsImport.
// Levels are the tiled images of the main chain, largest first, each after the first
// reduced-resolution. Philips pads every level to whole tiles and writes the padded size into
// the TIFF; the true size comes from the XML's pixel spacing per level, as OpenSlide fixes it:
// the downsample is the rounded spacing ratio and a level is level 0's size over it. Tiles the
// scanner left out (slides with several regions of interest are sparse) are missing tiles.
// Label and macro come from stripped images whose description starts "Label" / "Macro", else
// from base64 JPEGs in the XML (philips_metadata.cpp, which also has the properties).
#include "vendor/philips.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "codec/tile_decoder.hpp"
#include "slidestream/error.hpp"
#include "source/table_level_source.hpp"
#include "tiff/metadata.hpp"
#include "tiff/tiff_level_source.hpp"
#include "tiff/tiff_slide.hpp"
#include "vendor/vendor.hpp"
#include "vendor/vendor_xml.hpp"

namespace slidestream::vendor {
#if SLIDESTREAM_HAVE_PUGIXML
namespace {

constexpr const char* kPixelSpacingXpath =
    "/DataObject/Attribute[@Name='PIM_DP_SCANNED_IMAGES']/Array"
    "/DataObject[Attribute/@Name='PIM_DP_IMAGE_TYPE' and Attribute/text()='WSI'][1]"
    "/Attribute[@Name='PIIM_PIXEL_DATA_REPRESENTATION_SEQUENCE']/Array"
    "/DataObject[@ObjectType='PixelDataRepresentation']"
    "/Attribute[@Name='DICOM_PIXEL_SPACING']";

Error philips_error(const std::string& cause) {
  return Error(ErrorKind::format, "Philips TIFF: " + cause);
}

// One level per tiled image of the main chain, checked as OpenSlide checks them.
std::vector<std::shared_ptr<tiff::TiffLevelSource>> load_levels(const SlideProbe& probe,
                                                                Slide::Impl& s) {
  const tiff::TiffFile& tf = *probe.tiff;
  std::vector<std::shared_ptr<tiff::TiffLevelSource>> levels;
  const auto& ifds = tf.ifds();
  for (size_t dir = 0; dir < ifds.size(); ++dir) {
    const tiff::Ifd& ifd = ifds[dir];
    if (!tiff::is_tiled(ifd)) {
      std::string desc = tiff::description_of(tf, ifd);
      if (desc.starts_with("Label")) tiff::add_associated(tf, probe.file, ifd, "label", s);
      if (desc.starts_with("Macro")) tiff::add_associated(tf, probe.file, ifd, "macro", s);
      continue;
    }
    const std::string where = "directory " + std::to_string(dir);
    if (!levels.empty() && (tf.get_uint(ifd, tiff::tag::new_subfile_type).value_or(0) & 1) == 0) {
      throw philips_error(where + " is tiled but not reduced-resolution");
    }
    auto level = tiff::TiffLevelSource::load(tf, ifd, probe.file);
    if (!codec::can_decode(level->format())) {
      throw Error(ErrorKind::unsupported, "Philips TIFF: " + where + ": no decoder for " +
                                              to_string(level->layout().compression) + " tiles");
    }
    if (!levels.empty() && (level->layout().width > levels.back()->layout().width ||
                            level->layout().height > levels.back()->layout().height)) {
      throw philips_error(where + " is larger than the level before it");
    }
    levels.push_back(std::move(level));
  }
  return levels;
}

// OpenSlide's fix_level_dimensions: the XML's spacing per level gives each level's downsample
// (rounded to an integer) and true size (level 0's over the downsample).
void clip_levels(const pugi::xml_document& doc,
                 const std::vector<std::shared_ptr<tiff::TiffLevelSource>>& levels,
                 Slide::Impl& s) {
  auto spacings = select_nodes(doc, kPixelSpacingXpath);
  if (spacings.size() != levels.size()) {
    throw philips_error("the XML gives " + std::to_string(spacings.size()) +
                        " pixel spacings (DICOM_PIXEL_SPACING) for " +
                        std::to_string(levels.size()) + " tiled levels");
  }
  const Level& base = levels.front()->layout();
  std::optional<PhilipsSpacing> l0;
  for (size_t i = 0; i < levels.size(); ++i) {
    auto spacing = parse_philips_spacing(node_content(spacings[i]));
    if (!spacing) {
      throw philips_error("level " + std::to_string(i) + ": cannot parse pixel spacing \"" +
                          node_content(spacings[i]) + "\"");
    }
    if (i == 0) {
      l0 = spacing;
      s.level_sources.push_back(levels[i]);
      s.level_downsamples.push_back(1.0);
      continue;
    }
    const double ds = std::round((spacing->w / l0->w + spacing->h / l0->h) / 2);
    const double w = static_cast<double>(base.width) / ds;
    const double h = static_cast<double>(base.height) / ds;
    if (!std::isfinite(ds) || ds < 1 || !(w >= 1) || !(h >= 1)) {
      throw philips_error("level " + std::to_string(i) + ": pixel spacing \"" +
                          node_content(spacings[i]) + "\" gives downsample " +
                          tiff::format_double(ds) + " from level 0's");
    }
    s.level_sources.push_back(
        source::resized_level(levels[i], static_cast<int64_t>(w), static_cast<int64_t>(h)));
    s.level_downsamples.push_back(ds);
  }
}

}  // namespace
#endif  // SLIDESTREAM_HAVE_PUGIXML

std::optional<std::string> detect_philips(const SlideProbe& probe) {
  if (!probe.tiff) return "not a TIFF file: " + probe.not_tiff;
  const tiff::TiffFile& tf = *probe.tiff;
  auto software = tf.get_string(tf.ifds().front(), tiff::tag::software);
  if (!software || !software->starts_with("Philips")) {
    return std::string("Software does not start with \"Philips\"");
  }
  // OpenSlide also parses the XML here; a Philips file whose XML is damaged is refused at open
  // with the parser's error rather than read as a generic TIFF.
  if (tiff::description_of(tf, tf.ifds().front()).find("DPUfsImport") == std::string::npos) {
    return std::string("ImageDescription is not a Philips DPUfsImport DataObject");
  }
  return std::nullopt;
}

void open_philips(const SlideProbe& probe, Slide::Impl& s) {
#if SLIDESTREAM_HAVE_PUGIXML
  const tiff::TiffFile& tf = *probe.tiff;
  auto doc = parse_xml(tiff::description_of(tf, tf.ifds().front()), "the Philips ImageDescription");
  check_philips_xml(*doc);
  auto levels = load_levels(probe, s);
  if (levels.empty()) throw philips_error("no tiled image");
  clip_levels(*doc, levels, s);
  add_philips_properties(*doc, s);
  add_philips_xml_associated(*doc, s);
#else
  (void)probe;
  (void)s;
  throw Error(ErrorKind::unsupported,
              "Philips TIFF: this slidestream was built without pugixml, which reads its XML");
#endif
}

void finish_philips(Slide::Impl& s) {
  // OpenSlide keeps the XML out of the properties (it is in philips.* already).
  s.properties.erase("openslide.comment");
  s.properties.erase("tiff.ImageDescription");
}

}  // namespace slidestream::vendor
