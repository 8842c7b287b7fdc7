// Planning a batched read: every region is clipped to the level and split at tile boundaries;
// the pieces are then grouped by tile, so that each tile is decoded once and copied to every
// region that wants part of it.
#include "read/region_batch.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "slidestream/error.hpp"

namespace slidestream {

int64_t level_coordinate(int64_t level0, double downsample) noexcept {
  if (!(downsample > 0)) return level0;
  const double value = static_cast<double>(level0) / downsample;
  const double nearest = std::nearbyint(value);
  if (std::abs(value - nearest) < 1e-6) return static_cast<int64_t>(nearest);
  return static_cast<int64_t>(std::floor(value));
}

namespace read {
namespace {

struct KeyedPiece {
  int64_t ty = 0, tx = 0;
  BatchPiece piece;
};

// Splits region i, at (x, y) in level pixels, into pieces of the tiles it covers.
void split_region(const Level& l, uint32_t region, int64_t x, int64_t y, const BatchPlan& plan,
                  std::vector<KeyedPiece>& out) {
  const int64_t x0 = std::clamp<int64_t>(x, 0, l.width);
  const int64_t x1 = std::clamp<int64_t>(x + plan.width, 0, l.width);
  const int64_t y0 = std::clamp<int64_t>(y, 0, l.height);
  const int64_t y1 = std::clamp<int64_t>(y + plan.height, 0, l.height);
  if (x0 >= x1 || y0 >= y1) return;
  const int64_t tw = l.tile_width, th = l.tile_height;
  for (int64_t ty = y0 / th; ty <= (y1 - 1) / th; ++ty) {
    for (int64_t tx = x0 / tw; tx <= (x1 - 1) / tw; ++tx) {
      const int64_t ax0 = std::max(tx * tw, x0), ax1 = std::min(tx * tw + tw, x1);
      const int64_t ay0 = std::max(ty * th, y0), ay1 = std::min(ty * th + th, y1);
      BatchPiece p;
      p.region = region;
      p.src_x = static_cast<int32_t>(ax0 - tx * tw);
      p.src_y = static_cast<int32_t>(ay0 - ty * th);
      p.dst_x = static_cast<int32_t>(ax0 - x);
      p.dst_y = static_cast<int32_t>(ay0 - y);
      p.width = static_cast<int32_t>(ax1 - ax0);
      p.height = static_cast<int32_t>(ay1 - ay0);
      out.push_back({ty, tx, p});
    }
  }
}

}  // namespace

BatchPlan plan_batch(const Level& l, std::span<const RegionLocation> locations, int64_t width,
                     int64_t height) {
  if (width < 0 || height < 0) {
    throw Error(ErrorKind::invalid_argument, "negative region size", {{}, l.index});
  }
  constexpr int64_t kMaxSide = std::numeric_limits<int32_t>::max() / 2;
  if (width > kMaxSide || height > kMaxSide) {
    throw Error(ErrorKind::invalid_argument,
                "region size " + std::to_string(width) + " x " + std::to_string(height) +
                    " is too large for a batched read",
                {{}, l.index});
  }
  if (locations.size() > std::numeric_limits<uint32_t>::max() / 4) {
    throw Error(ErrorKind::invalid_argument, "too many regions in one batch", {{}, l.index});
  }
  if (l.tile_width == 0 || l.tile_height == 0) {
    throw Error(ErrorKind::format, "level has no tile size", {{}, l.index});
  }
  BatchPlan plan;
  plan.width = width;
  plan.height = height;
  const size_t n = locations.size();
  plan.x.resize(n);
  plan.y.resize(n);
  plan.needs_fill.resize(n);
  std::vector<KeyedPiece> keyed;
  for (size_t i = 0; i < n; ++i) {
    const int64_t x = level_coordinate(locations[i].x, l.downsample);
    const int64_t y = level_coordinate(locations[i].y, l.downsample);
    plan.x[i] = x;
    plan.y[i] = y;
    plan.needs_fill[i] = x < 0 || y < 0 || x + width > l.width || y + height > l.height;
    if (width > 0 && height > 0) split_region(l, static_cast<uint32_t>(i), x, y, plan, keyed);
  }
  if (keyed.size() > std::numeric_limits<uint32_t>::max()) {
    throw Error(ErrorKind::invalid_argument, "too many tile pieces in one batch", {{}, l.index});
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const KeyedPiece& a, const KeyedPiece& b) {
    return a.ty != b.ty ? a.ty < b.ty : a.tx < b.tx;
  });
  plan.pieces.reserve(keyed.size());
  for (size_t i = 0; i < keyed.size(); ++i) {
    if (i == 0 || keyed[i].ty != keyed[i - 1].ty || keyed[i].tx != keyed[i - 1].tx) {
      plan.tiles.push_back(
          {keyed[i].tx, keyed[i].ty, static_cast<uint32_t>(plan.pieces.size()), 0});
    }
    plan.pieces.push_back(keyed[i].piece);
    ++plan.tiles.back().piece_count;
  }
  return plan;
}

}  // namespace read
}  // namespace slidestream
