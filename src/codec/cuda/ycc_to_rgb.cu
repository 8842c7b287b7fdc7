#include "codec/cuda/ycc_to_rgb.hpp"
#include "cuda/check.hpp"

namespace slidestream::codec::cuda {
namespace {

constexpr unsigned kBlockX = 32, kBlockY = 8;

__global__ void ycc_to_rgb_kernel(const YccTile* __restrict__ tiles) {
  const YccTile& t = tiles[blockIdx.z];
  const uint32_t x = blockIdx.x * kBlockX + threadIdx.x;
  const uint32_t y = blockIdx.y * kBlockY + threadIdx.y;
  if (x >= t.width || y >= t.height) return;
  uint8_t rgb[3];
  ycc::pixel(t.planes, t.src_x + x, t.src_y + y, rgb);
  auto* out = reinterpret_cast<uint8_t*>(t.dst + static_cast<uint64_t>(y) * t.dst_pitch) + 3 * x;
  out[0] = rgb[0];
  out[1] = rgb[1];
  out[2] = rgb[2];
}

}  // namespace

void ycc_to_rgb(const YccTile* tiles, int count, uint32_t max_width, uint32_t max_height,
                cudaStream_t stream) {
  if (count <= 0 || max_width == 0 || max_height == 0) return;
  dim3 block(kBlockX, kBlockY);
  dim3 grid((max_width + kBlockX - 1) / kBlockX, (max_height + kBlockY - 1) / kBlockY,
            static_cast<unsigned>(count));
  ycc_to_rgb_kernel<<<grid, block, 0, stream>>>(tiles);
  slidestream::cuda::check(cudaGetLastError(), "ycc_to_rgb_kernel launch");
}

}  // namespace slidestream::codec::cuda
