// The host read path behind Slide::read_* (and reusable by benchmarks and the pipeline): reads
// and decodes the tiles of one image (a pyramid level or an associated image) into a view. It
// asks the image's tile source (source/level_source.hpp) where each tile's bytes are and how
// they decode; missing tiles get ReadOptions::fill.
#pragma once

#include <cstdint>
#include <string>

#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"
#include "source/level_source.hpp"

namespace slidestream::read {

struct RegionSource {
  const source::LevelSource& tiles;
  const std::string& file;  // the slide's path, for error context
  int level_index;          // -1 for an associated image (error context)

  const Level& layout() const noexcept { return tiles.layout(); }
};

// Throws invalid_argument unless `out` is a host view that can take width × height pixels of
// the source's channels and data type.
void check_output(const RegionSource& source, int64_t width, int64_t height, const ImageView& out);
// Why `out` cannot take a width × height region of `layout` on `device`; empty when it can.
// Shared by the host and GPU read paths (the GPU path adds its pointer checks).
std::string output_view_problem(const Level& layout, Device device, int64_t width, int64_t height,
                                const ImageView& out);

// Tile (tx, ty), all tile_width × tile_height pixels including an edge tile's padding, into out.
void read_full_tile(const RegionSource& source, int64_t tx, int64_t ty, const ImageView& out,
                    const ReadOptions& options, ReadReport* report);

// Tile (tx, ty), all planes, into `dest` (tile_width wide; tile_height rows, or the level's
// height for strips taller than the level, interleaved): what read_area decodes per tile.
// Missing tiles get `fill`. Returns the bytes read from the file. Errors carry file, level,
// tile and offset.
uint64_t decode_tile(const RegionSource& source, int64_t tx, int64_t ty, const ImageView& dest,
                     uint8_t fill);
// The rows a decode_tile destination needs for this source (tile_height, but no more than the
// level's height for strips); throws limit for tiles no TIFF writer makes.
int64_t decoded_tile_rows(const RegionSource& source);

// [x, x+width) × [y, y+height) into out; pixels outside the image get options.fill. Tiles are
// decoded on up to options.threads threads (0: all hardware threads; 1: this thread only).
void read_area(const RegionSource& source, int64_t x, int64_t y, int64_t width, int64_t height,
               const ImageView& out, const ReadOptions& options, ReadReport* report);

// Sets every sample of every pixel of `view` (a host view) to `value`.
void fill_view(const ImageView& view, uint8_t value);

}  // namespace slidestream::read
