// Staging for host→GPU reads: pinned host buffers, a device twin of each (allocated when a reader
// first uses it: readers that copy from pinned memory straight to their destination never do),
// a stream and an event, allocated once per process and handed out again and again.
// cudaHostAlloc costs about as much as the copy it serves, so a read must never allocate pinned
// memory per call.
#pragma once

#include <cstddef>
#include <memory>

#include "cuda/resources.hpp"
#include "shim/cufile.hpp"

namespace slidestream::io::cuda {

struct StagingSlot {
  // Room after the data for the descriptors of the kernels that consume it (placements, colour
  // conversion jobs...), copied to the device with it. Its layout is the caller's: io knows only
  // its size (2048 placements of 40 bytes, read/cuda/placement.hpp).
  static constexpr size_t kDescriptorBytes = 80 * 1024;

  StagingSlot(int device, size_t capacity);

  int device;
  size_t capacity;                              // data bytes (descriptors come after)
  slidestream::cuda::PinnedBuffer host;         // capacity + kDescriptorBytes, page-aligned
  slidestream::cuda::LazyDeviceBuffer staging;  // capacity + kDescriptorBytes, on first use
  slidestream::cuda::Stream stream;
  slidestream::cuda::Event idle;                  // recorded after the last work that reads `host`
  bool busy = false;                              // `idle` was recorded and not yet waited for
  shim::cufile::BufferRegistration registration;  // of `staging`, made on first cuFile use

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
