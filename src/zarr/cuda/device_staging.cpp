// GPU ↔ host copies for Zarr: pinned staging slots with their own stream for writes, and
// cudaMemcpy2D for reads into GPU views.
#include "zarr/device_staging.hpp"

#include <cuda_runtime_api.h>

#include <mutex>
#include <vector>

#include "cuda/check.hpp"
#include "cuda/resources.hpp"
#include "zarr/cuda/stage_cache.hpp"

namespace slidestream::zarr::device {
namespace {

// Pinned memory with its stream, kept across writers: cudaHostAlloc of hundreds of MiB takes
// longer than writing them, so a pyramid (one writer per level) or a series of arrays must not
// pay it again each time. Bounded: beyond kCacheLimit, released slots are freed.
struct PinnedStage {
  int device = 0;
  cuda::PinnedBuffer buffer;
  cuda::Stream stream;
  std::vector<cuda::Event> events;  // markers, reused from unit to unit
  size_t events_used = 0;
};

constexpr size_t kCacheLimit = size_t{2} << 30;

StageCache<PinnedStage>& cache() {
  // Leaked on purpose: freeing pinned memory after the CUDA runtime has shut down at exit fails.
  static auto* instance = new StageCache<PinnedStage>(kCacheLimit);
  return *instance;
}

std::unique_ptr<PinnedStage> take_stage(size_t bytes, int device) {
  if (auto stage = cache().take_cached(bytes, device)) return stage;
  cuda::check(cudaSetDevice(device), "cudaSetDevice");
  auto stage = std::make_unique<PinnedStage>();
  stage->device = device;
  // cudaHostAlloc returns page-aligned memory, so writes can go straight out with O_DIRECT.
  stage->buffer = cuda::PinnedBuffer((bytes + 4095) / 4096 * 4096);
  return stage;
}

class CudaStagingSlot final : public StagingSlot {
 public:
  CudaStagingSlot(size_t bytes, int cuda_device) : stage_(take_stage(bytes, cuda_device)) {
    stage_->events_used = 0;
  }
  ~CudaStagingSlot() override {
    // Copies may be in flight after an exception: the memory is reused only once they landed.
    cache().give_when_idle(std::move(stage_));
  }
  std::byte* data() const noexcept override { return stage_->buffer.data(); }
  size_t size() const noexcept override { return stage_->buffer.size(); }

  void copy_async(const ImageView& src, size_t dst_offset, size_t dst_pitch) override {
    cuda::check(cudaSetDevice(stage_->device), "cudaSetDevice");
    cuda::check(cudaMemcpy2DAsync(stage_->buffer.data() + dst_offset, dst_pitch, src.data,
                                  src.row_pitch, src.row_bytes(), static_cast<size_t>(src.height),
                                  cudaMemcpyDeviceToHost, stage_->stream.get()),
                "cudaMemcpy2DAsync (GPU to pinned staging)");
  }
  void wait() override {
    stage_->stream.synchronize();
    stage_->events_used = 0;
  }
  int record() override {
    cuda::check(cudaSetDevice(stage_->device), "cudaSetDevice");
    if (stage_->events_used == stage_->events.size()) stage_->events.emplace_back();
    const size_t i = stage_->events_used++;
    stage_->events[i].record(stage_->stream.get());
    return static_cast<int>(i);
  }
  void wait_for(int marker) override {
    stage_->events.at(static_cast<size_t>(marker)).synchronize();
  }

 private:
  std::unique_ptr<PinnedStage> stage_;
};

}  // namespace

std::unique_ptr<StagingSlot> make_staging_slot(size_t bytes, int cuda_device) {
  return std::make_unique<CudaStagingSlot>(bytes, cuda_device);
}

void copy_view(const ImageView& dst, const ImageView& src) {
  int device = dst.device == Device::cuda ? dst.cuda_device : src.cuda_device;
  if (dst.device == Device::cuda || src.device == Device::cuda) {
    cuda::check(cudaSetDevice(device), "cudaSetDevice");
  }
  // cudaMemcpyDefault: unified addressing tells the directions apart.
  cuda::check(cudaMemcpy2D(dst.data, dst.row_pitch, src.data, src.row_pitch, src.row_bytes(),
                           static_cast<size_t>(src.height), cudaMemcpyDefault),
              "cudaMemcpy2D");
}

}  // namespace slidestream::zarr::device
