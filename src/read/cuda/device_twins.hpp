// The device side of the CPU workers' staging in a GPU read. A CPU worker fills a pinned slot
// (a raw file range, or tiles it decoded), and the slot's bytes go to the GPU once, to be placed
// by one kernel. Giving every slot a device twin of its own made a read's device memory grow with
// its threads and its range size (16 threads × 2 slots × 32 MiB cold ranges: 1.1 GiB beyond the
// output on the lent H200; issue 16.4 allows 256 MiB). The copies run one after another on the
// copy engine anyway, so a few device buffers, shared in turn, serve any number of workers: a
// slot's copy waits on the GPU (never on the host) for the buffer's previous placement.
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda/resources.hpp"

namespace slidestream::read {

class DeviceTwins {
 public:
  // Up to `budget` bytes of buffers of `data_bytes` + `descriptor_bytes` each, at least two,
  // never more than `most` (two per worker: what each worker could use at once). A buffer is
  // allocated (on the current device) only when every one allocated before is busy, so a read
  // holds as many as its copies keep in flight, not as many as it may.
  DeviceTwins(size_t data_bytes, size_t descriptor_bytes, size_t budget, size_t most);

  size_t data_bytes() const noexcept { return data_bytes_; }

  // Copies `data_used` bytes from `host_data` and `descriptor_used` from `host_descriptors` to a
  // buffer on `stream`, after the buffer's previous work there, then enqueues
  // `consume(device_data, device_descriptors)` on `stream` and marks the buffer busy until then.
  // The host memory must stay untouched until the stream reaches the copies' end.
  template <class Consume>
  void copy_then(const std::byte* host_data, size_t data_used, const std::byte* host_descriptors,
                 size_t descriptor_used, cudaStream_t stream, Consume&& consume) {
    std::unique_lock<std::mutex> hold;  // until its event is recorded: the next user waits on it
    Twin& twin = acquire(hold);
    std::byte* device = prepare(twin, stream);
    copy(device, host_data, data_used, stream);
    copy(device + data_bytes_, host_descriptors, descriptor_used, stream);
    consume(device, device + data_bytes_);
    twin.done.record(stream);
    twin.used = true;
  }

 private:
  struct Twin {
    std::mutex mutex;
    cuda::DeviceBuffer buffer;
    cuda::Event done;
    bool used = false;
  };
  Twin& acquire(std::unique_lock<std::mutex>& hold);
  std::byte* prepare(Twin& twin, cudaStream_t stream);
  static void copy(std::byte* device, const std::byte* host, size_t bytes, cudaStream_t stream);

  size_t data_bytes_, descriptor_bytes_;
  std::vector<std::unique_ptr<Twin>> twins_;
  std::atomic<size_t> turn_{0};
};

}  // namespace slidestream::read
