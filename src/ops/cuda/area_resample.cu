// Area-average resampling on the GPU (ops/area_resample.hpp): one block per output row, its
// threads over the row's samples, each running the same area_sample as the CPU loop. The axis
// tables travel to the device in one buffer per call.
#include <cuda_runtime_api.h>

#include <cstring>
#include <vector>

#include "cuda/check.hpp"
#include "cuda/resources.hpp"
#include "ops/area_resample.hpp"

namespace slidestream::ops {
namespace {

constexpr int kThreads = 256;

__global__ void area_kernel(const std::byte* in, size_t in_pitch, int64_t in_rows, std::byte* out,
                            size_t out_pitch, int64_t out_rows, int64_t width, int channels,
                            AreaAxisView ax, AreaAxisView ay) {
  const int64_t r = blockIdx.x;
  const int64_t region = r / out_rows, oy = r % out_rows;
  const auto* src =
      reinterpret_cast<const uint8_t*>(in + static_cast<size_t>(region * in_rows) * in_pitch);
  auto* dst = reinterpret_cast<uint8_t*>(out + static_cast<size_t>(r) * out_pitch);
  const int64_t samples = width * channels;
  for (int64_t i = threadIdx.x; i < samples; i += blockDim.x) {
    const int64_t ox = i / channels;
    const int c = static_cast<int>(i % channels);
    dst[i] = area_sample(src, in_pitch, channels, ax, ay, ox, oy, c);
  }
}

// The tables of one axis appended to `bytes`; the view's pointers are offsets until rebased.
template <typename T>
size_t append(std::vector<std::byte>& bytes, const std::vector<T>& v) {
  const size_t at = (bytes.size() + 15) / 16 * 16;
  bytes.resize(at + v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(bytes.data() + at, v.data(), v.size() * sizeof(T));
  return at;
}

struct Offsets {
  size_t first, count, offset, weights, total;
};
Offsets append_axis(std::vector<std::byte>& bytes, const AreaAxis& a) {
  return {append(bytes, a.first), append(bytes, a.count), append(bytes, a.offset),
          append(bytes, a.weights), append(bytes, a.total)};
}
AreaAxisView rebase(const std::byte* base, const Offsets& o) {
  return {reinterpret_cast<const int32_t*>(base + o.first),
          reinterpret_cast<const int32_t*>(base + o.count),
          reinterpret_cast<const int32_t*>(base + o.offset),
          reinterpret_cast<const int32_t*>(base + o.weights),
          reinterpret_cast<const int64_t*>(base + o.total)};
}

}  // namespace

std::shared_ptr<std::byte> device_scratch(size_t bytes, int device) {
  int previous = 0;
  cuda::check(cudaGetDevice(&previous), "cudaGetDevice");
  cuda::check(cudaSetDevice(device), "cudaSetDevice");
  struct Restore {
    int device;
    ~Restore() { (void)cudaSetDevice(device); }
  } restore{previous};
  cuda::Stream stream;
  void* p = nullptr;
  cuda::check(cudaMallocAsync(&p, bytes > 0 ? bytes : 1, stream.get()), "cudaMallocAsync");
  stream.synchronize();
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [device](std::byte* q) {
    int was = 0;
    (void)cudaGetDevice(&was);
    if (was != device) (void)cudaSetDevice(device);
    (void)cudaFreeAsync(q, nullptr);
    if (was != device) (void)cudaSetDevice(was);
  });
}

void area_resample_cuda(const ImageView& in, const ImageView& out, int64_t regions,
                        const AreaAxis& ax, const AreaAxis& ay) {
  if (regions <= 0 || out.height == 0 || out.width == 0) return;
  int previous = 0;
  cuda::check(cudaGetDevice(&previous), "cudaGetDevice");
  cuda::check(cudaSetDevice(out.cuda_device), "cudaSetDevice");
  struct Restore {
    int device;
    ~Restore() { (void)cudaSetDevice(device); }
  } restore{previous};
  std::vector<std::byte> tables;
  const Offsets ox = append_axis(tables, ax), oy = append_axis(tables, ay);
  const std::shared_ptr<std::byte> device_tables = device_scratch(tables.size(), out.cuda_device);
  cuda::Stream stream;
  cuda::check(cudaMemcpyAsync(device_tables.get(), tables.data(), tables.size(),
                              cudaMemcpyHostToDevice, stream.get()),
              "cudaMemcpyAsync (area tables)");
  area_kernel<<<static_cast<unsigned>(out.height), kThreads, 0, stream.get()>>>(
      in.data, in.row_pitch, in.height / regions, out.data, out.row_pitch, out.height / regions,
      out.width, out.channels, rebase(device_tables.get(), ox), rebase(device_tables.get(), oy));
  cuda::check(cudaGetLastError(), "area_kernel launch");
  stream.synchronize();
}

}  // namespace slidestream::ops
