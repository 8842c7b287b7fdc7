// A Leica SCN level whose regions are not one tile grid (offsets off the grid, regions sharing
// grid tiles or overlapping, regions stored with different tile sizes or codecs), composed as
// OpenSlide 4.0.1 paints it: each region is its own simple grid drawn at its whole-pixel offset,
// the regions in the XML's order with cairo's SATURATE operator. Region tiles are opaque and
// OpenSlide clips each region's edge tiles to its image size, so a pixel shows the first region
// (in XML order) that covers it, and nothing where none does. Painting the regions last to
// first, each overwriting, gives the same pixels without tracking what is painted.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "slidestream/error.hpp"
#include "source/table_level_source.hpp"
#include "vendor/leica.hpp"
#include "vendor/tilemap_compose.hpp"

namespace slidestream::vendor {
namespace {

// Decoded region tiles kept per level: a few rows of 512² tiles of every region.
constexpr size_t kCacheBytes = size_t{64} << 20;
using Pixels = std::vector<std::byte>;

struct Box {
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // [x0, x1) × [y0, y1)
  bool empty() const { return x0 >= x1 || y0 >= y1; }
};

Box intersect(const Box& a, const Box& b) {
  return {std::max(a.x0, b.x0), std::max(a.y0, b.y0), std::min(a.x1, b.x1), std::min(a.y1, b.y1)};
}

class LeicaComposer final : public TileComposer {
 public:
  LeicaComposer(int64_t width, int64_t height, std::vector<LeicaPlacedRegion> regions,
                std::string level_name)
      : width_(width),
        height_(height),
        across_(composed_tiles(width)),
        regions_(std::move(regions)),
        cache_(kCacheBytes, largest_tile_bytes(regions_)),
        level_name_(std::move(level_name)) {
    source::check_table_size(across_, composed_tiles(height), level_name_);
    buckets_.resize(static_cast<size_t>(across_ * composed_tiles(height)));
    for (uint32_t n = 0; n < regions_.size(); ++n) {
      const Box b = intersect(box_of(regions_[n]), {0, 0, width_, height_});
      if (b.empty()) continue;
      for (int64_t r = b.y0 / kComposedTile; r <= (b.y1 - 1) / kComposedTile; ++r) {
        for (int64_t c = b.x0 / kComposedTile; c <= (b.x1 - 1) / kComposedTile; ++c) {
          buckets_[static_cast<size_t>(r * across_ + c)].push_back(n);
        }
      }
    }
  }

  bool touches(size_t t) const override { return !buckets_[t].empty(); }

  void compose(size_t t, std::byte* out) const override {
    std::memset(out, 0, kComposedTileBytes);
    const int64_t tx = static_cast<int64_t>(t % static_cast<size_t>(across_)) * kComposedTile;
    const int64_t ty = static_cast<int64_t>(t / static_cast<size_t>(across_)) * kComposedTile;
    const Box tile =
        intersect({tx, ty, tx + kComposedTile, ty + kComposedTile}, {0, 0, width_, height_});
    const auto& bucket = buckets_[t];
    for (auto n = bucket.rbegin(); n != bucket.rend(); ++n) {
      paint_region(*n, intersect(tile, box_of(regions_[*n])), tx, ty, out);
    }
  }

 private:
  static Box box_of(const LeicaPlacedRegion& r) {
    const Level& l = r.source->layout();
    return {r.x, r.y, r.x + l.width, r.y + l.height};
  }

  static size_t largest_tile_bytes(const std::vector<LeicaPlacedRegion>& regions) {
    size_t most = 1;
    for (const auto& r : regions) {
      const auto& f = r.source->format();
      most = std::max<size_t>(most, size_t{f.width} * f.height * 3);
    }
    return most;
  }

  // The part `area` (level pixels) of region n into the grid tile at (tx, ty), tile by tile of
  // the region's own grid.
  void paint_region(uint32_t n, const Box& area, int64_t tx, int64_t ty, std::byte* out) const {
    const LeicaPlacedRegion& r = regions_[n];
    const Level& l = r.source->layout();
    const int64_t c0 = (area.x0 - r.x) / l.tile_width, c1 = (area.x1 - 1 - r.x) / l.tile_width;
    const int64_t r0 = (area.y0 - r.y) / l.tile_height, r1 = (area.y1 - 1 - r.y) / l.tile_height;
    for (int64_t row = r0; row <= r1; ++row) {
      for (int64_t col = c0; col <= c1; ++col) {
        const Box stored{r.x + col * l.tile_width, r.y + row * l.tile_height,
                         r.x + (col + 1) * l.tile_width, r.y + (row + 1) * l.tile_height};
        const Box part = intersect(area, stored);
        if (part.empty()) continue;
        const auto pixels = decoded(n, col, row);
        if (!pixels) continue;  // a missing tile: nothing drawn
        const size_t pitch = size_t{r.source->format().width} * 3;
        const size_t bytes = static_cast<size_t>(part.x1 - part.x0) * 3;
        for (int64_t y = part.y0; y < part.y1; ++y) {
          const std::byte* from = pixels->data() + static_cast<size_t>(y - stored.y0) * pitch +
                                  static_cast<size_t>(part.x0 - stored.x0) * 3;
          std::byte* to = out + static_cast<size_t>(y - ty) * kComposedTile * 3 +
                          static_cast<size_t>(part.x0 - tx) * 3;
          std::memcpy(to, from, bytes);
        }
      }
    }
  }

  // Region n's stored tile (col, row), decoded; null where it is missing.
  std::shared_ptr<const Pixels> decoded(uint32_t n, int64_t col, int64_t row) const {
    const source::LevelSource& s = *regions_[n].source;
    const uint64_t key =
        (uint64_t{n} << 44) | static_cast<uint64_t>(row * s.layout().tiles_across + col);
    if (auto hit = cache_.find(key)) return hit;
    auto pixels = decode_stored_tile(s, col, row, level_name_ + ", region " + std::to_string(n));
    if (pixels) cache_.put(key, pixels);
    return pixels;
  }

  int64_t width_, height_, across_;
  std::vector<LeicaPlacedRegion> regions_;
  std::vector<std::vector<uint32_t>> buckets_;  // per grid tile: the regions on it, XML order
  mutable DecodedCache<Pixels> cache_;
  std::string level_name_;
};

}  // namespace

std::shared_ptr<source::LevelSource> make_leica_composed_level(
    int64_t width, int64_t height, std::vector<LeicaPlacedRegion> regions, size_t level_index) {
  const std::string name =
      "Leica SCN level " + std::to_string(level_index) + " (composed from its regions)";
  auto composer = std::make_shared<LeicaComposer>(width, height, std::move(regions), name);
  return make_composed_level_source(width, height, std::move(composer), name);
}

}  // namespace slidestream::vendor
