// The band executor's gather from a ring of tile-rows held in the file's tile layout (streamed
// uncompressed levels) into a window in image layout, the Sobel-ready view of the band's rows.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "pipeline/band.hpp"

namespace slidestream::pipeline {

// Copies image rows [y0, y0 + rows), row_bytes each, from `ring` (laid out as `layout` says)
// into `window` (rows window_pitch apart). Asynchronous on `stream`; launch errors throw.
// 16 bytes per thread when the tile rows and the pitch allow it (they do for every TIFF: tile
// widths are multiples of 16); the bytes past row_bytes up to the pitch may be overwritten.
void gather_tile_rows(const std::byte* ring, const TileRingLayout& layout, int64_t y0, int64_t rows,
                      size_t row_bytes, std::byte* window, size_t window_pitch,
                      cudaStream_t stream);

}  // namespace slidestream::pipeline
