// Ventana BIF and Ventana TIFF (as OpenSlide's openslide-vendor-ventana.c reads them): a TIFF
// whose first XMLPacket holds an iScan element (its attributes are the ventana.* properties).
// Levels are the images described "level=N mag=M", in order and of falling magnification; the
// downsample is level 0's magnification over the level's. "Label Image" is the macro,
// "Thumbnail" the thumbnail.
// A BIF's level 0 also carries an XMLPacket stitching its areas of interest: OpenSlide places
// each scanned tile at its area's position, a tile advance apart (the tile size less the mean
// overlap of the joints), and draws nothing between areas; a level is large enough for every
// placed tile. Where the overlap is 0 and the areas start on the tile grid, a level is a table
// of its stored tiles (tiles in an area are the TIFF's, others missing). Otherwise (tiles drawn
// over one another at the mean advance, at fractional positions resampled on reduced levels;
// areas off their origin's grid) the level is composed as OpenSlide paints it
// (ventana_compose.cpp).
#include "vendor/ventana.hpp"

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

constexpr uint16_t kXmlPacket = 700;

// The XMLPacket of `ifd` up to its first NUL, or nullopt.
std::optional<std::string> xml_packet(const tiff::TiffFile& tf, const tiff::Ifd& ifd) {
  if (!ifd.find(kXmlPacket)) return std::nullopt;
  auto bytes = tf.get_bytes(ifd, kXmlPacket);
  std::string s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return s.substr(0, s.find('\0'));
}

}  // namespace

#if SLIDESTREAM_HAVE_PUGIXML
namespace {

Error ventana_error(ErrorKind kind, const std::string& cause) {
  return Error(kind, "Ventana BIF: " + cause);
}

struct LevelInfo {
  int64_t level = 0;
  double magnification = 0;
};

// "level=N mag=M ..." (OpenSlide's parse_level_info); nullopt where it is not a level.
std::optional<LevelInfo> parse_level_info(const std::string& desc, size_t dir) {
  if (desc.find("level=") == std::string::npos) return std::nullopt;
  std::map<std::string, std::string> fields;
  size_t at = 0;
  while (at <= desc.size()) {
    size_t space = desc.find(' ', at);
    std::string pair = desc.substr(at, space == std::string::npos ? space : space - at);
    if (size_t eq = pair.find('='); eq != std::string::npos) {
      fields[pair.substr(0, eq)] = pair.substr(eq + 1);
    }
    if (space == std::string::npos) break;
    at = space + 1;
  }
  const std::string where = "directory " + std::to_string(dir) + " (\"" + desc + "\")";
  if (!fields.contains("level") || !fields.contains("mag")) {
    throw ventana_error(ErrorKind::format, where + " lacks a level or mag field");
  }
  auto level = tiff::parse_double(fields["level"]);
  auto mag = tiff::parse_double(fields["mag"]);
  if (!level || *level != std::trunc(*level) ||
      fields["level"].find_first_of(".eE") != std::string::npos) {
    throw ventana_error(ErrorKind::format, where + ": invalid level number");
  }
  if (!mag || !(*mag > 0)) throw ventana_error(ErrorKind::format, where + ": invalid mag");
  return LevelInfo{static_cast<int64_t>(*level), *mag};
}

// A BIF level on the tile grid as a table of its stored tiles: level-0 tile (c, r) of an area
// is subtile (c % d, r % d) of this level's TIFF tile (c / d, r / d). Null where a table cannot
// serve it (d does not divide the tile size, or a TIFF tile is partly inside the areas).
std::shared_ptr<source::LevelSource> table_level(const std::shared_ptr<tiff::TiffLevelSource>& src,
                                                 const VentanaStitching& bif, int64_t d,
                                                 size_t index) {
  const Level& in = src->layout();
  const int64_t tw = in.tile_width, th = in.tile_height;
  const std::string where = "level " + std::to_string(index);
  if (tw % d != 0 || th % d != 0) return nullptr;
  int64_t cols = 0, rows = 0;  // level-0 tiles spanned
  for (const auto& a : bif.areas) {
    cols = std::max(cols, a.start_col + a.tiles_across);
    rows = std::max(rows, a.start_row + a.tiles_down);
  }
  Level out = in;
  out.width = (cols * tw + d - 1) / d;
  out.height = (rows * th + d - 1) / d;
  out.tiles_across = (cols + d - 1) / d;
  out.tiles_down = (rows + d - 1) / d;
  source::check_table_size(out.tiles_across, out.tiles_down, "Ventana BIF: " + where);
  std::vector<int> covered(static_cast<size_t>(out.tiles_across * out.tiles_down));
  for (const auto& a : bif.areas) {
    for (int64_t r = a.start_row; r < a.start_row + a.tiles_down; ++r) {
      for (int64_t c = a.start_col; c < a.start_col + a.tiles_across; ++c) {
        ++covered[static_cast<size_t>((r / d) * out.tiles_across + c / d)];
      }
    }
  }
  std::vector<source::ByteRange> tiles(covered.size());
  for (int64_t R = 0; R < out.tiles_down; ++R) {
    for (int64_t C = 0; C < out.tiles_across; ++C) {
      const int n = covered[static_cast<size_t>(R * out.tiles_across + C)];
      if (n == 0) continue;
      const int64_t sub_c = std::min(d, cols - C * d), sub_r = std::min(d, rows - R * d);
      const bool inside_image = std::min((C + 1) * tw, out.width) <= in.width &&
                                std::min((R + 1) * th, out.height) <= in.height;
      if (n != sub_c * sub_r || !inside_image || C >= in.tiles_across || R >= in.tiles_down) {
        return nullptr;
      }
      source::TileBytes b = src->tile(C, R);
      if (!b.missing()) tiles[static_cast<size_t>(R * out.tiles_across + C)] = b.front();
    }
  }
  const auto& tables = src->format().jpeg_tables;
  return std::make_shared<source::TableLevelSource>(
      out, src->format(), std::vector<std::byte>(tables.begin(), tables.end()),
      std::vector<std::shared_ptr<const source::ByteStore>>{
          std::shared_ptr<const source::ByteStore>(src, &src->store(0))},
      std::move(tiles));
}

// Whether the scanned tiles lie on the stored tile grid: no overlap, and every area at its
// origin's grid position. Then reduced levels may be tables of their stored tiles.
bool on_tile_grid(const VentanaStitching& bif, int64_t tw, int64_t th) {
  if (bif.tile_advance_x != static_cast<double>(tw) ||
      bif.tile_advance_y != static_cast<double>(th)) {
    return false;
  }
  return std::all_of(bif.areas.begin(), bif.areas.end(), [&](const VentanaArea& a) {
    return a.x == a.start_col * tw && a.y == a.start_row * th;
  });
}

// A tile advance OpenSlide could place tiles by: positive and less than four tiles.
void check_advance(const VentanaStitching& bif, int64_t tw, int64_t th) {
  const auto plausible = [](double advance, int64_t tile) {
    return advance > 0 && advance < 4.0 * static_cast<double>(tile);
  };
  if (!plausible(bif.tile_advance_x, tw) || !plausible(bif.tile_advance_y, th)) {
    throw ventana_error(ErrorKind::format, "tile advance " +
                                               tiff::format_double(bif.tile_advance_x) + " x " +
                                               tiff::format_double(bif.tile_advance_y) + " for " +
                                               std::to_string(tw) + " x " + std::to_string(th) +
                                               " tiles (the joints' mean overlap) is implausible");
  }
}

// A BIF level: the table of its stored tiles where the scanned tiles lie on the grid, else
// composed as OpenSlide paints them (ventana_compose.cpp).
std::shared_ptr<source::LevelSource> stitched_level(
    const std::shared_ptr<tiff::TiffLevelSource>& src, const VentanaStitching& bif, double ds,
    size_t index) {
  const auto d = static_cast<int64_t>(ds);
  if (ds != static_cast<double>(d) || d < 1) {
    throw ventana_error(ErrorKind::unsupported, "level " + std::to_string(index) + ": downsample " +
                                                    tiff::format_double(ds) +
                                                    " is not a whole number");
  }
  const Level& l = src->layout();
  if (on_tile_grid(bif, l.tile_width, l.tile_height)) {
    if (auto table = table_level(src, bif, d, index)) return table;
  }
  if (auto why = composing_problem(*src)) {
    throw ventana_error(ErrorKind::unsupported, "level " + std::to_string(index) + " " + *why);
  }
  return make_ventana_composed_level(src, bif, d, index);
}

void add_region_properties(const VentanaStitching& bif, int64_t tw, int64_t th, Slide::Impl& s) {
  for (size_t i = 0; i < bif.areas.size(); ++i) {
    const auto& a = bif.areas[i];
    const std::string p = "openslide.region[" + std::to_string(i) + "].";
    s.properties[p + "x"] = std::to_string(static_cast<int64_t>(bif.tile_advance_x * a.start_col));
    s.properties[p + "y"] = std::to_string(static_cast<int64_t>(bif.tile_advance_y * a.start_row));
    s.properties[p + "width"] = std::to_string(static_cast<int64_t>(
        std::ceil(bif.tile_advance_x * static_cast<double>(a.tiles_across - 1) + tw)));
    s.properties[p + "height"] = std::to_string(static_cast<int64_t>(
        std::ceil(bif.tile_advance_y * static_cast<double>(a.tiles_down - 1) + th)));
  }
}

struct Found {
  std::shared_ptr<tiff::TiffLevelSource> source;
  size_t dir = 0;
  double downsample = 1;
};

}  // namespace
#endif  // SLIDESTREAM_HAVE_PUGIXML

std::optional<std::string> detect_ventana(const SlideProbe& probe) {
  if (!probe.tiff) return "not a TIFF file: " + probe.not_tiff;
  auto xml = xml_packet(*probe.tiff, probe.tiff->ifds().front());
  if (!xml || xml->find("iScan") == std::string::npos) {
    return std::string("the first XMLPacket has no iScan element");
  }
  return std::nullopt;
}

void open_ventana(const SlideProbe& probe, Slide::Impl& s) {
#if SLIDESTREAM_HAVE_PUGIXML
  const tiff::TiffFile& tf = *probe.tiff;
  const auto& ifds = tf.ifds();
  auto props = parse_ventana_iscan(*xml_packet(tf, ifds.front()));
  std::optional<VentanaStitching> bif;
  std::vector<Found> levels;
  double prev_mag = INFINITY, mag0 = 0;
  for (size_t dir = 0; dir < ifds.size(); ++dir) {
    const std::string desc = tiff::description_of(tf, ifds[dir]);
    auto info = parse_level_info(desc, dir);
    if (!info) {
      if (desc == "Label Image" || desc == "Label_Image") {
        tiff::add_associated(tf, probe.file, ifds[dir], "macro", s);
      } else if (desc == "Thumbnail") {
        tiff::add_associated(tf, probe.file, ifds[dir], "thumbnail", s);
      }
      continue;
    }
    const std::string where = "directory " + std::to_string(dir);
    if (info->level != static_cast<int64_t>(levels.size())) {
      throw ventana_error(ErrorKind::format, where + " is level " + std::to_string(info->level) +
                                                 ", expected " + std::to_string(levels.size()));
    }
    if (info->magnification >= prev_mag) {
      throw ventana_error(ErrorKind::format, where + ": magnification does not fall");
    }
    prev_mag = info->magnification;
    if (info->level == 0) mag0 = info->magnification;
    if (!tiff::is_tiled(ifds[dir])) throw ventana_error(ErrorKind::format, where + " is not tiled");
    auto src = tiff::TiffLevelSource::load(tf, ifds[dir], probe.file);
    if (!codec::can_decode(src->format())) {
      throw ventana_error(ErrorKind::unsupported,
                          where + ": no decoder for " + to_string(src->layout().compression));
    }
    if (info->level == 0) {
      if (auto xml = xml_packet(tf, ifds[dir])) {
        bif = parse_ventana_level0(*xml, src->layout().tile_width, src->layout().tile_height);
        check_advance(*bif, src->layout().tile_width, src->layout().tile_height);
      }
    } else if (src->layout().tile_width != levels.front().source->layout().tile_width ||
               src->layout().tile_height != levels.front().source->layout().tile_height) {
      throw ventana_error(ErrorKind::format, where + ": tile size differs from level 0's");
    }
    levels.push_back({std::move(src), dir, mag0 / info->magnification});
  }
  if (levels.empty()) throw ventana_error(ErrorKind::format, "no pyramid level");
  std::stable_sort(levels.begin(), levels.end(), [](const Found& a, const Found& b) {
    return a.source->layout().width > b.source->layout().width;
  });
  for (size_t i = 0; i < levels.size(); ++i) {
    s.level_sources.push_back(bif ? stitched_level(levels[i].source, *bif, levels[i].downsample, i)
                                  : levels[i].source);
    s.level_downsamples.push_back(levels[i].downsample);
  }
  const Level& l0 = levels.front().source->layout();
  if (bif) add_region_properties(*bif, l0.tile_width, l0.tile_height, s);
  if (auto it = props.find("ventana.Magnification"); it != props.end()) {
    if (auto v = tiff::parse_double(it->second);
        v && it->second.find_first_not_of("+-0123456789") == std::string::npos) {
      s.objective_power = *v;
    }
  }
  if (auto it = props.find("ventana.ScanRes"); it != props.end()) {
    if (auto v = tiff::parse_double(it->second)) s.mpp_x = s.mpp_y = *v;
  }
  s.properties.insert(props.begin(), props.end());
  s.tiff_property_ifd = levels.front().dir;
#else
  (void)probe;
  (void)s;
  throw Error(ErrorKind::unsupported,
              "Ventana BIF: this slidestream was built without pugixml, which reads its XML");
#endif
}

void finish_ventana(Slide::Impl& s) {
  // A stitched BIF level has no tile size of OpenSlide's (its tiles are placed, not gridded).
  if (!s.properties.contains("openslide.region[0].x")) return;
  for (size_t i = 0; i < s.levels.size(); ++i) {
    const std::string p = "openslide.level[" + std::to_string(i) + "].";
    s.properties.erase(p + "tile-width");
    s.properties.erase(p + "tile-height");
  }
}

}  // namespace slidestream::vendor
