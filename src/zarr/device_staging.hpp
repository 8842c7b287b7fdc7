// The GPU side of Zarr writes and reads, behind a plain interface so that the writer and reader
// compile without CUDA. Implemented in zarr/cuda/device_staging.cpp (CUDA builds) and
// zarr/device_staging_stub.cpp (CPU builds, where every call throws unsupported).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "slidestream/image.hpp"

namespace slidestream::zarr::device {

// A page-locked, 4 KiB-aligned host buffer with its own CUDA stream: one write unit (chunk or
// shard) is copied into it from the GPU, then written to disk from it directly (O_DIRECT-able).
class StagingSlot {
 public:
  virtual ~StagingSlot() = default;
  virtual std::byte* data() const noexcept = 0;
  virtual size_t size() const noexcept = 0;
  // Queues a copy of `src` (a view on a GPU) to data() + dst_offset, rows dst_pitch bytes apart.
  virtual void copy_async(const ImageView& src, size_t dst_offset, size_t dst_pitch) = 0;
  // Waits for every queued copy.
  virtual void wait() = 0;
  void copy_from_device(const ImageView& src, size_t dst_pitch) {
    copy_async(src, 0, dst_pitch);
    wait();
  }
};

// Throws Error(out_of_memory) when pinned memory runs out, unsupported without CUDA.
std::unique_ptr<StagingSlot> make_staging_slot(size_t bytes, int cuda_device);

// Why chunk writes from GPU memory go through pinned staging and POSIX rather than cuFile on this
// machine, for WriteReport.io_path: cuFile's availability (the io/cuda shim) and our write path.
std::string cufile_write_note();

// Copies between any two views of equal size (host or GPU, either way), synchronously.
void copy_view(const ImageView& dst, const ImageView& src);

}  // namespace slidestream::zarr::device
