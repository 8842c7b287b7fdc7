// The pipeline's geometry: the grid of output tiles, the window each op of a chain reads and
// writes for one tile (the halo arithmetic), and the order in which tiles are visited. Pure
// integer arithmetic, no I/O, so it is tested on its own.
#pragma once

#include <cstdint>
#include <vector>

namespace slidestream::pipeline {

// A rectangle in a level's pixel coordinates.
struct Rect {
  int64_t x = 0;
  int64_t y = 0;
  int64_t width = 0;
  int64_t height = 0;

  bool empty() const noexcept { return width <= 0 || height <= 0; }
  bool operator==(const Rect&) const = default;
};

// `r` grown by `by` pixels on every side, then clipped to the image [0, width) × [0, height).
Rect expand_clipped(const Rect& r, int64_t by, int64_t image_width, int64_t image_height) noexcept;

// The windows a chain of ops with these halo radii passes through to produce `out`:
// windows[0] is what must be read, windows[i + 1] is what op i writes (windows.back() == out).
// Op i reads windows[i], which holds every image pixel within radii[i] of windows[i + 1], clipped
// to the image: the image border is then handled by the op's own image-extent rule, exactly as
// when the whole level is processed at once, so tiles never see a tile border as an image border.
std::vector<Rect> chain_windows(const Rect& out, const std::vector<int>& radii, int64_t image_width,
                                int64_t image_height);

// Output tiles of edge `tile` over an image; the last row and column may be smaller.
class TileGrid {
 public:
  TileGrid(int64_t image_width, int64_t image_height, int64_t tile);

  int64_t image_width() const noexcept { return width_; }
  int64_t image_height() const noexcept { return height_; }
  int64_t tile() const noexcept { return tile_; }
  int64_t across() const noexcept { return across_; }
  int64_t down() const noexcept { return down_; }
  int64_t count() const noexcept { return across_ * down_; }
  Rect rect(int64_t index) const noexcept;  // index = ty * across + tx
  Rect rect(int64_t tx, int64_t ty) const noexcept;

 private:
  int64_t width_, height_, tile_, across_, down_;
};

// Row-major order (best read locality), or Z (Morton) order, in which every aligned 2^k × 2^k
// block of tiles is visited before the next: a pyramid built tile by tile then completes each
// coarser chunk soon after its first child, so only a few partial chunks are ever held.
std::vector<int64_t> tile_order(int64_t across, int64_t down, bool z_order);

// Sizes of the 2× pyramid below a level of width × height: level k + 1 is floor(w / 2) ×
// floor(h / 2) of level k (libvips' rule), added while level k's smaller side is at least `tile`.
// The result starts with the base level itself.
struct LevelSize {
  int64_t width = 0;
  int64_t height = 0;
};
std::vector<LevelSize> pyramid_sizes(int64_t width, int64_t height, int64_t tile, bool pyramid);

}  // namespace slidestream::pipeline
