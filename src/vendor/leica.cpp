// Leica SCN (as OpenSlide's openslide-vendor-leica.c reads it): a tiled TIFF whose first
// ImageDescription is SCN XML in a Leica namespace. The XML's collection is the slide; its
// brightfield images whose view is not the whole collection are the main images (each a region
// of the slide, one TIFF IFD per pyramid level), the one whose view is the whole collection is
// the macro. A level is the collection's canvas at that resolution, with each main image's IFD
// placed at its offset; pixels outside every region are missing (filled), as OpenSlide draws
// nothing there. Where every region starts on region 0's tile grid and ends on it (or at the
// level's edge), stored alike and sharing no grid tile, the stored tiles serve the level as one
// table; otherwise the level is composed from its regions as OpenSlide paints it
// (leica_compose.cpp).
#include "vendor/leica.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "codec/tile_decoder.hpp"
#include "slidestream/error.hpp"
#include "source/table_level_source.hpp"
#include "tiff/metadata.hpp"
#include "tiff/tiff_level_source.hpp"
#include "tiff/tiff_slide.hpp"
#include "vendor/tilemap_compose.hpp"
#include "vendor/vendor.hpp"

namespace slidestream::vendor {
namespace {

constexpr const char* kNamespaceMark = "http://www.leica-microsystems.com/scn/";

}  // namespace

#if SLIDESTREAM_HAVE_PUGIXML
namespace {

// A region farther than this from the canvas's origin (in level pixels) is a lying XML.
constexpr double kMaxOffset = 4e9;

Error leica_error(ErrorKind kind, const std::string& cause) {
  return Error(kind, "Leica SCN: " + cause);
}

struct Area {
  std::shared_ptr<tiff::TiffLevelSource> source;
  size_t ifd = 0;
  int64_t nm_offset_x = 0, nm_offset_y = 0;
  int64_t x = 0, y = 0;  // pixels, once the level's resolution is known
};

struct LeicaLevel {
  double nm_per_pixel = 0;
  std::vector<Area> areas;
};

const tiff::Ifd& ifd_at(const tiff::TiffFile& tf, int64_t index) {
  if (index < 0 || static_cast<size_t>(index) >= tf.ifds().size()) {
    throw leica_error(ErrorKind::format, "the XML names IFD " + std::to_string(index) +
                                             ", but the file has " +
                                             std::to_string(tf.ifds().size()));
  }
  return tf.ifds()[static_cast<size_t>(index)];
}

void set_prop(Slide::Impl& s, const std::string& name, const std::optional<std::string>& v) {
  if (v) s.properties[name] = *v;
}

// The main images' IFDs, level by level (OpenSlide's create_levels_from_collection).
std::vector<LeicaLevel> collect_levels(const SlideProbe& probe, const LeicaCollection& c,
                                       Slide::Impl& s) {
  std::vector<LeicaLevel> levels;
  const LeicaImage* first = nullptr;
  for (const LeicaImage& image : c.images) {
    if (image.is_macro || !image.brightfield()) continue;
    if (!first) {
      first = &image;
      set_prop(s, "leica.aperture", image.aperture);
      set_prop(s, "leica.creation-date", image.creation_date);
      set_prop(s, "leica.device-model", image.device_model);
      set_prop(s, "leica.device-version", image.device_version);
      set_prop(s, "leica.illumination-source", image.illumination_source);
      set_prop(s, "leica.objective", image.objective);
      levels.resize(image.dimensions.size());
    }
    if (image.objective != first->objective ||
        image.dimensions.size() != first->dimensions.size()) {
      throw leica_error(ErrorKind::unsupported,
                        "main images of different objectives or level "
                        "counts (OpenSlide refuses them too)");
    }
    for (size_t i = 0; i < image.dimensions.size(); ++i) {
      const LeicaDimension& d = image.dimensions[i];
      LeicaLevel& l = levels[i];
      if (&image == first) {
        l.nm_per_pixel = d.nm_per_pixel;
      } else {
        const double first_nm = first->dimensions[i].nm_per_pixel;
        if (1 - std::fabs(d.nm_per_pixel - first_nm) / first_nm < 0.98) {
          throw leica_error(ErrorKind::format, "main images of inconsistent resolutions");
        }
        l.nm_per_pixel = std::min(l.nm_per_pixel, d.nm_per_pixel);
      }
      Area a;
      a.ifd = static_cast<size_t>(d.ifd);
      a.source = tiff::TiffLevelSource::load(*probe.tiff, ifd_at(*probe.tiff, d.ifd), probe.file);
      a.nm_offset_x = image.nm_offset_x;
      a.nm_offset_y = image.nm_offset_y;
      l.areas.push_back(std::move(a));
    }
  }
  if (!first) throw leica_error(ErrorKind::format, "no brightfield main image");
  if (first->objective) {
    if (auto v = tiff::parse_double(*first->objective);
        v && *v == std::trunc(*v) &&
        first->objective->find_first_not_of("+-0123456789") == std::string::npos) {
      s.objective_power = *v;
    }
  }
  return levels;
}

std::string region_name(size_t level, size_t area) {
  return "level " + std::to_string(level) + " region " + std::to_string(area);
}

// Where each region lands on the level: its offset in whole pixels, truncated as OpenSlide's
// int64 assignment of nm / (nm per pixel) truncates it.
void place_regions(LeicaLevel& l, size_t index) {
  for (size_t n = 0; n < l.areas.size(); ++n) {
    Area& a = l.areas[n];
    const double x = a.nm_offset_x / l.nm_per_pixel, y = a.nm_offset_y / l.nm_per_pixel;
    if (!(std::fabs(x) < kMaxOffset) || !(std::fabs(y) < kMaxOffset)) {
      throw leica_error(ErrorKind::format, region_name(index, n) + " is placed at (" +
                                               tiff::format_double(x) + ", " +
                                               tiff::format_double(y) + ") px: implausible");
    }
    a.x = static_cast<int64_t>(x);
    a.y = static_cast<int64_t>(y);
  }
}

// True where region n is stored as region 0 is (tile size, codec, JPEG tables): one tile
// table can then serve both.
bool stored_alike(const source::LevelSource& a, const source::LevelSource& b) {
  const Level &la = a.layout(), &lb = b.layout();
  const auto &fa = a.format(), &fb = b.format();
  return la.tile_width == lb.tile_width && la.tile_height == lb.tile_height &&
         fa.compression == fb.compression && fa.photometric == fb.photometric &&
         la.dtype == lb.dtype && la.channels == lb.channels &&
         std::equal(fa.jpeg_tables.begin(), fa.jpeg_tables.end(), fb.jpeg_tables.begin(),
                    fb.jpeg_tables.end());
}

// The level as one tile grid over the canvas, region 0's: every region stored alike, starting
// on the grid and ending on it (or past the canvas edge), no two sharing a grid tile. Then the
// stored tiles serve the level directly (the fast paths, GPU decoding); else it is composed.
bool on_one_grid(const LeicaLevel& l, const Level& layout) {
  const source::LevelSource& first = *l.areas.front().source;
  const int64_t tw = layout.tile_width, th = layout.tile_height;
  std::vector<bool> taken(static_cast<size_t>(layout.tiles_across * layout.tiles_down));
  for (const Area& a : l.areas) {
    const Level& al = a.source->layout();
    const bool ends_x = a.x + al.width >= layout.width || al.width % tw == 0;
    const bool ends_y = a.y + al.height >= layout.height || al.height % th == 0;
    if (!stored_alike(*a.source, first) || a.x < 0 || a.y < 0 || a.x % tw != 0 || a.y % th != 0 ||
        !ends_x || !ends_y) {
      return false;
    }
    for (int64_t row = 0; row < al.tiles_down; ++row) {
      for (int64_t col = 0; col < al.tiles_across; ++col) {
        const int64_t gc = a.x / tw + col, gr = a.y / th + row;
        if (gc >= layout.tiles_across || gr >= layout.tiles_down) continue;
        const size_t i = static_cast<size_t>(gr * layout.tiles_across + gc);
        if (taken[i]) return false;
        taken[i] = true;
      }
    }
  }
  return true;
}

// The on-grid level: a table of the regions' stored tiles, each at its grid position.
std::shared_ptr<source::LevelSource> grid_level(const LeicaLevel& l, const Level& layout) {
  const int64_t tw = layout.tile_width, th = layout.tile_height;
  std::vector<source::ByteRange> tiles(
      static_cast<size_t>(layout.tiles_across * layout.tiles_down));
  for (const Area& a : l.areas) {
    const Level& al = a.source->layout();
    for (int64_t row = 0; row < al.tiles_down; ++row) {
      for (int64_t col = 0; col < al.tiles_across; ++col) {
        const int64_t gc = a.x / tw + col, gr = a.y / th + row;
        if (gc >= layout.tiles_across || gr >= layout.tiles_down) continue;
        source::TileBytes b = a.source->tile(col, row);
        if (!b.missing()) tiles[static_cast<size_t>(gr * layout.tiles_across + gc)] = b.front();
      }
    }
  }
  const source::LevelSource& first = *l.areas.front().source;
  const auto& tables = first.format().jpeg_tables;
  std::vector<std::shared_ptr<const source::ByteStore>> stores;
  for (size_t i = 0; i < first.store_count(); ++i) {
    stores.push_back(
        std::shared_ptr<const source::ByteStore>(l.areas.front().source, &first.store(i)));
  }
  return std::make_shared<source::TableLevelSource>(
      layout, first.format(), std::vector<std::byte>(tables.begin(), tables.end()),
      std::move(stores), std::move(tiles));
}

// The level off the grid: composed from its regions as OpenSlide paints them.
std::shared_ptr<source::LevelSource> composed_level(const LeicaLevel& l, const Level& layout,
                                                    size_t index) {
  std::vector<LeicaPlacedRegion> regions;
  for (size_t n = 0; n < l.areas.size(); ++n) {
    const Area& a = l.areas[n];
    if (auto why = composing_problem(*a.source)) {
      throw leica_error(ErrorKind::unsupported, region_name(index, n) + " " + *why);
    }
    regions.push_back({a.source, a.x, a.y});
  }
  return make_leica_composed_level(layout.width, layout.height, std::move(regions), index);
}

// Level `index`: the collection's canvas at the level's resolution, each region at its offset.
std::shared_ptr<source::LevelSource> build_level(const LeicaCollection& c, LeicaLevel& l,
                                                 size_t index) {
  Level layout = l.areas.front().source->layout();
  layout.width = static_cast<int64_t>(std::ceil(c.nm_across / l.nm_per_pixel));
  layout.height = static_cast<int64_t>(std::ceil(c.nm_down / l.nm_per_pixel));
  layout.tiles_across = (layout.width + layout.tile_width - 1) / layout.tile_width;
  layout.tiles_down = (layout.height + layout.tile_height - 1) / layout.tile_height;
  source::check_table_size(layout.tiles_across, layout.tiles_down,
                           "Leica SCN: level " + std::to_string(index) + " (" +
                               std::to_string(layout.width) + " x " +
                               std::to_string(layout.height) + " px)");
  place_regions(l, index);
  if (on_one_grid(l, layout)) return grid_level(l, layout);
  return composed_level(l, layout, index);
}

void add_macro(const SlideProbe& probe, const LeicaCollection& c, Slide::Impl& s) {
  bool have = false;
  for (const LeicaImage& image : c.images) {
    if (!image.is_macro || !image.brightfield()) continue;
    if (have) throw leica_error(ErrorKind::format, "more than one macro image");
    have = true;
    const tiff::Ifd& ifd = ifd_at(*probe.tiff, image.dimensions.front().ifd);
    tiff::add_associated(*probe.tiff, probe.file, ifd, "macro", s);
  }
}

// openslide.region[n].* and openslide.bounds-*, from level 0's regions.
void add_region_properties(const LeicaLevel& level0, Slide::Impl& s) {
  int64_t x0 = INT64_MAX, y0 = INT64_MAX, x1 = INT64_MIN, y1 = INT64_MIN;
  for (size_t n = 0; n < level0.areas.size(); ++n) {
    const Area& a = level0.areas[n];
    const Level& l = a.source->layout();
    const std::string p = "openslide.region[" + std::to_string(n) + "].";
    s.properties[p + "x"] = std::to_string(a.x);
    s.properties[p + "y"] = std::to_string(a.y);
    s.properties[p + "width"] = std::to_string(l.width);
    s.properties[p + "height"] = std::to_string(l.height);
    x0 = std::min(x0, a.x);
    y0 = std::min(y0, a.y);
    x1 = std::max(x1, a.x + l.width);
    y1 = std::max(y1, a.y + l.height);
  }
  s.properties["openslide.bounds-x"] = std::to_string(x0);
  s.properties["openslide.bounds-y"] = std::to_string(y0);
  s.properties["openslide.bounds-width"] = std::to_string(x1 - x0);
  s.properties["openslide.bounds-height"] = std::to_string(y1 - y0);
}

}  // namespace
#endif  // SLIDESTREAM_HAVE_PUGIXML

std::optional<std::string> detect_leica(const SlideProbe& probe) {
  if (!probe.tiff) return "not a TIFF file: " + probe.not_tiff;
  if (auto why = tiff::first_ifd_untiled(*probe.tiff)) return why;
  const std::string desc = tiff::description_of(*probe.tiff, probe.tiff->ifds().front());
  if (desc.find(kNamespaceMark) == std::string::npos) {
    return std::string("ImageDescription has no Leica SCN XML namespace");
  }
  return std::nullopt;
}

void open_leica(const SlideProbe& probe, Slide::Impl& s) {
#if SLIDESTREAM_HAVE_PUGIXML
  const tiff::TiffFile& tf = *probe.tiff;
  LeicaCollection c = parse_leica_xml(tiff::description_of(tf, tf.ifds().front()));
  if (c.nm_across <= 0 || c.nm_down <= 0) {
    throw leica_error(ErrorKind::format, "the collection's size is not positive");
  }
  set_prop(s, "leica.barcode", c.barcode);
  set_prop(s, "openslide.barcode", c.barcode);
  std::vector<LeicaLevel> levels = collect_levels(probe, c, s);
  for (size_t i = 0; i < levels.size(); ++i) {
    if (!(levels[i].nm_per_pixel > 0) || !std::isfinite(levels[i].nm_per_pixel) ||
        c.nm_across / levels[i].nm_per_pixel > 4e9 || c.nm_down / levels[i].nm_per_pixel > 4e9) {
      throw leica_error(ErrorKind::format, "level " + std::to_string(i) + " has " +
                                               std::to_string(levels[i].nm_per_pixel) +
                                               " nm per pixel");
    }
    s.level_sources.push_back(build_level(c, levels[i], i));
  }
  add_macro(probe, c, s);
  add_region_properties(levels.front(), s);
  s.tiff_property_ifd = levels.front().areas.front().ifd;
  tiff::set_resolution_mpp(tf, tf.ifds()[s.tiff_property_ifd], s);
#else
  (void)probe;
  (void)s;
  throw Error(ErrorKind::unsupported,
              "Leica SCN: this slidestream was built without pugixml, which reads its XML");
#endif
}

void finish_leica(Slide::Impl& s) {
  // OpenSlide keeps the XML out of the properties (in case level 0 is also directory 0), and
  // gives a level made of regions no tile size.
  s.properties.erase("openslide.comment");
  s.properties.erase("tiff.ImageDescription");
  for (size_t i = 0; i < s.levels.size(); ++i) {
    const std::string p = "openslide.level[" + std::to_string(i) + "].";
    s.properties.erase(p + "tile-width");
    s.properties.erase(p + "tile-height");
  }
}

}  // namespace slidestream::vendor
