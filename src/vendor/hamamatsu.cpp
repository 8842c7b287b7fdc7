// Hamamatsu NDPI (as OpenSlide 4.0.1's hamamatsu_ndpi_open reads it): a TIFF in NDPI's 64-bit
// dialect (tiff/tiff_parser_ndpi.cpp) whose every image is one JPEG stream. Directories with a
// SourceLens above 0 and focal plane 0 are pyramid levels, largest first; SourceLens -1 is the
// macro image. A level with restart markers is pseudo-tiled, one tile per restart interval
// (hamamatsu_level_source.hpp), at the offsets tags 65426/65432 record, or, where they are
// missing or miscounted, where a scan of the stream finds the markers. Each level also gives
// OpenSlide's derived levels: libjpeg's 1/2, 1/4 and 1/8 scaled decoding of its tiles, where
// the tile's sides divide evenly; a derived level replaces a level of the same width listed
// before it (OpenSlide keys its levels by width). Properties: hamamatsu.* from the first
// directory's NDPI tags and its property map (tag 65449), objective power from SourceLens, mpp
// from the resolution tags; the driver adds the tiff.* and openslide.* ones.
#include <map>
#include <utility>

#include "slidestream/error.hpp"
#include "tiff/metadata.hpp"
#include "vendor/hamamatsu_ndpi.hpp"
#include "vendor/vendor.hpp"

namespace slidestream::vendor {
namespace {

using ndpi::Image;

void add_level(const Image& image, int scale, std::map<int64_t, Image>& by_width) {
  if (image.tile_width % scale != 0 || image.tile_height % scale != 0) return;
  Image scaled = image;
  scaled.scale = scale;
  by_width.insert_or_assign(image.width / scale, std::move(scaled));
}

// The pyramid as OpenSlide's create_scaled_jpeg_levels builds it.
void add_levels(const SlideProbe& probe, const std::vector<Image>& natives, Slide::Impl& s) {
  std::map<int64_t, Image> by_width;
  for (const Image& image : natives) {
    for (int scale : {1, 2, 4, 8}) add_level(image, scale, by_width);
  }
  for (auto it = by_width.rbegin(); it != by_width.rend(); ++it) {
    s.level_sources.push_back(ndpi::make_source(it->second, probe.file));
  }
}

void set_properties(const tiff::TiffFile& tf, Slide::Impl& s) {
  const tiff::Ifd& first = tf.ifds().front();
  auto& p = s.properties;
  // _openslide_tifflike_set_resolution_props: RATIONALs in double precision.
  const uint64_t unit = tf.get_uint(first, tiff::tag::resolution_unit).value_or(2);
  auto x = tf.get_real(first, tiff::tag::x_resolution);
  auto y = tf.get_real(first, tiff::tag::y_resolution);
  if (x && y && *x != 0 && *y != 0 && (unit == 2 || unit == 3)) {
    s.mpp_x = (unit == 3 ? 10000.0 : 25400.0) / *x;
    s.mpp_y = (unit == 3 ? 10000.0 : 25400.0) / *y;
  }
  if (auto lens = tf.get_real(first, ndpi::tag::source_lens)) {
    p["hamamatsu.SourceLens"] = tiff::format_double(*lens);
    s.objective_power = *lens;
  }
  if (auto v = ndpi::get_sint(tf, first, ndpi::tag::x_offset)) {
    p["hamamatsu.XOffsetFromSlideCentre"] = std::to_string(*v);
  }
  if (auto v = ndpi::get_sint(tf, first, ndpi::tag::y_offset)) {
    p["hamamatsu.YOffsetFromSlideCentre"] = std::to_string(*v);
  }
  if (auto v = tf.get_string(first, ndpi::tag::reference)) p["hamamatsu.Reference"] = *v;
  if (auto map = tf.get_string(first, ndpi::tag::property_map)) {
    for (const auto& [key, value] : ndpi::property_map(*map)) p["hamamatsu." + key] = value;
  }
}

}  // namespace

std::optional<std::string> detect_hamamatsu_ndpi(const SlideProbe& probe) {
  if (!probe.tiff) return "not a TIFF file: " + probe.not_tiff;
  if (!probe.tiff->ndpi()) {
    return "no NDPI format tag (" + std::to_string(tiff::tag::ndpi_format_flag) +
           ") in a 64-bit-offset first directory";
  }
  return std::nullopt;
}

void open_hamamatsu_ndpi(const SlideProbe& probe, Slide::Impl& s) {
  const tiff::TiffFile& tf = *probe.tiff;
  std::vector<Image> natives;
  std::optional<Image> macro;
  const auto& ifds = tf.ifds();
  for (size_t d = 0; d < ifds.size(); ++d) {
    std::optional<Image> image = ndpi::read_image(tf, *probe.file, ifds[d], static_cast<int>(d));
    if (!image) continue;
    if (image->role == ndpi::Role::macro) {
      macro = std::move(image);  // the last wins, as in OpenSlide's table of associated images
      continue;
    }
    if (!natives.empty() && image->width >= natives.back().width) {
      // OpenSlide refuses a slide whose levels do not shrink, "out of paranoia".
      throw Error(ErrorKind::format,
                  "directory " + std::to_string(d) + ": level " + std::to_string(image->width) +
                      " pixels wide after a level of " + std::to_string(natives.back().width) +
                      " (unexpected directory layout)");
    }
    natives.push_back(std::move(*image));
  }
  if (natives.empty()) throw Error(ErrorKind::format, "NDPI without pyramid levels");
  add_levels(probe, natives, s);
  if (macro) {
    auto source = ndpi::make_source(*macro, probe.file);
    source->place_in_pyramid(0, 1.0);
    const Level& l = source->layout();
    s.associated.push_back(
        {.name = "macro", .width = l.width, .height = l.height, .compression = l.compression});
    s.associated_sources.push_back(std::move(source));
    s.properties["openslide.associated.macro.width"] = std::to_string(l.width);
    s.properties["openslide.associated.macro.height"] = std::to_string(l.height);
  }
  set_properties(tf, s);
}

}  // namespace slidestream::vendor
