#include "pipeline/tiling.hpp"

#include <algorithm>

#include "slidestream/error.hpp"

namespace slidestream::pipeline {

Rect expand_clipped(const Rect& r, int64_t by, int64_t image_width, int64_t image_height) noexcept {
  int64_t x0 = std::max<int64_t>(0, r.x - by);
  int64_t y0 = std::max<int64_t>(0, r.y - by);
  int64_t x1 = std::min(image_width, r.x + r.width + by);
  int64_t y1 = std::min(image_height, r.y + r.height + by);
  return Rect{x0, y0, std::max<int64_t>(0, x1 - x0), std::max<int64_t>(0, y1 - y0)};
}

std::vector<Rect> chain_windows(const Rect& out, const std::vector<int>& radii, int64_t image_width,
                                int64_t image_height) {
  std::vector<Rect> windows(radii.size() + 1);
  windows.back() = out;
  int64_t grown = 0;
  for (size_t i = radii.size(); i-- > 0;) {
    if (radii[i] < 0) throw Error(ErrorKind::invalid_argument, "negative halo radius");
    grown += radii[i];
    // Growing the output by the sum of the remaining radii, then clipping once, equals growing
    // windows[i + 1] by radii[i] and clipping: the clip only ever removes what lies outside.
    windows[i] = expand_clipped(out, grown, image_width, image_height);
  }
  return windows;
}

TileGrid::TileGrid(int64_t image_width, int64_t image_height, int64_t tile)
    : width_(image_width), height_(image_height), tile_(tile) {
  if (tile <= 0) throw Error(ErrorKind::invalid_argument, "tile edge must be positive");
  if (image_width <= 0 || image_height <= 0) {
    throw Error(ErrorKind::invalid_argument, "cannot tile an empty image");
  }
  across_ = (image_width + tile - 1) / tile;
  down_ = (image_height + tile - 1) / tile;
}

Rect TileGrid::rect(int64_t tx, int64_t ty) const noexcept {
  int64_t x = tx * tile_;
  int64_t y = ty * tile_;
  return Rect{x, y, std::min(tile_, width_ - x), std::min(tile_, height_ - y)};
}

Rect TileGrid::rect(int64_t index) const noexcept {
  return rect(index % across_, index / across_);
}

namespace {

// Inverse of the Morton interleave for one coordinate: the even bits of `code`.
uint32_t compact_bits(uint64_t code) noexcept {
  code &= 0x5555555555555555ull;
  code = (code | (code >> 1)) & 0x3333333333333333ull;
  code = (code | (code >> 2)) & 0x0f0f0f0f0f0f0f0full;
  code = (code | (code >> 4)) & 0x00ff00ff00ff00ffull;
  code = (code | (code >> 8)) & 0x0000ffff0000ffffull;
  code = (code | (code >> 16)) & 0x00000000ffffffffull;
  return static_cast<uint32_t>(code);
}

}  // namespace

std::vector<int64_t> tile_order(int64_t across, int64_t down, bool z_order) {
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(across * down));
  if (!z_order) {
    for (int64_t i = 0; i < across * down; ++i) order.push_back(i);
    return order;
  }
  int64_t side = 1;
  while (side < across || side < down) side *= 2;
  for (uint64_t code = 0; code < static_cast<uint64_t>(side * side); ++code) {
    int64_t tx = compact_bits(code);
    int64_t ty = compact_bits(code >> 1);
    if (tx < across && ty < down) order.push_back(ty * across + tx);
  }
  return order;
}

std::vector<LevelSize> pyramid_sizes(int64_t width, int64_t height, int64_t tile, bool pyramid) {
  std::vector<LevelSize> sizes{{width, height}};
  if (!pyramid) return sizes;
  while (std::min(sizes.back().width, sizes.back().height) >= tile) {
    LevelSize next{sizes.back().width / 2, sizes.back().height / 2};
    if (next.width < 1 || next.height < 1) break;
    sizes.push_back(next);
  }
  return sizes;
}

}  // namespace slidestream::pipeline
