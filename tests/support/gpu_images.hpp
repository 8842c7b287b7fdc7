// Helpers for GPU tests that compare images read into GPU memory with host reads (CUDA builds).
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "slidestream/image.hpp"

namespace slidestream::test {

// A host view's pixels, rows packed without padding.
inline std::vector<std::byte> tight(const ImageView& v) {
  std::vector<std::byte> out(v.tight_bytes());
  for (int64_t y = 0; y < v.height; ++y) {
    std::memcpy(out.data() + static_cast<size_t>(y) * v.row_bytes(), v.row(y), v.row_bytes());
  }
  return out;
}

// A GPU view's pixels copied to the host, rows packed without padding.
inline std::vector<std::byte> to_host(const ImageView& v) {
  std::vector<std::byte> host(v.tight_bytes());
  EXPECT_EQ(cudaMemcpy2D(host.data(), v.row_bytes(), v.data, v.row_pitch, v.row_bytes(),
                         static_cast<size_t>(v.height), cudaMemcpyDeviceToHost),
            cudaSuccess);
  return host;
}

// Largest difference between two byte images (uint8 samples; wider samples compare as bytes,
// which is all an exact comparison needs); *differing counts the bytes that differ.
inline int max_abs_difference(const std::vector<std::byte>& a, const std::vector<std::byte>& b,
                              size_t* differing) {
  int worst = 0;
  *differing = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    int d = std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i]));
    if (d) ++*differing;
    worst = std::max(worst, d);
  }
  return worst;
}

// GPU memory the way a caller allocates it: cudaMallocPitch with `extra_row_bytes` more per row
// than the image needs, so that the pitch is the caller's, not the library's.
class PitchedDeviceImage {
 public:
  PitchedDeviceImage(int64_t width, int64_t height, int channels, DataType dtype,
                     size_t extra_row_bytes) {
    const size_t row = static_cast<size_t>(width) * channels * size_of(dtype);
    void* data = nullptr;
    size_t pitch = 0;
    cudaError_t status =
        cudaMallocPitch(&data, &pitch, row + extra_row_bytes, static_cast<size_t>(height));
    if (status != cudaSuccess) {
      throw std::runtime_error(std::string("cudaMallocPitch: ") + cudaGetErrorString(status));
    }
    view_ = ImageView{.data = static_cast<std::byte*>(data),
                      .width = width,
                      .height = height,
                      .channels = channels,
                      .dtype = dtype,
                      .row_pitch = pitch,
                      .device = Device::cuda,
                      .cuda_device = 0};
  }
  ~PitchedDeviceImage() { cudaFree(view_.data); }
  PitchedDeviceImage(const PitchedDeviceImage&) = delete;
  PitchedDeviceImage& operator=(const PitchedDeviceImage&) = delete;
  const ImageView& view() const noexcept { return view_; }

 private:
  ImageView view_;
};

}  // namespace slidestream::test
