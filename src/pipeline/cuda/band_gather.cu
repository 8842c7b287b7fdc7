#include <algorithm>

#include "cuda/check.hpp"
#include "pipeline/cuda/band_gather.hpp"

namespace slidestream::pipeline {
namespace {

struct alignas(16) Vec16 {
  uint4 v;
};

// One thread per V-sized piece of a window row; grid.y strides over the rows. A piece never
// straddles two tiles (the caller checks that tile_row_bytes is a multiple of sizeof(V)), and
// the last piece of a row may read past the image's right edge, into the last tile's padding,
// which the ring holds in full.
template <typename V>
__global__ void gather_kernel(const std::byte* __restrict__ ring, TileRingLayout layout, int64_t y0,
                              int64_t rows, uint64_t pieces, std::byte* __restrict__ window,
                              uint64_t window_pitch) {
  const uint64_t piece = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (piece >= pieces) return;
  const uint64_t x = piece * sizeof(V);
  for (int64_t j = blockIdx.y; j < rows; j += gridDim.y) {
    const uint64_t from = tile_ring_offset(layout, y0 + j, x);
    *reinterpret_cast<V*>(window + static_cast<uint64_t>(j) * window_pitch + x) =
        *reinterpret_cast<const V*>(ring + from);
  }
}

template <typename V>
void launch(const std::byte* ring, const TileRingLayout& layout, int64_t y0, int64_t rows,
            size_t row_bytes, std::byte* window, size_t window_pitch, cudaStream_t stream) {
  const uint64_t pieces = (row_bytes + sizeof(V) - 1) / sizeof(V);
  constexpr unsigned kThreads = 256;
  dim3 grid(static_cast<unsigned>((pieces + kThreads - 1) / kThreads),
            static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
  gather_kernel<V>
      <<<grid, kThreads, 0, stream>>>(ring, layout, y0, rows, pieces, window, window_pitch);
  cuda::check(cudaGetLastError(), "gather_kernel launch");
}

}  // namespace

void gather_tile_rows(const std::byte* ring, const TileRingLayout& layout, int64_t y0, int64_t rows,
                      size_t row_bytes, std::byte* window, size_t window_pitch,
                      cudaStream_t stream) {
  if (rows <= 0 || row_bytes == 0) return;
  auto aligned = [&](size_t n) {
    return layout.tile_row_bytes % n == 0 && layout.tile_bytes % n == 0 &&
           layout.slot_bytes % n == 0 && window_pitch % n == 0 &&
           reinterpret_cast<uintptr_t>(ring) % n == 0 &&
           reinterpret_cast<uintptr_t>(window) % n == 0 &&
           (row_bytes + n - 1) / n * n <= window_pitch;
  };
  if (aligned(16)) {
    launch<Vec16>(ring, layout, y0, rows, row_bytes, window, window_pitch, stream);
  } else if (aligned(4)) {
    launch<uint32_t>(ring, layout, y0, rows, row_bytes, window, window_pitch, stream);
  } else {
    launch<unsigned char>(ring, layout, y0, rows, row_bytes, window, window_pitch, stream);
  }
}

}  // namespace slidestream::pipeline
