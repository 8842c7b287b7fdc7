// A Ventana BIF level whose scanned tiles do not lie on one tile grid (tiles overlapping their
// neighbours, areas placed off their origin's grid, reduced-level tiles partly outside the
// areas), composed as OpenSlide 4.0.1's create_bif_grid and read_subtile paint it: a tilemap
// with one tile per level-0 scanned tile, at (col, row) × the tile advance over the downsample
// plus its area's offset. On a reduced level a scanned tile is a subtile of a stored tile:
// read_subtile copies its ceil(tile / downsample) pixels onto a new surface first. The stored
// tile is an ARGB32 surface, clipped (transparent) past the stored image. The painting itself
// (order, resampling between pixels, SATURATE) is OpenSlide's tilemap's (tilemap_paint.hpp).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "slidestream/error.hpp"
#include "tiff/metadata.hpp"
#include "vendor/tilemap_compose.hpp"
#include "vendor/tilemap_paint.hpp"
#include "vendor/ventana.hpp"

namespace slidestream::vendor {
namespace {

using mirax::Argb;

// Decoded stored tiles kept per level: a few rows of them.
constexpr size_t kCacheBytes = size_t{64} << 20;
// Scanned tiles per level, and how far one may be placed (px), before the XML is a lie (a
// real BIF has thousands of tiles; this bounds the placements' memory to about 100 MiB).
constexpr int64_t kMaxPlacements = int64_t{1} << 20;
constexpr double kMaxPlace = 1e12;

class VentanaComposer final : public TilemapComposer {
 public:
  VentanaComposer(int64_t width, int64_t height, std::vector<TilemapPlacement> placements,
                  std::shared_ptr<const source::LevelSource> stored, std::string level_name)
      : TilemapComposer(width, height, std::move(placements), level_name),
        stored_(std::move(stored)),
        cache_(kCacheBytes,
               size_t{stored_->format().width} * stored_->format().height * sizeof(Argb)),
        level_name_(std::move(level_name)) {}

 private:
  // Stored tile `index` (row-major) as read_subtile's ARGB32 surface: opaque where the stored
  // image is, transparent past it (_openslide_tiff_clip_tile), all transparent where missing.
  DecodedSurface surface_of(uint32_t index) const override {
    const Level& l = stored_->layout();
    const int64_t tw = stored_->format().width, th = stored_->format().height;
    auto argb = cache_.find(index);
    if (!argb) {
      const int64_t col = index % l.tiles_across, row = index / l.tiles_across;
      auto rgb = decode_stored_tile(*stored_, col, row, level_name_);
      auto out = std::make_shared<std::vector<Argb>>(static_cast<size_t>(tw * th), 0);
      const int64_t inside_w = std::min(tw, l.width - col * tw);
      const int64_t inside_h = std::min(th, l.height - row * th);
      for (int64_t y = 0; rgb && y < inside_h; ++y) {
        const auto* p = reinterpret_cast<const uint8_t*>(rgb->data()) + y * tw * 3;
        Argb* q = out->data() + y * tw;
        for (int64_t x = 0; x < inside_w; ++x, p += 3) {
          q[x] = 0xff000000u | uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2];
        }
      }
      cache_.put(index, out);
      argb = std::move(out);
    }
    return {mirax::Surface{nullptr, argb->data(), tw, th}, argb};
  }

  std::shared_ptr<const source::LevelSource> stored_;
  mutable DecodedCache<std::vector<Argb>> cache_;
  std::string level_name_;
};

Error level_error(ErrorKind kind, const std::string& level_name, const std::string& cause) {
  return Error(kind, "Ventana BIF: " + level_name + ": " + cause);
}

}  // namespace

std::shared_ptr<source::LevelSource> make_ventana_composed_level(
    std::shared_ptr<const source::LevelSource> stored, const VentanaStitching& bif,
    int64_t downsample, size_t level_index) {
  const std::string name = "level " + std::to_string(level_index);
  const Level& l = stored->layout();
  const double ds = static_cast<double>(downsample);
  // create_bif_grid's tilemap: the advance and the tile's size over the downsample;
  // read_subtile's cut: tile / subtiles_per_tile (the same, a whole downsample).
  const double advance_x = bif.tile_advance_x / ds, advance_y = bif.tile_advance_y / ds;
  const double sub_w = static_cast<double>(l.tile_width) / ds;
  const double sub_h = static_cast<double>(l.tile_height) / ds;
  // (row, col) → placement: a later area's tile at the same place replaces the earlier
  // (g_hash_table_replace), and the map's reverse order is OpenSlide's painting order.
  int64_t scanned = 0;
  for (const VentanaArea& a : bif.areas) {
    scanned += a.tiles_across * a.tiles_down;  // each at most 2^20 × 2^20 (ventana_xml.cpp)
    if (scanned > kMaxPlacements) {
      throw level_error(ErrorKind::limit, name,
                        "more than " + std::to_string(kMaxPlacements) + " scanned tiles");
    }
  }
  std::map<std::pair<int64_t, int64_t>, TilemapPlacement> tiles;
  for (const VentanaArea& a : bif.areas) {
    const double offset_x =
        (static_cast<double>(a.x) - static_cast<double>(a.start_col) * bif.tile_advance_x) / ds;
    const double offset_y =
        (static_cast<double>(a.y) - static_cast<double>(a.start_row) * bif.tile_advance_y) / ds;
    for (int64_t row = a.start_row; row < a.start_row + a.tiles_down; ++row) {
      for (int64_t col = a.start_col; col < a.start_col + a.tiles_across; ++col) {
        const int64_t stored_col = col / downsample, stored_row = row / downsample;
        if (stored_col >= l.tiles_across || stored_row >= l.tiles_down) {
          throw level_error(ErrorKind::format, name,
                            "scanned tile (" + std::to_string(col) + ", " + std::to_string(row) +
                                ") lies outside the stored image");
        }
        TilemapPlacement p;
        p.image = static_cast<uint32_t>(stored_row * l.tiles_across + stored_col);
        p.x = static_cast<double>(col) * advance_x + offset_x;
        p.y = static_cast<double>(row) * advance_y + offset_y;
        p.tile_w = sub_w;
        p.tile_h = sub_h;
        p.cut = downsample > 1;
        p.src_x = static_cast<double>(col % downsample) * sub_w;
        p.src_y = static_cast<double>(row % downsample) * sub_h;
        p.width =
            p.cut ? static_cast<int32_t>(std::ceil(sub_w)) : static_cast<int32_t>(l.tile_width);
        p.height =
            p.cut ? static_cast<int32_t>(std::ceil(sub_h)) : static_cast<int32_t>(l.tile_height);
        if (!(std::fabs(p.x) < kMaxPlace) || !(std::fabs(p.y) < kMaxPlace)) {
          throw level_error(ErrorKind::limit, name,
                            "a scanned tile placed at (" + tiff::format_double(p.x) + ", " +
                                tiff::format_double(p.y) + ") px: implausible");
        }
        tiles[{row, col}] = p;
      }
    }
  }
  if (tiles.empty()) throw level_error(ErrorKind::format, name, "no scanned tile");
  // The level's size: large enough for every tile (OpenSlide: ceil of the grid's bounds).
  double left = INFINITY, top = INFINITY, right = -INFINITY, bottom = -INFINITY;
  std::vector<TilemapPlacement> placements;
  uint64_t rank = 0;
  for (auto it = tiles.rbegin(); it != tiles.rend(); ++it) {
    TilemapPlacement p = it->second;
    left = std::min(left, p.x);
    top = std::min(top, p.y);
    right = std::max(right, p.x + sub_w);
    bottom = std::max(bottom, p.y + sub_h);
    p.rank = rank++;
    placements.push_back(p);
  }
  const auto width = static_cast<int64_t>(std::ceil(left + (right - left)));
  const auto height = static_cast<int64_t>(std::ceil(top + (bottom - top)));
  if (width < 1 || height < 1) {
    throw level_error(ErrorKind::format, name, "the scanned tiles lie left of or above the slide");
  }
  auto composer = std::make_shared<VentanaComposer>(width, height, std::move(placements),
                                                    std::move(stored), "Ventana BIF " + name);
  return make_composed_level_source(width, height, std::move(composer),
                                    "Ventana BIF " + name + " (composed from its scanned tiles)");
}

}  // namespace slidestream::vendor
