// Staging for host→GPU reads: pinned host buffers, a device twin of each (allocated when a reader
// first uses it: readers that copy from pinned memory straight to their destination never do),
// a stream and an event, allocated once per process and handed out again and again.
// cudaHostAlloc costs about as much as the copy it serves, so a read must never allocate pinned
// memory per call.
#pragma once

#include <cstddef>
#include <memory>

#include "codec/cuda/placement.hpp"
#include "cuda/resources.hpp"
#include "io/cuda/cufile_shim.hpp"

namespace slidestream::io::cuda {

struct StagingSlot {
  // Room for placement descriptors after the data, copied to the device with it.
  static constexpr size_t kMaxPlacements = 2048;
  static constexpr size_t kPlacementBytes = kMaxPlacements * sizeof(codec::cuda::Placement);

  StagingSlot(int device, size_t capacity);

  int device;
  size_t capacity;                              // data bytes (placements come after)
  slidestream::cuda::PinnedBuffer host;         // capacity + kPlacementBytes, page-aligned
  slidestream::cuda::LazyDeviceBuffer staging;  // capacity + kPlacementBytes, on first use
  slidestream::cuda::Stream stream;
  slidestream::cuda::Event idle;                // recorded after the last work that reads `host`
  bool busy = false;                            // `idle` was recorded and not yet waited for
  io::cufile::BufferRegistration registration;  // of `staging`, made on first cuFile use

  codec::cuda::Placement* host_placements() const noexcept {
    return reinterpret_cast<codec::cuda::Placement*>(host.data() + capacity);
  }
  codec::cuda::Placement* device_placements() const {
    return reinterpret_cast<codec::cuda::Placement*>(staging.data() + capacity);
  }
  // The same room, for other kernels' descriptors (e.g. codec::cuda::YccTile).
  static constexpr size_t kDescriptorBytes = kPlacementBytes;
  std::byte* host_descriptors() const noexcept { return host.data() + capacity; }
  std::byte* device_descriptors() const { return staging.data() + capacity; }
  // Waits until the GPU no longer reads this slot's host buffer.
  void wait_idle();
};

class StagingPool;
struct SlotReturn {
  void operator()(StagingSlot* slot) const noexcept;
};
using SlotLease = std::unique_ptr<StagingSlot, SlotReturn>;

// A slot on `device` with at least `capacity` data bytes; back to the pool when the lease ends
// (the holder waits for its work first). Throws Error(out_of_memory) when memory runs out.
SlotLease acquire_slot(int device, size_t capacity);

}  // namespace slidestream::io::cuda
