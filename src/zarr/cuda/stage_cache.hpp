// Staging buffers kept across writers: allocating (and registering) tens or hundreds of MiB costs
// more than writing them, so a pyramid (one writer per level) or a series of arrays must not pay
// it again each time. Bounded: beyond `limit` bytes the oldest cached stages are freed.
//
// Stage: any type with `int device`, `buffer.size()` and `cuda::Stream stream`.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace slidestream::zarr::device {

template <typename Stage>
class StageCache {
 public:
  explicit StageCache(size_t limit) : limit_(limit) {}

  // The smallest cached stage on `device` with at least `bytes`, or nullptr.
  std::unique_ptr<Stage> take_cached(size_t bytes, int device) {
    std::lock_guard lock(mutex_);
    size_t best = free_.size();
    for (size_t i = 0; i < free_.size(); ++i) {
      if (free_[i]->device == device && free_[i]->buffer.size() >= bytes &&
          (best == free_.size() || free_[i]->buffer.size() < free_[best]->buffer.size())) {
        best = i;
      }
    }
    if (best == free_.size()) return nullptr;
    auto stage = std::move(free_[best]);
    free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
    cached_ -= stage->buffer.size();
    return stage;
  }

  // Keeps `stage` for reuse once the copies on its stream have landed; a stage whose stream
  // failed is in an unknown state and is freed instead, as is one larger than the whole cache.
  void give_when_idle(std::unique_ptr<Stage> stage) noexcept {
    if (!stage) return;
    if (cudaStreamSynchronize(stage->stream.get()) != cudaSuccess) {
      (void)cudaGetLastError();
      return;
    }
    std::lock_guard lock(mutex_);
    const size_t size = stage->buffer.size();
    while (!free_.empty() && cached_ + size > limit_) {
      cached_ -= free_.front()->buffer.size();
      free_.erase(free_.begin());
    }
    if (size > limit_) return;
    cached_ += size;
    try {
      free_.push_back(std::move(stage));
    } catch (...) {
      cached_ -= size;  // could not keep it: freed by the unique_ptr
    }
  }

 private:
  const size_t limit_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Stage>> free_;
  size_t cached_ = 0;
};

}  // namespace slidestream::zarr::device
