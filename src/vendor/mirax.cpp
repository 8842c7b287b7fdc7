// 3DHISTECH MIRAX (as OpenSlide 4.0.1's openslide-vendor-mirax.c reads it): NAME.mrxs beside a
// directory NAME/ with Slidedat.ini (a key file: geometry, levels, data files, the non-
// hierarchical records' names), an index file (Index.dat: linked pages of records saying where
// each level's JPEG images are: data file, offset, length) and the data files.
//
// The scanner's camera photographs the slide at positions it records (the VIMSLIDE_POSITION_
// BUFFER record, or the deflated StitchingIntensityLayer one; without either, a grid at the
// nominal overlap); each photo is cut into CameraImageDivisionsPerSide² images, and each higher
// level halves and concatenates 2×2 images. OpenSlide places every image (or, once an image
// spans several photos, every photo's share of it) at its photo's position in a tilemap, at
// (column, row) × the tile advance plus an offset, and paints overlaps with the largest
// (row, column) on top (read_tiles walks rows and columns backwards; SATURATE keeps the first
// opaque paint). We build the same placements (mirax_level_source.hpp composes them).
// Where a placement falls between pixels (fractional positions, advances or tile sizes),
// OpenSlide resamples the image with cairo's bilinear filter: mirax_resample.hpp redoes it
// bit for bit. Only JPEG images are read (PNG and BMP24 are refused).
// Properties: mirax.GROUP.KEY for every key of Slidedat.ini, mpp from level 0's section,
// objective power, background colour, bounds, the level properties.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "codec/jpeg_frame.hpp"
#include "slidestream/error.hpp"
#include "source/table_level_source.hpp"
#include "tiff/metadata.hpp"
#include "vendor/mirax_keyfile.hpp"
#include "vendor/mirax_level_source.hpp"
#include "vendor/vendor.hpp"

namespace slidestream::vendor {
namespace {

using mirax::KeyFile;

constexpr const char* kGeneral = "GENERAL";
constexpr const char* kHierarchical = "HIERARCHICAL";
constexpr const char* kDatafile = "DATAFILE";
constexpr const char* kIndexVersion = "01.02";
constexpr uint64_t kMaxIndexBytes = uint64_t{256} << 20;
// Camera positions (and images across × down) a slide may claim: 2^24 is 4,096 × 4,096 photos,
// far beyond a real slide; more is a lying Slidedat.ini, not a reason to allocate gigabytes.
constexpr int64_t kMaxPositions = int64_t{1} << 24;
constexpr int64_t kMaxPlacements = int64_t{1} << 24;
// Where an image may be placed (level pixels, either way): far past any real level (2^40 px),
// and small enough that its place in 16.16 fixed point stays well inside 64 bits.
constexpr double kMaxPlace = 1099511627776.0;

Error mirax_error(ErrorKind kind, const std::string& cause) {
  return Error(kind, "MIRAX: " + cause);
}

std::filesystem::path slide_directory(const std::filesystem::path& mrxs) {
  std::string s = mrxs.string();
  return s.substr(0, s.size() - 5);
}

// Index.dat in memory, every read bounds-checked.
class IndexFile {
 public:
  explicit IndexFile(const std::filesystem::path& path) : name_(path.filename().string()) {
    std::optional<source::FileStore> opened;
    try {
      opened.emplace(path);
    } catch (const Error& e) {
      throw mirax_error(e.kind(), "index file " + name_ + " cannot be opened: " + e.cause());
    }
    const source::FileStore& store = *opened;
    if (store.size() > kMaxIndexBytes) {
      throw mirax_error(ErrorKind::limit, name_ + " is " + std::to_string(store.size()) +
                                              " bytes, more than an index may be (256 MiB)");
    }
    bytes_.resize(static_cast<size_t>(store.size()));
    store.read_exact(bytes_, 0);
  }
  size_t size() const { return bytes_.size(); }
  std::string_view text(size_t at, size_t n) const {
    if (at > bytes_.size() || n > bytes_.size() - at) return {};
    return {reinterpret_cast<const char*>(bytes_.data() + at), n};
  }
  int32_t i32(int64_t at, const std::string& what) const {
    if (at < 0 || static_cast<uint64_t>(at) + 4 > bytes_.size()) {
      throw mirax_error(ErrorKind::format, name_ + ": " + what + " at offset " +
                                               std::to_string(at) + " lies past its end (" +
                                               std::to_string(bytes_.size()) + " bytes)");
    }
    const auto* p = reinterpret_cast<const uint8_t*>(bytes_.data() + at);
    return static_cast<int32_t>(uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                                uint32_t{p[3]} << 24);
  }
  Error error(const std::string& cause) const {
    return mirax_error(ErrorKind::format, name_ + ": " + cause);
  }

 private:
  std::string name_;
  std::vector<std::byte> bytes_;
};

struct NonhierRecord {
  int64_t offset = 0, size = 0;
  int32_t datafile = 0;
};

// read_nonhier_record: root → table of record pointers → [0, page] → [count, next, 0, 0,
// offset, size, fileno].
NonhierRecord read_nonhier(const IndexFile& index, int64_t root, int record, int datafiles) {
  const std::string what = "non-hierarchical record " + std::to_string(record);
  const int64_t table = index.i32(root, "non-hierarchical root");
  const int64_t head = index.i32(table + 4 * int64_t{record}, what + "'s pointer");
  if (index.i32(head, what) != 0)
    throw index.error(what + ": expected 0 at the start of its data page");
  const int64_t page = index.i32(head + 4, what + "'s page pointer");
  if (index.i32(page, what + "'s page") < 1) throw index.error(what + ": page holds no item");
  if (index.i32(page + 8, what) != 0 || index.i32(page + 12, what) != 0) {
    throw index.error(what + ": expected two 0 values in its page");
  }
  NonhierRecord r;
  r.offset = index.i32(page + 16, what + "'s offset");
  r.size = index.i32(page + 20, what + "'s size");
  r.datafile = index.i32(page + 24, what + "'s data file");
  if (r.offset < 0 || r.size < 0) throw index.error(what + ": negative offset or size");
  if (r.datafile < 0 || r.datafile >= datafiles) {
    throw index.error(what + ": data file " + std::to_string(r.datafile) + " does not exist (" +
                      std::to_string(datafiles) + " listed)");
  }
  return r;
}

struct ZoomSection {
  int concat_exponent = 0;
  double overlap_x = 0, overlap_y = 0, mpp_x = 0, mpp_y = 0;
  uint32_t fill_rgb = 0;
  int image_w = 0, image_h = 0;
};

struct ZoomParams {
  int image_concat = 1, tile_count_divisor = 1, tiles_per_image = 1, positions_per_tile = 1;
  double tile_advance_x = 0, tile_advance_y = 0, tile_w = 0, tile_h = 0;
  int64_t width = 0, height = 0;
};

// get_nonhier_name_offset(_helper) and get_nonhier_val_offset: the record number of the first
// value of NONHIER_i_NAME == name (or of its value `value`), -1 when absent.
struct NonhierName {
  int offset = -1, count = 0, index = 0;
};
NonhierName nonhier_name(const KeyFile& kf, int nonhier_count, const std::string& target) {
  int offset = 0;
  for (int i = 0; i < nonhier_count; ++i) {
    const std::string name =
        kf.require_value(kHierarchical, "NONHIER_" + std::to_string(i) + "_NAME");
    const int count = kf.require_int(kHierarchical, "NONHIER_" + std::to_string(i) + "_COUNT");
    if (count == 0)
      throw mirax_error(ErrorKind::format,
                        "Slidedat.ini: NONHIER_" + std::to_string(i) + "_COUNT is zero");
    if (name == target) return {offset, count, i};
    offset += count;
  }
  return {};
}

int associated_record(const KeyFile& kf, int nonhier_count, const std::string& value,
                      const std::string& format_key) {
  NonhierName n = nonhier_name(kf, nonhier_count, "Scan data layer");
  if (n.offset < 0) return -1;
  const std::string prefix = "NONHIER_" + std::to_string(n.index) + "_VAL_";
  for (int i = 0; i < n.count; ++i) {
    if (kf.require_value(kHierarchical, prefix + std::to_string(i)) != value) continue;
    const std::string section =
        kf.require_value(kHierarchical, prefix + std::to_string(i) + "_SECTION");
    const std::string format = kf.require_value(section, format_key);
    if (format != "JPEG") {
      throw mirax_error(ErrorKind::unsupported,
                        "associated image format " + format + " (" + value + ")");
    }
    return n.offset + i;
  }
  return -1;
}

bool whole(double v) {
  return std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15;
}

struct Geometry {
  int images_x = 0, images_y = 0, divisions = 1;
  std::vector<ZoomSection> sections;
  std::vector<ZoomParams> params;
  std::vector<std::shared_ptr<const source::FileStore>> datafiles;
};

// The camera positions (level-0 pixels, × level 0's concat), two per position.
std::vector<int64_t> read_positions(const IndexFile& index, const Geometry& g, int64_t nonhier_root,
                                    int vimslide, int stitching) {
  const int64_t npos = int64_t{g.images_x / g.divisions} * (g.images_y / g.divisions);
  std::vector<int64_t> pos(static_cast<size_t>(npos * 2));
  const int record = vimslide != -1 ? vimslide : stitching;
  if (record == -1) {
    const int64_t across = g.images_x / g.divisions;
    for (int64_t i = 0; i < npos; ++i) {
      // OpenSlide stores (int) of a double expression.
      pos[static_cast<size_t>(2 * i)] =
          static_cast<int>(static_cast<double>(i % across) *
                           (g.sections[0].image_w * g.divisions - g.sections[0].overlap_x));
      pos[static_cast<size_t>(2 * i + 1)] =
          static_cast<int>(static_cast<double>(i / across) *
                           (g.sections[0].image_h * g.divisions - g.sections[0].overlap_y));
    }
    return pos;
  }
  if (vimslide == -1) {
    throw mirax_error(
        ErrorKind::unsupported,
        "the camera positions are only in the deflated StitchingIntensityLayer record");
  }
  const NonhierRecord r =
      read_nonhier(index, nonhier_root, record, static_cast<int>(g.datafiles.size()));
  if (r.size != npos * 9) {
    throw mirax_error(ErrorKind::format, "the position record is " + std::to_string(r.size) +
                                             " bytes, expected 9 for each of " +
                                             std::to_string(npos) + " camera positions");
  }
  const source::FileStore& file = *g.datafiles[static_cast<size_t>(r.datafile)];
  std::vector<std::byte> buf(static_cast<size_t>(r.size));
  if (static_cast<uint64_t>(r.offset) + buf.size() > file.size()) {
    throw mirax_error(ErrorKind::format,
                      "the position record runs past the end of " +
                          std::filesystem::path(file.name()).filename().string());
  }
  file.read_exact(buf, static_cast<uint64_t>(r.offset));
  const int64_t concat0 = g.params[0].image_concat;
  for (int64_t i = 0; i < npos; ++i) {
    const auto* p = reinterpret_cast<const uint8_t*>(buf.data() + 9 * i);
    if (p[0] & 0xfe) {
      throw mirax_error(ErrorKind::format, "camera position " + std::to_string(i) +
                                               ": unexpected flag value " + std::to_string(p[0]));
    }
    int32_t x = 0, y = 0;
    std::memcpy(&x, p + 1, 4);
    std::memcpy(&y, p + 5, 4);
    // OpenSlide multiplies in 32-bit ints.
    pos[static_cast<size_t>(2 * i)] =
        static_cast<int32_t>(static_cast<uint32_t>(x) * static_cast<uint32_t>(concat0));
    pos[static_cast<size_t>(2 * i + 1)] =
        static_cast<int32_t>(static_cast<uint32_t>(y) * static_cast<uint32_t>(concat0));
  }
  return pos;
}

struct TileKey {
  int64_t col, row;
  bool operator<(const TileKey& o) const { return row != o.row ? row < o.row : col < o.col; }
};
struct MapTile {
  uint32_t image;
  double offset_x, offset_y, src_x, src_y;
};

// process_hier_data_pages_from_indexfile: every level's records, the tiles each image gives.
std::vector<mirax::ComposedLevel> read_levels(const IndexFile& index, const Geometry& g,
                                              int64_t hier_root, const std::vector<int64_t>& pos,
                                              std::vector<std::map<TileKey, MapTile>>& maps) {
  const int levels = static_cast<int>(g.params.size());
  std::vector<mirax::ComposedLevel> out(static_cast<size_t>(levels));
  std::set<int64_t> active;
  const int64_t per_row = g.images_x / g.divisions;
  const int64_t seek = index.i32(hier_root, "hierarchical root");
  int64_t placements = 0;
  for (int z = 0; z < levels; ++z) {
    const ZoomParams& lp = g.params[static_cast<size_t>(z)];
    mirax::ComposedLevel& level = out[static_cast<size_t>(z)];
    std::map<TileKey, MapTile>& map = maps[static_cast<size_t>(z)];
    const std::string lvl = "level " + std::to_string(z);
    const int64_t head = index.i32(seek + 4 * int64_t{z}, lvl + "'s pointer");
    if (index.i32(head, lvl) != 0)
      throw index.error(lvl + ": expected 0 at the start of its data pages");
    int64_t at = index.i32(head + 4, lvl + "'s first page pointer");
    int32_t next = 0;
    do {
      const int32_t page_len = index.i32(at, lvl + "'s page length");
      next = index.i32(at + 4, lvl + "'s next-page pointer");
      if (page_len < 0)
        throw index.error(lvl + ": negative page length " + std::to_string(page_len));
      // Pages are read one after another while "next" is not 0 (OpenSlide's reading: next is
      // only a flag), so no list can spin; a link back to this page or before it is a loop in
      // the list all the same, which would have us read other bytes as this level's pages.
      if (next != 0 && next <= at) {
        throw index.error(lvl + ": the page at offset " + std::to_string(at) +
                          " links back to offset " + std::to_string(next) +
                          " (a loop in the page list)");
      }
      at += 8;
      if (static_cast<uint64_t>(page_len) * 16 >
          index.size() - std::min<uint64_t>(index.size(), static_cast<uint64_t>(at))) {
        throw index.error(lvl + ": a page of " + std::to_string(page_len) +
                          " records runs past the end of the index");
      }
      for (int32_t i = 0; i < page_len; ++i, at += 16) {
        const int32_t image_index = index.i32(at, lvl + "'s record");
        const int32_t offset = index.i32(at + 4, lvl + "'s record");
        const int32_t length = index.i32(at + 8, lvl + "'s record");
        const int32_t fileno = index.i32(at + 12, lvl + "'s record");
        if (image_index < 0 || offset < 0 || length < 0 || fileno < 0) {
          throw index.error(lvl + ": record at offset " + std::to_string(at) +
                            " has a negative field");
        }
        const int64_t x = image_index % g.images_x, y = image_index / g.images_x;
        if (y >= g.images_y)
          throw index.error(lvl + ": image " + std::to_string(image_index) +
                            " lies below the slide");
        if (x % lp.image_concat || y % lp.image_concat) {
          throw index.error(lvl + ": image " + std::to_string(image_index) +
                            " is not on the level's image grid");
        }
        if (fileno >= static_cast<int32_t>(g.datafiles.size())) {
          throw index.error(lvl + ": data file " + std::to_string(fileno) + " does not exist (" +
                            std::to_string(g.datafiles.size()) + " listed)");
        }
        const uint32_t image = static_cast<uint32_t>(level.images.size());
        level.images.push_back({static_cast<uint32_t>(fileno), static_cast<uint64_t>(offset),
                                static_cast<uint64_t>(length)});
        for (int yi = 0; yi < lp.tiles_per_image; ++yi) {
          const int64_t yy = y + int64_t{yi} * g.divisions;
          if (yy >= g.images_y) break;
          for (int xi = 0; xi < lp.tiles_per_image; ++xi) {
            const int64_t xx = x + int64_t{xi} * g.divisions;
            if (xx >= g.images_x) break;
            // get_tile_position
            const int64_t xp = xx / g.divisions, yp = yy / g.divisions;
            const int64_t cp = yp * per_row + xp;
            const int64_t pos0_x = static_cast<int32_t>(
                pos[static_cast<size_t>(2 * cp)] + g.sections[0].image_w * (xx - xp * g.divisions));
            const int64_t pos0_y =
                static_cast<int32_t>(pos[static_cast<size_t>(2 * cp + 1)] +
                                     g.sections[0].image_h * (yy - yp * g.divisions));
            if (z == 0) {
              if (pos[static_cast<size_t>(2 * cp)] == 0 &&
                  pos[static_cast<size_t>(2 * cp + 1)] == 0 && (xp != 0 || yp != 0))
                continue;
              active.insert(cp);
            } else {
              bool any = false;
              for (int64_t ypp = yp; ypp < yp + lp.positions_per_tile && !any; ++ypp) {
                for (int64_t xpp = xp; xpp < xp + lp.positions_per_tile && !any; ++xpp) {
                  any = active.contains(ypp * per_row + xpp);
                }
              }
              if (!any) continue;
            }
            if (++placements > kMaxPlacements) {
              throw index.error("more than " + std::to_string(kMaxPlacements) +
                                " tiles: implausible");
            }
            const double pos_x = static_cast<double>(pos0_x) / lp.image_concat;
            const double pos_y = static_cast<double>(pos0_y) / lp.image_concat;
            const int64_t tile_x = x / lp.tile_count_divisor + xi;
            const int64_t tile_y = y / lp.tile_count_divisor + yi;
            map[{tile_x, tile_y}] = {image, pos_x - static_cast<double>(tile_x) * lp.tile_advance_x,
                                     pos_y - static_cast<double>(tile_y) * lp.tile_advance_y,
                                     lp.tile_w * xi, lp.tile_h * yi};
          }
        }
      }
    } while (next != 0);
  }
  return out;
}

// The tilemap's tiles as placements, in OpenSlide's painting order. Their places, advances
// and tile sizes may be between pixels (a position over the concat, an overlap shared by the
// photo's images, an image split into tiles of a fractional size): they are kept as OpenSlide
// computes them (doubles, exact here: sums of multiples of powers of two), and painted with
// cairo's resampling (mirax_resample.hpp).
void place(const Geometry& g, int z, const std::map<TileKey, MapTile>& map,
           mirax::ComposedLevel& level) {
  const ZoomParams& lp = g.params[static_cast<size_t>(z)];
  const ZoomSection& hs = g.sections[static_cast<size_t>(z)];
  // read_tile paints the whole image, or (an image split into tiles) its copy of a ceil(tile)
  // rectangle of the image from the tile's corner on (transparent past the image).
  const bool split = hs.image_w > lp.tile_w || hs.image_h > lp.tile_h;
  uint64_t rank = 0;
  // OpenSlide paints rows bottom to top, columns right to left, with cairo's SATURATE operator
  // (the first opaque paint of a pixel stays): the largest (row, column) is painted first.
  for (auto it = map.rbegin(); it != map.rend(); ++it) {
    const auto& [key, t] = *it;
    mirax::Placement p;
    p.image = t.image;
    p.x = static_cast<double>(key.col) * lp.tile_advance_x + t.offset_x;
    p.y = static_cast<double>(key.row) * lp.tile_advance_y + t.offset_y;
    p.cut = split;
    p.src_x = t.src_x;
    p.src_y = t.src_y;
    p.tile_w = lp.tile_w;
    p.tile_h = lp.tile_h;
    if (!(std::fabs(p.x) <= kMaxPlace) || !(std::fabs(p.y) <= kMaxPlace)) {
      throw mirax_error(ErrorKind::limit,
                        "level " + std::to_string(z) + ": an image placed at (" +
                            tiff::format_double(p.x) + ", " + tiff::format_double(p.y) +
                            ") px: implausible (overlaps of " + tiff::format_double(hs.overlap_x) +
                            " x " + tiff::format_double(hs.overlap_y) + " px)");
    }
    p.width = split ? static_cast<int32_t>(std::ceil(lp.tile_w)) : hs.image_w;
    p.height = split ? static_cast<int32_t>(std::ceil(lp.tile_h)) : hs.image_h;
    p.rank = rank++;
    if (p.width > 0 && p.height > 0) level.placements.push_back(p);
  }
}

void add_associated(const IndexFile& index, const Geometry& g, int64_t nonhier_root,
                    const std::string& name, int record, Slide::Impl& s) {
  if (record == -1) return;
  const NonhierRecord r =
      read_nonhier(index, nonhier_root, record, static_cast<int>(g.datafiles.size()));
  const auto& file = g.datafiles[static_cast<size_t>(r.datafile)];
  if (static_cast<uint64_t>(r.offset) > file->size() ||
      static_cast<uint64_t>(r.size) > file->size() - static_cast<uint64_t>(r.offset)) {
    throw mirax_error(ErrorKind::format,
                      "the " + name + " image (" + std::to_string(r.size) +
                          " bytes) runs past the end of " +
                          std::filesystem::path(file->name()).filename().string());
  }
  std::vector<std::byte> head(static_cast<size_t>(std::min<int64_t>(r.size, 1 << 20)));
  file->read_exact(head, static_cast<uint64_t>(r.offset));
  auto frame = codec::read_jpeg_frame(head);
  if (!frame || frame->width == 0 || frame->height == 0 ||
      (frame->components != 1 && frame->components != 3)) {
    throw mirax_error(ErrorKind::corrupt,
                      "the " + name + " image at offset " + std::to_string(r.offset) + " of " +
                          std::filesystem::path(file->name()).filename().string() +
                          " is not a JPEG stream");
  }
  Level l;
  l.width = l.tile_width = frame->width;
  l.height = l.tile_height = frame->height;
  l.tiles_across = l.tiles_down = 1;
  l.compression = Compression::jpeg;
  l.photometric = frame->components == 3 ? 6 : 1;
  l.samples_per_pixel = frame->components;
  l.channels = frame->components;
  codec::TileFormat f;
  f.compression = Compression::jpeg;
  f.photometric = l.photometric;
  f.samples_per_pixel = l.samples_per_pixel;
  f.width = l.tile_width;
  f.height = l.tile_height;
  auto src = std::make_shared<source::TableLevelSource>(
      l, f, std::vector<std::byte>{}, std::vector<std::shared_ptr<const source::ByteStore>>{file},
      std::vector<source::ByteRange>{
          {static_cast<uint64_t>(r.offset), static_cast<uint64_t>(r.size), 0}});
  src->place_in_pyramid(static_cast<int>(s.associated.size()), 1.0);
  s.associated.push_back(
      {.name = name, .width = l.width, .height = l.height, .compression = Compression::jpeg});
  s.associated_sources.push_back(std::move(src));
}

void positive(int v, const std::string& what) {
  if (v <= 0)
    throw mirax_error(ErrorKind::format, "Slidedat.ini: " + what + " <= 0: " + std::to_string(v));
}

}  // namespace

std::optional<std::string> detect_mirax(const SlideProbe& probe) {
  if (probe.tiff) return "is a TIFF file";
  const std::string s = probe.path.string();
  if (s.size() < 5 || s.substr(s.size() - 5) != ".mrxs")
    return "file does not have .mrxs extension";
  if (!probe.file) return "not a file";
  // OpenSlide also requires NAME/Slidedat.ini here; we accept the file and let open say that it
  // is missing, rather than a TIFF parser's complaint about a .mrxs (which is never a TIFF).
  return std::nullopt;
}

void open_mirax(const SlideProbe& probe, Slide::Impl& s) {
  const std::filesystem::path dir = slide_directory(probe.path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(dir / "Slidedat.ini", ec)) {
    throw mirax_error(ErrorKind::not_found, (dir.filename() / "Slidedat.ini").string() +
                                                " does not exist beside the .mrxs");
  }
  const KeyFile kf = KeyFile::load(dir / "Slidedat.ini");
  for (const auto& [group, keys] : kf.groups()) {
    for (const auto& [k, v] : keys) s.properties["mirax." + group + "." + k] = v;
  }
  if (!kf.has_group(kGeneral))
    throw mirax_error(ErrorKind::format, "Slidedat.ini has no GENERAL group");
  Geometry g;
  const std::string slide_id = kf.require_value(kGeneral, "SLIDE_ID");
  g.images_x = kf.require_int(kGeneral, "IMAGENUMBER_X");
  g.images_y = kf.require_int(kGeneral, "IMAGENUMBER_Y");
  std::optional<int64_t> objective;
  if (auto mag = kf.value(kGeneral, "OBJECTIVE_MAGNIFICATION")) {
    std::string m = *mag;
    if (!m.empty() && m.back() == 'x') m.pop_back();
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(m.c_str(), &end, 10);
    if (!m.empty() && end != m.c_str() && *end == '\0' && errno == 0) objective = v;
  }
  try {
    g.divisions = kf.int_value(kGeneral, "CameraImageDivisionsPerSide").value_or(1);
  } catch (const Error&) {
    g.divisions = 1;
  }
  positive(g.images_x, "IMAGENUMBER_X");
  positive(g.images_y, "IMAGENUMBER_Y");
  positive(g.divisions, "CameraImageDivisionsPerSide");
  // Images are photographed divisions x divisions at a time: a count that is not a multiple has
  // images without a camera position (OpenSlide reads past its position table there).
  if (g.images_x % g.divisions != 0 || g.images_y % g.divisions != 0) {
    throw mirax_error(ErrorKind::corrupt,
                      "Slidedat.ini claims " + std::to_string(g.images_x) + " x " +
                          std::to_string(g.images_y) + " images, not whole photos of " +
                          std::to_string(g.divisions) + " x " + std::to_string(g.divisions));
  }
  if (int64_t{g.images_x} * g.images_y > kMaxPositions) {
    throw mirax_error(ErrorKind::limit, "Slidedat.ini claims " + std::to_string(g.images_x) +
                                            " x " + std::to_string(g.images_y) +
                                            " images: implausible");
  }
  if (!kf.has_group(kHierarchical))
    throw mirax_error(ErrorKind::format, "Slidedat.ini has no HIERARCHICAL group");
  const int hier_count = kf.require_int(kHierarchical, "HIER_COUNT");
  const int nonhier_count = kf.require_int(kHierarchical, "NONHIER_COUNT");
  positive(hier_count, "HIER_COUNT");
  if (nonhier_count < 0) throw mirax_error(ErrorKind::format, "Slidedat.ini: NONHIER_COUNT < 0");
  int zoom_hier = -1;
  for (int i = 0; i < hier_count && zoom_hier < 0; ++i) {
    if (kf.require_value(kHierarchical, "HIER_" + std::to_string(i) + "_NAME") ==
        "Slide zoom level")
      zoom_hier = i;
  }
  if (zoom_hier == -1) throw mirax_error(ErrorKind::format, "Slidedat.ini has no slide zoom level");
  if (zoom_hier != 0) throw mirax_error(ErrorKind::unsupported, "slide zoom level not HIER_0");
  const std::string index_name = kf.require_value(kHierarchical, "INDEXFILE");
  const int zoom_levels = kf.require_int(kHierarchical, "HIER_0_COUNT");
  positive(zoom_levels, "HIER_0_COUNT");
  if (zoom_levels > 32)
    throw mirax_error(ErrorKind::limit,
                      "Slidedat.ini claims " + std::to_string(zoom_levels) + " levels");
  if (!kf.has_group(kDatafile))
    throw mirax_error(ErrorKind::format, "Slidedat.ini has no DATAFILE group");
  const int datafile_count = kf.require_int(kDatafile, "FILE_COUNT");
  positive(datafile_count, "FILE_COUNT");
  if (datafile_count > 65536)
    throw mirax_error(ErrorKind::limit,
                      "Slidedat.ini lists " + std::to_string(datafile_count) + " data files");
  std::vector<std::filesystem::path> datafile_paths;
  for (int i = 0; i < datafile_count; ++i) {
    datafile_paths.push_back(dir / kf.require_value(kDatafile, "FILE_" + std::to_string(i)));
  }
  for (int i = 0; i < zoom_levels; ++i) {
    const std::string group =
        kf.require_value(kHierarchical, "HIER_0_VAL_" + std::to_string(i) + "_SECTION");
    if (!kf.has_group(group))
      throw mirax_error(ErrorKind::format, "Slidedat.ini has no " + group + " group");
    ZoomSection hs;
    hs.concat_exponent = kf.require_int(group, "IMAGE_CONCAT_FACTOR");
    hs.overlap_x = kf.require_double(group, "OVERLAP_X");
    hs.overlap_y = kf.require_double(group, "OVERLAP_Y");
    hs.mpp_x = kf.require_double(group, "MICROMETER_PER_PIXEL_X");
    hs.mpp_y = kf.require_double(group, "MICROMETER_PER_PIXEL_Y");
    const uint32_t bgr = static_cast<uint32_t>(kf.require_int(group, "IMAGE_FILL_COLOR_BGR"));
    hs.image_w = kf.require_int(group, "DIGITIZER_WIDTH");
    hs.image_h = kf.require_int(group, "DIGITIZER_HEIGHT");
    if (i == 0 ? hs.concat_exponent < 0 : hs.concat_exponent <= 0) {
      throw mirax_error(ErrorKind::format,
                        group + ": IMAGE_CONCAT_FACTOR " + std::to_string(hs.concat_exponent));
    }
    positive(hs.image_w, group + " DIGITIZER_WIDTH");
    positive(hs.image_h, group + " DIGITIZER_HEIGHT");
    if (int64_t{hs.image_w} * hs.image_h > (int64_t{1} << 26)) {
      throw mirax_error(ErrorKind::limit, group + ": camera images of " +
                                              std::to_string(hs.image_w) + " x " +
                                              std::to_string(hs.image_h) + " px: implausible");
    }
    hs.fill_rgb = ((bgr << 16) & 0xFF0000) | (bgr & 0xFF00) | ((bgr >> 16) & 0xFF);
    const std::string format = kf.require_value(group, "IMAGE_FORMAT");
    if (format == "PNG" || format == "BMP24") {
      throw mirax_error(ErrorKind::unsupported,
                        group + ": " + format + " images (only JPEG is read)");
    }
    if (format != "JPEG")
      throw mirax_error(ErrorKind::format, "unrecognized image format: " + format);
    g.sections.push_back(hs);
  }
  const int vimslide = nonhier_name(kf, nonhier_count, "VIMSLIDE_POSITION_BUFFER").offset;
  const int stitching =
      vimslide == -1 ? nonhier_name(kf, nonhier_count, "StitchingIntensityLayer").offset : -1;
  const int macro =
      associated_record(kf, nonhier_count, "ScanDataLayer_SlideThumbnail", "THUMBNAIL_IMAGE_TYPE");
  const int label =
      associated_record(kf, nonhier_count, "ScanDataLayer_SlideBarcode", "BARCODE_IMAGE_TYPE");
  const int thumbnail =
      associated_record(kf, nonhier_count, "ScanDataLayer_SlidePreview", "PREVIEW_IMAGE_TYPE");

  const IndexFile index(dir / index_name);
  for (const auto& p : datafile_paths) {
    try {
      g.datafiles.push_back(std::make_shared<source::FileStore>(p));
    } catch (const Error& e) {
      throw mirax_error(e.kind(),
                        "data file " + p.filename().string() + " cannot be opened: " + e.cause());
    }
  }

  // Geometry (mirax_open): the level-0 size, and each level's concat, tiles per image, advance.
  const ZoomSection& s0 = g.sections[0];
  int64_t base_w = 0, base_h = 0;
  for (int i = 0; i < g.images_x; ++i) {
    base_w += (i % g.divisions != g.divisions - 1 || i == g.images_x - 1)
                  ? s0.image_w
                  : static_cast<int64_t>(s0.image_w - s0.overlap_x);
  }
  for (int i = 0; i < g.images_y; ++i) {
    base_h += (i % g.divisions != g.divisions - 1 || i == g.images_y - 1)
                  ? s0.image_h
                  : static_cast<int64_t>(s0.image_h - s0.overlap_y);
  }
  int total_exponent = 0;
  bool hints = true;
  for (int i = 0; i < zoom_levels; ++i) {
    const ZoomSection& hs = g.sections[static_cast<size_t>(i)];
    ZoomParams lp;
    total_exponent += hs.concat_exponent;
    if (total_exponent > 30)
      throw mirax_error(ErrorKind::format,
                        "image_concat exponent too large: " + std::to_string(total_exponent));
    lp.image_concat = 1 << total_exponent;
    const int positions_per_image = std::max(1, lp.image_concat / g.divisions);
    if (vimslide != -1 || stitching != -1 || s0.overlap_x != 0 || s0.overlap_y != 0) {
      lp.tile_count_divisor = std::min(lp.image_concat, g.divisions);
      lp.tiles_per_image = positions_per_image;
      lp.positions_per_tile = 1;
    } else {
      lp.tile_count_divisor = lp.image_concat;
      lp.tiles_per_image = 1;
      lp.positions_per_tile = positions_per_image;
    }
    lp.tile_w = static_cast<double>(hs.image_w) / lp.tiles_per_image;
    lp.tile_h = static_cast<double>(hs.image_h) / lp.tiles_per_image;
    const int images_per_position = std::max(1, g.divisions / lp.image_concat);
    lp.tile_advance_x = lp.tile_w - hs.overlap_x / images_per_position;
    lp.tile_advance_y = lp.tile_h - hs.overlap_y / images_per_position;
    if (!(lp.tile_advance_x > 0) || !(lp.tile_advance_y > 0)) {
      throw mirax_error(ErrorKind::format, "level " + std::to_string(i) + ": overlap " +
                                               tiff::format_double(hs.overlap_x) +
                                               " leaves no tile advance");
    }
    lp.width = base_w / lp.image_concat;
    lp.height = base_h / lp.image_concat;
    hints = hints && whole(lp.tile_advance_x) && whole(lp.tile_advance_y) &&
            lp.tile_advance_x == lp.tile_w && lp.tile_advance_y == lp.tile_h;
    g.params.push_back(lp);
  }

  const int64_t hier_root = static_cast<int64_t>(std::strlen(kIndexVersion) + slide_id.size());
  const int64_t nonhier_root = hier_root + 4;
  if (index.text(0, 5) != kIndexVersion)
    throw index.error("doesn't have the expected version 01.02");
  if (index.text(5, slide_id.size()) != slide_id)
    throw index.error("doesn't have a matching slide identifier");
  const std::vector<int64_t> pos = read_positions(index, g, nonhier_root, vimslide, stitching);
  add_associated(index, g, nonhier_root, "macro", macro, s);
  add_associated(index, g, nonhier_root, "label", label, s);
  add_associated(index, g, nonhier_root, "thumbnail", thumbnail, s);

  std::vector<std::map<TileKey, MapTile>> maps(static_cast<size_t>(zoom_levels));
  std::vector<mirax::ComposedLevel> levels = read_levels(index, g, hier_root, pos, maps);
  for (int z = 0; z < zoom_levels; ++z) {
    for (const auto& [key, t] : maps[static_cast<size_t>(z)])
      hints = hints && t.offset_x == 0 && t.offset_y == 0;
  }
  // openslide.bounds-*: the tilemap's extent at level 0 (tiles w × h at their places).
  {
    const ZoomParams& lp = g.params[0];
    double left = INFINITY, top = INFINITY, right = -INFINITY, bottom = -INFINITY;
    for (const auto& [key, t] : maps[0]) {
      const double x = static_cast<double>(key.col) * lp.tile_advance_x + t.offset_x;
      const double y = static_cast<double>(key.row) * lp.tile_advance_y + t.offset_y;
      left = std::min(left, x);
      top = std::min(top, y);
      right = std::max(right, x + lp.tile_w);
      bottom = std::max(bottom, y + lp.tile_h);
    }
    double bx = 0, by = 0, bw = 0, bh = 0;
    if (!std::isinf(left)) {
      bx = left;
      by = top;
      bw = right - left;
      bh = bottom - top;
    }
    bw = std::min(bw, static_cast<double>(lp.width) - bx);
    bh = std::min(bh, static_cast<double>(lp.height) - by);
    if (!(bx == 0 && by == 0 && bw == static_cast<double>(lp.width) &&
          bh == static_cast<double>(lp.height))) {
      s.properties["openslide.bounds-x"] = std::to_string(static_cast<int64_t>(std::floor(bx)));
      s.properties["openslide.bounds-y"] = std::to_string(static_cast<int64_t>(std::floor(by)));
      s.properties["openslide.bounds-width"] =
          std::to_string(static_cast<int64_t>(std::ceil(bx + bw) - std::floor(bx)));
      s.properties["openslide.bounds-height"] =
          std::to_string(static_cast<int64_t>(std::ceil(by + bh) - std::floor(by)));
    }
  }
  for (int z = 0; z < zoom_levels; ++z) {
    mirax::ComposedLevel& level = levels[static_cast<size_t>(z)];
    const ZoomParams& lp = g.params[static_cast<size_t>(z)];
    level.width = lp.width;
    level.height = lp.height;
    level.image_width = g.sections[static_cast<size_t>(z)].image_w;
    level.image_height = g.sections[static_cast<size_t>(z)].image_h;
    place(g, z, maps[static_cast<size_t>(z)], level);
    s.level_sources.push_back(mirax::make_composed_source(std::move(level), g.datafiles, z));
    s.level_downsamples.push_back(static_cast<double>(lp.image_concat / g.params[0].image_concat));
  }
  const uint32_t fill = s0.fill_rgb;
  char color[8];
  std::snprintf(color, sizeof color, "%02X%02X%02X", (fill >> 16) & 0xFF, (fill >> 8) & 0xFF,
                fill & 0xFF);
  s.properties["openslide.background-color"] = color;
  if (objective && *objective > 0) {
    s.objective_power = static_cast<double>(*objective);
    s.properties["openslide.objective-power"] = std::to_string(*objective);
  }
  s.mpp_x = s0.mpp_x;
  s.mpp_y = s0.mpp_y;
  if (hints) {
    for (int z = 0; z < zoom_levels; ++z) {
      const std::string prefix = "openslide.level[" + std::to_string(z) + "].";
      s.properties[prefix + "tile-width"] =
          std::to_string(static_cast<int64_t>(g.params[static_cast<size_t>(z)].tile_advance_x));
      s.properties[prefix + "tile-height"] =
          std::to_string(static_cast<int64_t>(g.params[static_cast<size_t>(z)].tile_advance_y));
    }
  }
}

// The openslide.* properties a non-TIFF slide does not get from tiff::add_common_properties.
void finish_mirax(Slide::Impl& s) {
  auto& p = s.properties;
  p["openslide.vendor"] = "mirax";
  p["openslide.level-count"] = std::to_string(s.levels.size());
  for (const Level& lv : s.levels) {
    const std::string prefix = "openslide.level[" + std::to_string(lv.index) + "].";
    p[prefix + "width"] = std::to_string(lv.width);
    p[prefix + "height"] = std::to_string(lv.height);
    p[prefix + "downsample"] = tiff::format_double(lv.downsample);
  }
  if (s.mpp_x) p["openslide.mpp-x"] = tiff::format_double(*s.mpp_x);
  if (s.mpp_y) p["openslide.mpp-y"] = tiff::format_double(*s.mpp_y);
}

}  // namespace slidestream::vendor
