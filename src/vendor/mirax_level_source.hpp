// A MIRAX level served as a tile source: the camera images OpenSlide's tilemap places (each at
// its stored position, overlapping its neighbours, often between pixels) composed, on request,
// into a regular grid of uncompressed tiles (tilemap_compose.hpp, shared with Leica SCN): reading
// tile t's bytes decodes the images that overlap it (kept in a small cache of decoded images)
// and paints them as OpenSlide 4.0.1 does (mirax_resample.hpp): in its order (read_tiles walks
// rows bottom to top and columns right to left), each at its place (bilinear resampling where
// that is between pixels), with cairo's SATURATE operator onto premultiplied ARGB32, then
// un-premultiplied to RGB. Where images overlap, the first painted (the largest (row, column))
// is on top; where it is partly transparent (its resampled border) the next shows through.
// Pixels no image covers are 0 (OpenSlide's transparent black); a grid tile no image touches
// is missing, which readers fill with ReadOptions::fill.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "source/byte_store.hpp"
#include "source/level_source.hpp"
#include "vendor/tilemap_paint.hpp"

namespace slidestream::vendor::mirax {

// One stored camera image (a JPEG in a data file).
struct StoredImage {
  uint32_t datafile = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// One tile of OpenSlide's tilemap (tilemap_paint.hpp).
using Placement = TilemapPlacement;

struct ComposedLevel {
  int64_t width = 0, height = 0;
  int32_t image_width = 0, image_height = 0;  // every stored image's size
  std::vector<StoredImage> images;
  std::vector<Placement> placements;
};

// The level's source. `datafiles` are the slide's data files, shared by its levels.
std::shared_ptr<source::LevelSource> make_composed_source(
    ComposedLevel level, std::vector<std::shared_ptr<const source::FileStore>> datafiles,
    int level_index);

}  // namespace slidestream::vendor::mirax
