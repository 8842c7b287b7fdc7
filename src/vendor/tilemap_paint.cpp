#include "vendor/tilemap_paint.hpp"

#include <algorithm>
#include <cmath>

#include "source/table_level_source.hpp"

namespace slidestream::vendor {
namespace {

using mirax::Argb;

// openslide_read_region paints a region in pieces of 4096² pixels, each a surface of its own
// (a multiple of our tiles, so that each tile lies in one piece).
constexpr int64_t kReadPiece = 4096;
static_assert(kReadPiece % kComposedTile == 0);

}  // namespace

TilemapComposer::TilemapComposer(int64_t width, int64_t height,
                                 std::vector<TilemapPlacement> placements, const std::string& what)
    : width_(width),
      height_(height),
      across_(composed_tiles(width)),
      down_(composed_tiles(height)),
      placements_(std::move(placements)) {
  source::check_table_size(across_, down_, what);
  buckets_.resize(static_cast<size_t>(across_ * down_));
  // Each bucket lists its placements in painting order (rank, lowest first).
  std::sort(placements_.begin(), placements_.end(),
            [](const TilemapPlacement& a, const TilemapPlacement& b) { return a.rank < b.rank; });
  for (uint32_t i = 0; i < placements_.size(); ++i) {
    const TilemapPlacement& p = placements_[i];
    // A surface painted between pixels reaches the pixel its left (top) edge falls in and the
    // one its right (bottom) edge falls in: bilinear samples blend with transparency there.
    const int64_t x0 = std::max<int64_t>(static_cast<int64_t>(std::floor(p.x)), 0);
    const int64_t y0 = std::max<int64_t>(static_cast<int64_t>(std::floor(p.y)), 0);
    const int64_t x1 =
        std::min<int64_t>(static_cast<int64_t>(std::ceil(p.x + p.width)), across_ * kComposedTile);
    const int64_t y1 =
        std::min<int64_t>(static_cast<int64_t>(std::ceil(p.y + p.height)), down_ * kComposedTile);
    if (x0 >= x1 || y0 >= y1) continue;
    for (int64_t r = y0 / kComposedTile; r <= (y1 - 1) / kComposedTile; ++r) {
      for (int64_t c = x0 / kComposedTile; c <= (x1 - 1) / kComposedTile; ++c) {
        buckets_[static_cast<size_t>(r * across_ + c)].push_back(i);
      }
    }
  }
}

// Paints grid tile t as OpenSlide's read_region of the whole level paints the same pixels:
// into the 4096² surface (read_region's piece) holding the tile, its placements in painting
// order, SATURATE onto transparent premultiplied ARGB32, then un-premultiplied to RGB.
void TilemapComposer::compose(size_t t, std::byte* out) const {
  const int64_t tx = static_cast<int64_t>(t % static_cast<size_t>(across_)) * kComposedTile;
  const int64_t ty = static_cast<int64_t>(t / static_cast<size_t>(across_)) * kComposedTile;
  const int64_t sx = tx / kReadPiece * kReadPiece, sy = ty / kReadPiece * kReadPiece;
  std::vector<Argb> plane(size_t{kComposedTile} * kComposedTile, 0);
  const mirax::Canvas canvas{
      plane.data(),
      {tx, ty, kComposedTile, kComposedTile},
      {sx, sy, std::min(kReadPiece, width_ - sx), std::min(kReadPiece, height_ - sy)},
      kComposedTile};
  for (const uint32_t index : buckets_[t]) {
    const TilemapPlacement& p = placements_[index];
    // tilemap_read_tile skips a tile ending at or before the surface's start (with its
    // nominal size: a tile cut at a fractional size may reach one pixel further).
    if (p.x + p.tile_w <= static_cast<double>(sx) || p.y + p.tile_h <= static_cast<double>(sy))
      continue;
    const DecodedSurface image = surface_of(p.image);
    if (!p.cut) {
      mirax::paint_saturate(image.surface, mirax::sampling_at(p.x, p.y), p.x, p.y, canvas);
      continue;
    }
    const std::vector<Argb> cut =
        mirax::cut_tile(image.surface, p.src_x, p.src_y, p.width, p.height);
    mirax::paint_saturate(mirax::Surface{nullptr, cut.data(), p.width, p.height},
                          mirax::sampling_at(p.x, p.y), p.x, p.y, canvas);
  }
  mirax::unpremultiply_rgb(plane, out);
}

}  // namespace slidestream::vendor
