// The GPU side of Zarr writes and reads, behind a plain interface so that the writer and reader
// compile without CUDA. Implemented in zarr/cuda/device_staging.cpp (CUDA builds) and
// zarr/device_staging_stub.cpp (CPU builds, where every call throws unsupported).
#pragma once

#include <cstddef>
#include <filesystem>
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
  // Marks the copies queued so far; wait_for(marker) returns once they landed, while later ones
  // may still be in flight. Markers are valid until the next wait().
  virtual int record() = 0;
  virtual void wait_for(int marker) = 0;
  void copy_from_device(const ImageView& src, size_t dst_pitch) {
    copy_async(src, 0, dst_pitch);
    wait();
  }
};

// Throws Error(out_of_memory) when pinned memory runs out, unsupported without CUDA.
std::unique_ptr<StagingSlot> make_staging_slot(size_t bytes, int cuda_device);

// Device memory registered with cuFile (cuFileBufRegister), with its own CUDA stream: one write
// unit is gathered into it from a pitched GPU view (device to device), then written to its file
// with cuFileWrite, so the pixels never pass through host memory (GPUDirect Storage).
class DeviceStage {
 public:
  virtual ~DeviceStage() = default;
  virtual size_t size() const noexcept = 0;
  // Queues a copy of `src` (a view on this stage's GPU) to offset dst_offset, rows dst_pitch apart.
  virtual void copy_async(const ImageView& src, size_t dst_offset, size_t dst_pitch) = 0;
  // Queues a copy of `bytes` host bytes (the fill pattern of padded chunks, a shard's index);
  // `host` must stay valid until wait().
  virtual void upload_async(const std::byte* host, size_t bytes, size_t dst_offset) = 0;
  virtual void wait() = 0;
  // Writes [0, bytes) of the stage to `fd` from file offset 0 with cuFileWrite. Returns false, with
  // *why, where cuFile cannot register this file; throws Error on a failed or short write.
  virtual bool write_file(int fd, size_t bytes, std::string* why) = 0;
};

// Throws Error(out_of_memory) when device memory runs out, unsupported without CUDA.
std::unique_ptr<DeviceStage> make_device_stage(size_t bytes, int cuda_device);

// Empty when cuFile can write files in `directory` (a probe file there registers with
// cuFileHandleRegister), else why not: library missing, driver not opened, nvidia-fs absent, file
// system refused. A failure caused by a missing nvidia-fs is remembered for the process (it will
// not change, and each probe costs milliseconds).
std::string cufile_write_problem(const std::filesystem::path& directory);

// True when cuFile works only in its compatibility mode (no nvidia-fs: its own POSIX path, not
// GPUDirect Storage), so that reports never call such a write GDS.
bool cufile_compat_mode();

// Copies between any two views of equal size (host or GPU, either way), synchronously.
void copy_view(const ImageView& dst, const ImageView& src);

}  // namespace slidestream::zarr::device
