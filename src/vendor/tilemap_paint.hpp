// OpenSlide's tilemap grid (openslide-grid.c), painted onto composed grid tiles: the pieces of
// a level (MIRAX camera images, Ventana BIF scanned tiles) each placed at any real position,
// overlapping their neighbours, painted in OpenSlide's order with cairo's SATURATE operator onto
// premultiplied ARGB32 (mirax_resample.hpp redoes cairo's and pixman's arithmetic bit for bit),
// then un-premultiplied to RGB as openslide-python does. Each vendor says how a piece's image is
// decoded; the placing, ordering and painting are shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vendor/mirax_resample.hpp"
#include "vendor/tilemap_compose.hpp"

namespace slidestream::vendor {

// One tile of OpenSlide's tilemap: a surface of width × height pixels painted with its
// top-left corner at (x, y) of the level (any real numbers: cairo resamples where they are not
// whole). The surface is the whole image, or (`cut`, read_tile's copy of a part of it) the
// ceil(tile) pixels of the image from (src_x, src_y) on, itself resampled where that corner is
// not whole. `rank` is OpenSlide's painting order: the lower one is painted first.
struct TilemapPlacement {
  uint32_t image = 0;  // index into the level's images
  double x = 0, y = 0;
  double src_x = 0, src_y = 0;
  // The tilemap tile's size: OpenSlide skips a tile that ends at or before the surface's start.
  double tile_w = 0, tile_h = 0;
  int32_t width = 0, height = 0;
  bool cut = false;
  uint64_t rank = 0;
};

// A decoded image as cairo paints it, and what keeps its pixels alive.
struct DecodedSurface {
  mirax::Surface surface;
  std::shared_ptr<const void> owner;
};

// Paints grid tile t from the placements that reach it. Subclasses decode the images.
class TilemapComposer : public TileComposer {
 public:
  // `what` names the level in errors (e.g. "MIRAX level 2").
  TilemapComposer(int64_t width, int64_t height, std::vector<TilemapPlacement> placements,
                  const std::string& what);

  bool touches(size_t t) const final { return !buckets_[t].empty(); }
  void compose(size_t t, std::byte* out) const final;

 protected:
  // Image `index` of the level, decoded; thrown errors name where it is stored.
  virtual DecodedSurface surface_of(uint32_t index) const = 0;

 private:
  int64_t width_, height_, across_, down_;
  std::vector<TilemapPlacement> placements_;
  std::vector<std::vector<uint32_t>> buckets_;  // per grid tile: placements in painting order
};

}  // namespace slidestream::vendor
