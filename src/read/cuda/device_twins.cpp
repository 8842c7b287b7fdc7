#include "read/cuda/device_twins.hpp"

#include <algorithm>

#include "cuda/check.hpp"

namespace slidestream::read {

DeviceTwins::DeviceTwins(size_t data_bytes, size_t descriptor_bytes, size_t budget, size_t most)
    : data_bytes_(data_bytes), descriptor_bytes_(descriptor_bytes) {
  const size_t each = data_bytes + descriptor_bytes;
  const size_t fit = each > 0 ? budget / each : 0;
  const size_t count = std::max<size_t>(2, std::min(fit, std::max<size_t>(most, 2)));
  twins_.reserve(count);
  for (size_t i = 0; i < count; ++i) twins_.push_back(std::make_unique<Twin>());
}

namespace {

bool finished(const cuda::Event& event) {
  const cudaError_t state = cudaEventQuery(event.get());
  // "Not ready" is an answer, not a failure: keep it from being taken for the last error by the
  // next launch check on this thread. Any real error surfaces at the next checked call.
  if (state == cudaErrorNotReady) (void)cudaGetLastError();
  return state == cudaSuccess;
}

}  // namespace

// The first buffer whose last copy and placement are done (allocating the next one when every
// allocated buffer is still busy); when all are allocated and busy, the next in turn, whose work
// the caller's stream then waits for on the GPU.
DeviceTwins::Twin& DeviceTwins::acquire(std::unique_lock<std::mutex>& hold) {
  for (const std::unique_ptr<Twin>& twin : twins_) {
    std::unique_lock<std::mutex> lock(twin->mutex, std::try_to_lock);
    if (!lock.owns_lock()) continue;
    if (twin->buffer.data() == nullptr || !twin->used || finished(twin->done)) {
      hold = std::move(lock);
      return *twin;
    }
  }
  Twin& twin = *twins_[turn_.fetch_add(1, std::memory_order_relaxed) % twins_.size()];
  hold = std::unique_lock<std::mutex>(twin.mutex);
  return twin;
}

std::byte* DeviceTwins::prepare(Twin& twin, cudaStream_t stream) {
  if (twin.buffer.data() == nullptr)
    twin.buffer = cuda::DeviceBuffer(data_bytes_ + descriptor_bytes_);
  if (twin.used) {
    cuda::check(cudaStreamWaitEvent(stream, twin.done.get(), 0), "cudaStreamWaitEvent (staging)");
  }
  return twin.buffer.data();
}

void DeviceTwins::copy(std::byte* device, const std::byte* host, size_t bytes,
                       cudaStream_t stream) {
  if (bytes == 0) return;
  cuda::check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream),
              "cudaMemcpyAsync (staging)");
}

}  // namespace slidestream::read
