// convert_patches on the GPU (patches/convert.hpp): one block per row, each thread looking its
// samples up in the value table made on the host (so the bytes equal the CPU's).
#include <cuda_runtime_api.h>

#include <memory>
#include <vector>

#include "cuda/check.hpp"
#include "cuda/resources.hpp"
#include "ops/area_resample.hpp"
#include "patches/convert.hpp"

namespace slidestream::patches {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void convert_kernel(const uint8_t* in, size_t pitch, size_t row_samples, int channels,
                               const uint32_t* table, T* out) {
  const size_t y = blockIdx.x;
  const uint8_t* src = in + y * pitch;
  T* dst = out + y * row_samples;
  for (size_t i = threadIdx.x; i < row_samples; i += blockDim.x) {
    dst[i] = static_cast<T>(table[(i % channels) * 256 + src[i]]);
  }
}

}  // namespace

void convert_cuda(const ImageView& in, std::byte* out, PatchDtype dtype,
                  const std::vector<uint32_t>& table) {
  int previous = 0;
  cuda::check(cudaGetDevice(&previous), "cudaGetDevice");
  cuda::check(cudaSetDevice(in.cuda_device), "cudaSetDevice");
  struct Restore {
    int device;
    ~Restore() { (void)cudaSetDevice(device); }
  } restore{previous};
  // Stream-ordered memory: a cudaFree per batch would wait for the whole device.
  const size_t table_bytes = table.size() * sizeof(uint32_t);
  const std::shared_ptr<std::byte> device_table = ops::device_scratch(table_bytes, in.cuda_device);
  cuda::Stream stream;
  cuda::check(cudaMemcpyAsync(device_table.get(), table.data(), table_bytes, cudaMemcpyHostToDevice,
                              stream.get()),
              "cudaMemcpyAsync (value table)");
  const size_t row_samples = static_cast<size_t>(in.width) * static_cast<size_t>(in.channels);
  const auto* src = reinterpret_cast<const uint8_t*>(in.data);
  const auto* t = reinterpret_cast<const uint32_t*>(device_table.get());
  const auto rows = static_cast<unsigned>(in.height);
  if (dtype == PatchDtype::float32) {
    convert_kernel<uint32_t><<<rows, kThreads, 0, stream.get()>>>(
        src, in.row_pitch, row_samples, in.channels, t, reinterpret_cast<uint32_t*>(out));
  } else {
    convert_kernel<uint16_t><<<rows, kThreads, 0, stream.get()>>>(
        src, in.row_pitch, row_samples, in.channels, t, reinterpret_cast<uint16_t*>(out));
  }
  cuda::check(cudaGetLastError(), "convert_kernel launch");
  stream.synchronize();
}

}  // namespace slidestream::patches
