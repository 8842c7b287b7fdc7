// GPU ↔ host copies for Zarr: pinned staging slots with their own stream for writes, and
// cudaMemcpy2D for reads into GPU views.
#include "zarr/device_staging.hpp"

#include <cuda_runtime_api.h>

#include "cuda/check.hpp"
#include "cuda/resources.hpp"
#include "io/cuda/cufile_shim.hpp"

namespace slidestream::zarr::device {
namespace {

class CudaStagingSlot final : public StagingSlot {
 public:
  CudaStagingSlot(size_t bytes, int cuda_device) : device_(cuda_device) {
    cuda::check(cudaSetDevice(cuda_device), "cudaSetDevice");
    // cudaHostAlloc returns page-aligned memory, so writes can go straight out with O_DIRECT.
    buffer_ = cuda::PinnedBuffer((bytes + 4095) / 4096 * 4096);
  }
  std::byte* data() const noexcept override { return buffer_.data(); }
  size_t size() const noexcept override { return buffer_.size(); }

  void copy_from_device(const ImageView& src, size_t dst_pitch) override {
    cuda::check(cudaSetDevice(device_), "cudaSetDevice");
    cuda::check(
        cudaMemcpy2DAsync(buffer_.data(), dst_pitch, src.data, src.row_pitch, src.row_bytes(),
                          static_cast<size_t>(src.height), cudaMemcpyDeviceToHost, stream_.get()),
        "cudaMemcpy2DAsync (GPU to pinned staging)");
    stream_.synchronize();
  }

 private:
  int device_;
  cuda::PinnedBuffer buffer_;
  cuda::Stream stream_;
};

}  // namespace

std::unique_ptr<StagingSlot> make_staging_slot(size_t bytes, int cuda_device) {
  return std::make_unique<CudaStagingSlot>(bytes, cuda_device);
}

std::string cufile_write_note() {
  const auto& a = io::cufile::availability();
  if (!a.driver_open || !a.nvidia_fs) {
    return "cufile unavailable (" + (a.why.empty() ? std::string("unknown") : a.why) +
           "), fell back to posix";
  }
  // GDS is present, but chunk writes still leave through pinned staging: a chunk is a pitched
  // sub-rectangle of the source, which cuFileWrite cannot take without a device-side gather.
  return "cufile present but not used for writes (pinned staging + posix)";
}

void copy_view(const ImageView& dst, const ImageView& src) {
  cudaMemcpyKind kind = cudaMemcpyDefault;  // unified addressing tells the directions apart
  int device = dst.device == Device::cuda ? dst.cuda_device : src.cuda_device;
  if (dst.device == Device::cuda || src.device == Device::cuda) {
    cuda::check(cudaSetDevice(device), "cudaSetDevice");
  }
  cuda::check(cudaMemcpy2D(dst.data, dst.row_pitch, src.data, src.row_pitch, src.row_bytes(),
                           static_cast<size_t>(src.height), kind),
              "cudaMemcpy2D");
}

}  // namespace slidestream::zarr::device
