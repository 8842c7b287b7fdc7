#include "cuda/host_copy.hpp"

#include <cuda_runtime_api.h>

#include "cuda/check.hpp"
#include "slidestream/error.hpp"

namespace slidestream::cuda {

void copy_to_host(const ImageView& src, const ImageView& dst) {
  if (src.device != Device::cuda || dst.device != Device::cpu || src.width != dst.width ||
      src.height != dst.height || src.pixel_bytes() != dst.pixel_bytes()) {
    throw Error(ErrorKind::invalid_argument,
                "copy_to_host wants a GPU view and a host view of "
                "the same size and pixel layout");
  }
  if (src.width == 0 || src.height == 0) return;
  check(cudaSetDevice(src.cuda_device), "cudaSetDevice");
  check(cudaMemcpy2D(dst.data, dst.row_pitch, src.data, src.row_pitch, src.row_bytes(),
                     static_cast<size_t>(src.height), cudaMemcpyDeviceToHost),
        "cudaMemcpy2D (device to host)");
}

}  // namespace slidestream::cuda
