#include "cuda/check.hpp"
#include "read/cuda/placement.hpp"

namespace slidestream::read {
namespace {

constexpr uint32_t kRowsPerBlock = 4;
constexpr int kThreads = 256;

// One block copies kRowsPerBlock rows of one placement. Rows whose source, destination and length
// are 16-byte aligned move as uint4 (the common case: 512-px RGB rows are 1536 bytes); others as
// bytes, since row pitches of callers' buffers can be anything.
__global__ void place_kernel(const std::byte* __restrict__ staging,
                             const Placement* __restrict__ placements) {
  const Placement p = placements[blockIdx.x];
  for (uint32_t r0 = blockIdx.y * kRowsPerBlock; r0 < p.rows; r0 += gridDim.y * kRowsPerBlock)
    for (uint32_t r = r0; r < min(p.rows, r0 + kRowsPerBlock); ++r) {
      const std::byte* src = staging + p.src_offset + static_cast<uint64_t>(r) * p.src_pitch;
      std::byte* dst = p.dst + static_cast<uint64_t>(r) * p.dst_pitch;
      bool aligned =
          ((reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst) | p.row_bytes) &
           15u) == 0;
      if (aligned) {
        const uint4* s = reinterpret_cast<const uint4*>(src);
        uint4* d = reinterpret_cast<uint4*>(dst);
        for (uint32_t i = threadIdx.x; i < p.row_bytes / 16; i += blockDim.x) d[i] = s[i];
      } else {
        for (uint32_t i = threadIdx.x; i < p.row_bytes; i += blockDim.x) dst[i] = src[i];
      }
    }
}

__global__ void fill_kernel(std::byte* dst, size_t pitch, size_t row_bytes, size_t rows,
                            uint32_t sample, uint32_t sample_bytes) {
  for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
    std::byte* row = dst + r * pitch;
    for (size_t i = threadIdx.x; i < row_bytes; i += blockDim.x) {
      row[i] = static_cast<std::byte>((sample >> (8 * (i % sample_bytes))) & 0xFF);
    }
  }
}

}  // namespace

void fill_samples(std::byte* dst, size_t pitch, size_t row_bytes, size_t rows,
                  const std::byte* sample, size_t sample_bytes, cudaStream_t stream) {
  if (rows == 0 || row_bytes == 0) return;
  uint32_t value = 0;
  for (size_t i = 0; i < sample_bytes && i < 4; ++i) {
    value |= static_cast<uint32_t>(sample[i]) << (8 * i);  // little-endian host and device
  }
  unsigned blocks = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  fill_kernel<<<blocks, kThreads, 0, stream>>>(dst, pitch, row_bytes, rows, value,
                                               static_cast<uint32_t>(sample_bytes));
  slidestream::cuda::check(cudaGetLastError(), "fill_kernel launch");
}

void place(const std::byte* staging, const Placement* placements, int count, uint32_t max_rows,
           cudaStream_t stream) {
  if (count <= 0 || max_rows == 0) return;
  uint32_t row_blocks = (max_rows + kRowsPerBlock - 1) / kRowsPerBlock;
  dim3 grid(static_cast<unsigned>(count), row_blocks < 65535u ? row_blocks : 65535u);
  place_kernel<<<grid, kThreads, 0, stream>>>(staging, placements);
  slidestream::cuda::check(cudaGetLastError(), "place_kernel launch");
}

}  // namespace slidestream::read
