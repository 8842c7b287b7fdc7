// A MIRAX level served as a tile source: the camera images OpenSlide's tilemap places (each at
// its stored position, overlapping its neighbours) composed, on request, into a regular grid of
// uncompressed tiles. The level's one store is a ComposedStore: reading tile t's bytes decodes
// the images that overlap it (kept in a small cache of decoded images) and paints them in
// OpenSlide's order (its read_tiles walks rows bottom to top and columns right to left, painting
// with cairo's SATURATE operator, where the first opaque paint of a pixel stays: where images
// overlap, the one with the largest (row, column) is on top). Pixels no image
// covers are 0 (OpenSlide's transparent black); a grid tile no image touches is missing, which
// readers fill with ReadOptions::fill.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "source/byte_store.hpp"
#include "source/level_source.hpp"

namespace slidestream::vendor::mirax {

// One stored camera image (a JPEG in a data file).
struct StoredImage {
  uint32_t datafile = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// One tile of OpenSlide's tilemap: `image`'s pixels [src_x, src_x + width) × [src_y, src_y +
// height) drawn with their top-left corner at (x, y) of the level. `rank` orders overlaps: the
// lower one is drawn on top.
struct Placement {
  uint32_t image = 0;  // index into the level's images
  int64_t x = 0, y = 0;
  int32_t src_x = 0, src_y = 0;
  int32_t width = 0, height = 0;
  uint64_t rank = 0;
};

struct ComposedLevel {
  int64_t width = 0, height = 0;
  int32_t image_width = 0, image_height = 0;  // every stored image's size
  std::vector<StoredImage> images;
  std::vector<Placement> placements;
};

inline constexpr uint32_t kComposedTile = 256;

// The level's source. `datafiles` are the slide's data files, shared by its levels.
std::shared_ptr<source::LevelSource> make_composed_source(
    ComposedLevel level, std::vector<std::shared_ptr<const source::FileStore>> datafiles,
    int level_index);

}  // namespace slidestream::vendor::mirax
