// Places rectangles of bytes (tiles, or the part of a tile inside a region) from a staging buffer
// into their spot of a pitched destination, all in one kernel launch: one H2D copy of a whole
// staging buffer plus this kernel beats one small 2-D copy per tile. The placements of a staging
// slot travel in its descriptor room (io::cuda::StagingSlot), which io keeps untyped.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "io/cuda/staging_pool.hpp"

namespace slidestream::read {

// One rectangle: `rows` rows of `row_bytes` bytes, read from src_offset in the staging buffer
// with src_pitch between rows, written to dst with dst_pitch between rows.
struct Placement {
  uint64_t src_offset = 0;
  uint64_t src_pitch = 0;
  std::byte* dst = nullptr;
  uint64_t dst_pitch = 0;
  uint32_t row_bytes = 0;
  uint32_t rows = 0;
};

// A staging slot's descriptor room holds this many placements.
inline constexpr size_t kMaxPlacements =
    io::cuda::StagingSlot::kDescriptorBytes / sizeof(Placement);
static_assert(kMaxPlacements == 2048);
inline Placement* host_placements(const io::cuda::StagingSlot& slot) noexcept {
  return reinterpret_cast<Placement*>(slot.host_descriptors());
}
inline Placement* device_placements(const io::cuda::StagingSlot& slot) {
  return reinterpret_cast<Placement*>(slot.device_descriptors());
}

// `placements` is a device array of `count` entries; `max_rows` bounds every entry's rows.
// Asynchronous on `stream`; launch errors are thrown as Error(cuda).
void place(const std::byte* staging, const Placement* placements, int count, uint32_t max_rows,
           cudaStream_t stream);

// Sets every sample of a pitched rectangle to one value, given as the bytes of one sample
// (1, 2 or 4 bytes: uint8, uint16, uint32 or float32). Asynchronous on `stream`.
void fill_samples(std::byte* dst, size_t pitch, size_t row_bytes, size_t rows,
                  const std::byte* sample, size_t sample_bytes, cudaStream_t stream);

}  // namespace slidestream::read
