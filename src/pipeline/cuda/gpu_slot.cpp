// The GPU slot: a pinned staging buffer for the read, device buffers for the input window, the
// chain's intermediates and the output, a pinned buffer for the result on its way to the writer,
// and one stream. compute() only enqueues (copy up, kernels, copy down); the write stage waits
// on the stream, so the CPU reads the next tiles while this one is on the GPU.
#include <cuda_runtime_api.h>

#include <algorithm>

#include "cuda/check.hpp"
#include "cuda/resources.hpp"
#include "pipeline/slot.hpp"
#include "slidestream/error.hpp"

namespace slidestream::pipeline {
namespace {

size_t pixel_bytes(const ops::PixelFormat& f) {
  return size_of(f.dtype) * static_cast<size_t>(f.channels);
}

// Selects the slot's GPU for the calling thread (stage threads are not bound to one).
void use_device(int device) {
  cuda::check(cudaSetDevice(device), "cudaSetDevice");
}

class GpuSlot final : public Slot {
 public:
  explicit GpuSlot(const SlotLayout& layout) : layout_(layout) {
    use_device(layout.cuda_device);
    size_t n = layout.chain.size();
    size_t input_bytes =
        static_cast<size_t>(layout.max_window_pixels[0]) * pixel_bytes(layout.formats[0]);
    size_t output_bytes =
        static_cast<size_t>(layout.max_window_pixels[n]) * pixel_bytes(layout.formats[n]);
    if (!layout.read_into_device) staging_ = cuda::PinnedBuffer(input_bytes);
    input_ = cuda::DeviceBuffer(input_bytes);
    if (n >= 1 && layout.host_results) output_ = cuda::DeviceBuffer(output_bytes);
    if (layout.host_results) result_ = cuda::PinnedBuffer(output_bytes);
    device_bytes_ = input_.size() + output_.size();
  }

  ~GpuSlot() override {
    // Buffers must outlive the copies and kernels still queued on the stream (after a
    // cancellation, a slot may be destroyed with work in flight).
    if (stream_.get()) cudaStreamSynchronize(stream_.get());
  }

  ImageView input(const Rect& window) override {
    if (layout_.read_into_device) {
      return tight_view(input_.data(), window.width, window.height, layout_.formats[0],
                        Device::cuda, layout_.cuda_device);
    }
    return tight_view(staging_.data(), window.width, window.height, layout_.formats[0],
                      Device::cpu);
  }

  void compute(const std::vector<Rect>& windows, const ImageView* destination) override {
    use_device(layout_.cuda_device);
    cudaStream_t stream = stream_.get();
    size_t n = layout_.chain.size();
    ImageView in = tight_view(input_.data(), windows[0].width, windows[0].height,
                              layout_.formats[0], Device::cuda, layout_.cuda_device);
    if (!layout_.read_into_device) {
      cuda::check(cudaMemcpyAsync(in.data, staging_.data(), in.tight_bytes(),
                                  cudaMemcpyHostToDevice, stream),
                  "cudaMemcpyAsync (tile to GPU)");
    } else {
      // The GPU read path finished writing before read_region returned; nothing to order.
    }
    const Rect& last = windows.back();
    output_rect_ = last;
    ImageView out_view =
        destination ? *destination
                    : tight_view(n == 0 ? input_.data() : output_.data(), last.width, last.height,
                                 layout_.formats[n], Device::cuda, layout_.cuda_device);
    if (n == 0 && destination) {
      copy_2d(in, *destination, stream);
    }
    if (n > 0) {
      ops::apply_chain(layout_.chain, in, {windows[0].x, windows[0].y}, out_view, {last.x, last.y},
                       layout_.image, stream);
    }
    if (!destination) {
      cuda::check(cudaMemcpyAsync(result_.data(), out_view.data, out_view.tight_bytes(),
                                  cudaMemcpyDeviceToHost, stream),
                  "cudaMemcpyAsync (tile from GPU)");
    }
  }

  void wait() override { stream_.synchronize(); }

  ImageView host_output() override {
    return tight_view(result_.data(), output_rect_.width, output_rect_.height,
                      layout_.formats[layout_.chain.size()], Device::cpu);
  }

  uint64_t device_bytes() const noexcept override { return device_bytes_; }

 private:
  static void copy_2d(const ImageView& from, const ImageView& to, cudaStream_t stream) {
    cuda::check(
        cudaMemcpy2DAsync(to.data, to.row_pitch, from.data, from.row_pitch, from.row_bytes(),
                          static_cast<size_t>(from.height), cudaMemcpyDefault, stream),
        "cudaMemcpy2DAsync");
  }

  const SlotLayout& layout_;
  cuda::Stream stream_;
  cuda::PinnedBuffer staging_, result_;
  cuda::DeviceBuffer input_, output_;
  uint64_t device_bytes_ = 0;
  Rect output_rect_;
};

}  // namespace

std::unique_ptr<Slot> make_gpu_slot(const SlotLayout& layout) {
  return std::make_unique<GpuSlot>(layout);
}

void gpu_synchronize(int cuda_device) {
  use_device(cuda_device);
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

uint64_t gpu_used_bytes(int cuda_device) {
  use_device(cuda_device);
  size_t free_bytes = 0, total_bytes = 0;
  cuda::check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  return total_bytes - free_bytes;
}

void gpu_copy(const ImageView& from, const ImageView& to) {
  if (from.width != to.width || from.height != to.height ||
      from.pixel_bytes() != to.pixel_bytes()) {
    throw Error(ErrorKind::invalid_argument, "gpu_copy: views differ in size or format");
  }
  cuda::check(cudaMemcpy2D(to.data, to.row_pitch, from.data, from.row_pitch, from.row_bytes(),
                           static_cast<size_t>(from.height), cudaMemcpyDefault),
              "cudaMemcpy2D");
}

}  // namespace slidestream::pipeline
