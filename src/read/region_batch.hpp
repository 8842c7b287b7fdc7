// The plan of a batched region read (slidestream/regions.hpp): which tiles the batch touches,
// each once, and for each tile the pieces of it that land in each region. Pure arithmetic on the
// level's layout, shared by the host and GPU batch readers and tested without a slide.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::read {

// The part of one tile that lands in one region: [src_x, src_x + width) × [src_y, src_y + height)
// of the tile goes to (dst_x, dst_y) of region `region` (coordinates inside the region).
struct BatchPiece {
  uint32_t region = 0;
  int32_t src_x = 0, src_y = 0;
  int32_t dst_x = 0, dst_y = 0;
  int32_t width = 0, height = 0;
};

// A tile the batch touches and its pieces: pieces[first_piece, first_piece + piece_count).
struct BatchTile {
  int64_t tx = 0, ty = 0;
  uint32_t first_piece = 0;
  uint32_t piece_count = 0;
};

struct BatchPlan {
  int64_t width = 0, height = 0;  // every region's size
  std::vector<BatchTile> tiles;   // each tile once, in (row, column) order
  std::vector<BatchPiece> pieces;
  // Per region: its corner in level pixels, and whether part of it lies outside the level
  // (that region is filled with ReadOptions::fill before its pieces are placed).
  std::vector<int64_t> x, y;
  std::vector<uint8_t> needs_fill;
};

// Level-0 locations to level pixels (level_coordinate), then the plan. Throws invalid_argument
// for a negative size, a level without a tile size, or more pieces than a plan indexes.
BatchPlan plan_batch(const Level& level, std::span<const RegionLocation> locations, int64_t width,
                     int64_t height);

}  // namespace slidestream::read
