// RAII owners for CUDA streams, events, pinned host memory and device memory. Move-only; every
// creation is checked; destruction never throws.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "cuda/check.hpp"

namespace slidestream::cuda {

class Stream {
 public:
  Stream() {
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~Stream() {
    if (stream_) cudaStreamDestroy(stream_);
  }
  Stream(Stream&& o) noexcept : stream_(std::exchange(o.stream_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    std::swap(stream_, o.stream_);
    return *this;
  }
  cudaStream_t get() const noexcept { return stream_; }
  void synchronize() const { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  explicit Event(unsigned flags = cudaEventDisableTiming) {
    check(cudaEventCreateWithFlags(&event_, flags), "cudaEventCreate");
  }
  ~Event() {
    if (event_) cudaEventDestroy(event_);
  }
  Event(Event&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}
  Event& operator=(Event&& o) noexcept {
    std::swap(event_, o.event_);
    return *this;
  }
  cudaEvent_t get() const noexcept { return event_; }
  void record(cudaStream_t stream) const {
    check(cudaEventRecord(event_, stream), "cudaEventRecord");
  }
  void synchronize() const { check(cudaEventSynchronize(event_), "cudaEventSynchronize"); }

 private:
  cudaEvent_t event_ = nullptr;
};

// Page-locked host memory (cudaHostAlloc), for bounce buffers reused across many copies.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes) : size_(bytes) {
    if (bytes) check(cudaHostAlloc(&data_, bytes, cudaHostAllocPortable), "cudaHostAlloc");
  }
  ~PinnedBuffer() {
    if (data_) cudaFreeHost(data_);
  }
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  std::byte* data() const noexcept { return static_cast<std::byte*>(data_); }
  size_t size() const noexcept { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : size_(bytes) {
    if (bytes) check(cudaMalloc(&data_, bytes), "cudaMalloc");
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  std::byte* data() const noexcept { return static_cast<std::byte*>(data_); }
  size_t size() const noexcept { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Device memory allocated on first use: a staging slot's device twin, which readers that copy
// straight from pinned memory to their own destination (the band executor's streamed ranges)
// never touch, so it never takes device memory for them. data() allocates on `device` (the
// caller's current device is left as it was) and throws Error like cudaMalloc's check; not
// thread-safe (one holder at a time, as a staging slot has).
class LazyDeviceBuffer {
 public:
  LazyDeviceBuffer() = default;
  LazyDeviceBuffer(int device, size_t bytes) : device_(device), size_(bytes) {}
  std::byte* data() const {
    if (buffer_.data() == nullptr && size_ > 0) {
      int previous = 0;
      check(cudaGetDevice(&previous), "cudaGetDevice");
      if (previous != device_) check(cudaSetDevice(device_), "cudaSetDevice");
      try {
        buffer_ = DeviceBuffer(size_);
      } catch (...) {
        if (previous != device_) cudaSetDevice(previous);
        throw;
      }
      if (previous != device_) check(cudaSetDevice(previous), "cudaSetDevice");
    }
    return buffer_.data();
  }
  size_t size() const noexcept { return size_; }
  bool allocated() const noexcept { return buffer_.data() != nullptr; }

 private:
  int device_ = 0;
  size_t size_ = 0;
  mutable DeviceBuffer buffer_;
};

}  // namespace slidestream::cuda
