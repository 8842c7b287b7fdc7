// The TIFF vendors' shared steps (tiff/tiff_slide.hpp).
#include "tiff/tiff_slide.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "tiff/metadata.hpp"
#include "tiff/tiff_level_source.hpp"

namespace slidestream::tiff {

bool is_tiled(const Ifd& ifd) {
  return ifd.find(tag::tile_width) != nullptr || ifd.find(tag::tile_offsets) != nullptr;
}

std::string description_of(const TiffFile& tf, const Ifd& ifd) {
  return tf.get_string(ifd, tag::image_description).value_or("");
}

std::optional<std::string> first_ifd_untiled(const TiffFile& tf) {
  const Ifd& first = tf.ifds().front();
  if (is_tiled(first)) return std::nullopt;
  auto w = tf.get_uint(first, tag::image_width).value_or(0);
  auto h = tf.get_uint(first, tag::image_length).value_or(0);
  auto c = tf.get_uint(first, tag::compression).value_or(1);
  return "the first image (" + std::to_string(w) + " x " + std::to_string(h) + ", " +
         to_string(static_cast<Compression>(static_cast<uint16_t>(c))) +
         ") is stored in strips, not tiles";
}

void add_levels(const TiffFile& tf, const std::shared_ptr<const source::ByteStore>& store,
                const std::vector<const Ifd*>& ifds, Slide::Impl& s, bool sort) {
  std::vector<std::shared_ptr<source::LevelSource>> sources;
  sources.reserve(ifds.size());
  for (const Ifd* ifd : ifds) sources.push_back(TiffLevelSource::load(tf, *ifd, store));
  if (sort) {
    // Largest first, as OpenSlide's generic-tiff sorts its levels by width.
    std::stable_sort(sources.begin(), sources.end(), [](const auto& a, const auto& b) {
      return a->layout().width > b->layout().width;
    });
  }
  for (auto& source : sources) s.level_sources.push_back(std::move(source));
}

void add_associated(const TiffFile& tf, const std::shared_ptr<const source::ByteStore>& store,
                    const Ifd& ifd, const std::string& name, Slide::Impl& s) {
  for (const auto& a : s.associated) {
    if (a.name == name) return;  // the first image of a name wins
  }
  std::shared_ptr<TiffLevelSource> source = TiffLevelSource::load(tf, ifd, store);
  source->place_in_pyramid(static_cast<int>(s.associated.size()), 1.0);
  const Level& l = source->layout();
  s.associated.push_back(
      {.name = name, .width = l.width, .height = l.height, .compression = l.compression});
  s.associated_sources.push_back(std::move(source));
}

void set_resolution_mpp(const TiffFile& tf, Slide::Impl& s) {
  set_resolution_mpp(tf, tf.ifds().front(), s);
}

void set_resolution_mpp(const TiffFile& tf, const Ifd& first, Slide::Impl& s) {
  uint64_t unit = tf.get_uint(first, tag::resolution_unit).value_or(2);
  // libtiff keeps resolutions as float; OpenSlide divides by that float.
  auto as_float = [](std::optional<double> v) -> std::optional<double> {
    if (!v) return v;
    return static_cast<double>(static_cast<float>(*v));
  };
  if (auto x = as_float(tf.get_real(first, tag::x_resolution))) {
    s.mpp_x = resolution_to_mpp(*x, unit);
  }
  if (auto y = as_float(tf.get_real(first, tag::y_resolution))) {
    s.mpp_y = resolution_to_mpp(*y, unit);
  }
}

namespace {

// The tiff.* properties of openslide-decode-tiff.c's _openslide_tiff_init_properties_and_hash.
void add_tiff_properties(const TiffFile& tf, const Ifd& first,
                         std::map<std::string, std::string>& p) {
  if (auto d = tf.get_string(first, tag::image_description)) {
    p["openslide.comment"] = *d;
    p["tiff.ImageDescription"] = *d;
  }
  static constexpr std::array<std::pair<uint16_t, const char*>, 8> kStrings = {{
      {tag::make, "tiff.Make"},
      {tag::model, "tiff.Model"},
      {tag::software, "tiff.Software"},
      {tag::date_time, "tiff.DateTime"},
      {tag::artist, "tiff.Artist"},
      {tag::host_computer, "tiff.HostComputer"},
      {tag::copyright, "tiff.Copyright"},
      {tag::document_name, "tiff.DocumentName"},
  }};
  for (const auto& [t, name] : kStrings) {
    if (auto v = tf.get_string(first, t)) p[name] = *v;
  }
  // libtiff keeps resolutions as float; OpenSlide's own parser, which reads NDPI, as double.
  auto resolution = [&](double v) { return tf.ndpi() ? v : static_cast<float>(v); };
  if (auto x = tf.get_real(first, tag::x_resolution)) {
    p["tiff.XResolution"] = format_double(resolution(*x));
  }
  if (auto y = tf.get_real(first, tag::y_resolution)) {
    p["tiff.YResolution"] = format_double(resolution(*y));
  }
  uint64_t unit = tf.get_uint(first, tag::resolution_unit).value_or(2);
  p["tiff.ResolutionUnit"] = unit == 1   ? "none"
                             : unit == 2 ? "inch"
                             : unit == 3 ? "centimeter"
                                         : "unknown";
}

}  // namespace

// openslide.quickhash-1 is left out: it hashes the lowest level's raw tiles with SHA-256 and
// no consumer of ours needs it.
void add_common_properties(const TiffFile& tf, Slide::Impl& s) {
  auto& p = s.properties;
  p["openslide.vendor"] = s.format;
  const auto& ifds = tf.ifds();
  add_tiff_properties(tf, ifds[s.tiff_property_ifd < ifds.size() ? s.tiff_property_ifd : 0], p);
  p["openslide.level-count"] = std::to_string(s.levels.size());
  for (const Level& lv : s.levels) {
    std::string prefix = "openslide.level[" + std::to_string(lv.index) + "].";
    p[prefix + "width"] = std::to_string(lv.width);
    p[prefix + "height"] = std::to_string(lv.height);
    p[prefix + "downsample"] = format_double(lv.downsample);
    p[prefix + "tile-width"] = std::to_string(lv.tile_width);
    p[prefix + "tile-height"] = std::to_string(lv.tile_height);
  }
  if (s.mpp_x) p["openslide.mpp-x"] = format_double(*s.mpp_x);
  if (s.mpp_y) p["openslide.mpp-y"] = format_double(*s.mpp_y);
  if (s.objective_power) p["openslide.objective-power"] = format_double(*s.objective_power);
}

}  // namespace slidestream::tiff
