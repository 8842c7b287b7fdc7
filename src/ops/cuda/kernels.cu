// CUDA kernels of the ops. The per-pixel arithmetic is kernel_math.hpp's and pointwise.hpp's,
// the same functions the CPU path runs, with explicit round-to-nearest intrinsics, so results
// equal the CPU's bit for bit. Indexing is 64-bit wherever a pixel offset is formed.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "cuda/check.hpp"
#include "ops/gpu_thread_bodies.hpp"
#include "ops/kernels.hpp"
#include "slidestream/error.hpp"

namespace slidestream::ops::detail {
namespace {

using gpu::Geometry;
using gpu::kBlockThreads;
using gpu::kMaxGridY;
using gpu::kThreadsY;
using gpu::kTileH;
using gpu::kTileW;

cudaStream_t as_stream(void* s) {
  return static_cast<cudaStream_t>(s);
}

// Makes `device` current for the lifetime of the guard, restoring the caller's device after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cuda::check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) cuda::check(cudaSetDevice(device), "cudaSetDevice");
    changed_ = previous_ != device;
  }
  ~DeviceGuard() {
    if (changed_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

template <Pointwise K>
__device__ __forceinline__ const float* load_table(const PointwiseParams& p, float* shared) {
  if constexpr (K == Pointwise::od || K == Pointwise::hed || K == Pointwise::macenko) {
    int tid = threadIdx.y * blockDim.x + threadIdx.x;
    for (int i = tid; i < 256; i += blockDim.x * blockDim.y) shared[i] = p.table[i];
    return shared;  // the caller synchronises before use
  } else {
    return p.table;
  }
}

// C: channels the Sobel runs on (after the pointwise op), IC: input channels.
template <Pointwise K, typename T, int IC, int C, bool U8>
__global__ void __launch_bounds__(kBlockThreads)
    sobel_kernel(const __grid_constant__ PointwiseParams params, const std::byte* __restrict__ in,
                 size_t in_pitch, std::byte* __restrict__ out, size_t out_pitch, Geometry g) {
  __shared__ gpu::Tile<C> tile;
  __shared__ float table_shared[256];
  const float* table = load_table<K>(params, table_shared);
  __syncthreads();

  const int tid = threadIdx.y * kTileW + threadIdx.x;
  const int64_t tiles_y = (g.out_h + kTileH - 1) / kTileH;
  const int64_t x0 = g.out_x + static_cast<int64_t>(blockIdx.x) * kTileW;  // image coordinates
  for (int64_t by = blockIdx.y; by < tiles_y; by += gridDim.y) {
    const int64_t y0 = g.out_y + by * kTileH;
    gpu::sobel_load<K, T, IC, C>(params, table, in, in_pitch, g, x0, y0, tid, tile);
    __syncthreads();
    gpu::sobel_store<C, U8>(tile, out, out_pitch, g, x0, y0, threadIdx.x, threadIdx.y);
    __syncthreads();  // the next tile overwrites `tile`
  }
}

template <Pointwise K, typename T, int IC, int C>
__global__ void __launch_bounds__(256)
    pointwise_kernel(const __grid_constant__ PointwiseParams params,
                     const std::byte* __restrict__ in, size_t in_pitch, std::byte* __restrict__ out,
                     size_t out_pitch, int64_t width, int64_t height) {
  __shared__ float table_shared[256];
  const float* table = load_table<K>(params, table_shared);
  __syncthreads();
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (x >= width) return;
  for (int64_t y = blockIdx.y; y < height; y += gridDim.y) {
    gpu::pointwise_at<K, T, IC, C>(params, table, in, in_pitch, out, out_pitch, x, y);
  }
}

// One thread per output sample (pixel × channel) of a row; rows over the grid's y.
template <typename T>
__global__ void __launch_bounds__(256)
    downsample_kernel(const std::byte* __restrict__ in, size_t in_pitch,
                      std::byte* __restrict__ out, size_t out_pitch, int64_t samples,
                      int64_t height, int channels) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= samples) return;
  for (int64_t y = blockIdx.y; y < height; y += gridDim.y) {
    gpu::downsample_at<T>(in, in_pitch, out, out_pitch, i, y, channels);
  }
}

unsigned grid_y(int64_t rows) {
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(rows, 1), kMaxGridY));
}

void check_launch(const char* what) {
  cuda::check(cudaGetLastError(), what);
}

[[noreturn]] void refuse(const std::string& what) {
  throw Error(ErrorKind::unsupported, "ops (CUDA): " + what);
}

template <Pointwise K, typename T, int IC, int C>
void launch_sobel(const SobelJob& job, const ImageView& in, const ImageView& out, const Geometry& g,
                  cudaStream_t stream) {
  dim3 block(kTileW, kThreadsY);
  int64_t tiles_x = (g.out_w + kTileW - 1) / kTileW;
  if (tiles_x > 0x7fffffff) refuse("image too wide");
  dim3 grid(static_cast<unsigned>(tiles_x), grid_y((g.out_h + kTileH - 1) / kTileH));
  if (job.out_u8) {
    sobel_kernel<K, T, IC, C, true>
        <<<grid, block, 0, stream>>>(job.pre, in.data, in.row_pitch, out.data, out.row_pitch, g);
  } else {
    sobel_kernel<K, T, IC, C, false>
        <<<grid, block, 0, stream>>>(job.pre, in.data, in.row_pitch, out.data, out.row_pitch, g);
  }
  check_launch("sobel kernel launch");
}

template <typename T>
void sobel_typed(const SobelJob& job, const ImageView& in, const ImageView& out, const Geometry& g,
                 cudaStream_t s) {
  switch (job.pre.kind) {
    case Pointwise::none:
      switch (in.channels) {
        case 1:
          return launch_sobel<Pointwise::none, T, 1, 1>(job, in, out, g, s);
        case 2:
          return launch_sobel<Pointwise::none, T, 2, 2>(job, in, out, g, s);
        case 3:
          return launch_sobel<Pointwise::none, T, 3, 3>(job, in, out, g, s);
        case 4:
          return launch_sobel<Pointwise::none, T, 4, 4>(job, in, out, g, s);
      }
      break;
    case Pointwise::grey:
      if (in.channels == 3) return launch_sobel<Pointwise::grey, T, 3, 1>(job, in, out, g, s);
      break;
    case Pointwise::od:
      if constexpr (std::is_same_v<T, uint8_t>) {
        switch (in.channels) {
          case 1:
            return launch_sobel<Pointwise::od, T, 1, 1>(job, in, out, g, s);
          case 3:
            return launch_sobel<Pointwise::od, T, 3, 3>(job, in, out, g, s);
          case 4:
            return launch_sobel<Pointwise::od, T, 4, 4>(job, in, out, g, s);
        }
      }
      break;
    case Pointwise::hed:
      if constexpr (std::is_same_v<T, uint8_t>) {
        if (in.channels == 3) return launch_sobel<Pointwise::hed, T, 3, 3>(job, in, out, g, s);
      }
      break;
    case Pointwise::macenko:
      break;  // never fused (ops.cpp)
  }
  refuse("Sobel on " + std::to_string(in.channels) + "-channel " +
         std::string(to_string(in.dtype)) + " input is not built for the GPU (1 to 4 channels)");
}

template <Pointwise K, typename T, int IC, int C>
void launch_pointwise(const PointwiseParams& p, const ImageView& in, const ImageView& out,
                      cudaStream_t stream) {
  dim3 block(256);
  dim3 grid(static_cast<unsigned>((out.width + 255) / 256), grid_y(out.height));
  pointwise_kernel<K, T, IC, C><<<grid, block, 0, stream>>>(p, in.data, in.row_pitch, out.data,
                                                            out.row_pitch, out.width, out.height);
  check_launch("pointwise kernel launch");
}

template <typename T>
void pointwise_typed(const PointwiseParams& p, const ImageView& in, const ImageView& out,
                     cudaStream_t s) {
  switch (p.kind) {
    case Pointwise::none:
      break;  // never planned alone
    case Pointwise::grey:
      if (in.channels == 3) return launch_pointwise<Pointwise::grey, T, 3, 1>(p, in, out, s);
      break;
    case Pointwise::od:
      if constexpr (std::is_same_v<T, uint8_t>) {
        switch (in.channels) {
          case 1:
            return launch_pointwise<Pointwise::od, T, 1, 1>(p, in, out, s);
          case 3:
            return launch_pointwise<Pointwise::od, T, 3, 3>(p, in, out, s);
          case 4:
            return launch_pointwise<Pointwise::od, T, 4, 4>(p, in, out, s);
        }
      }
      break;
    case Pointwise::hed:
      if constexpr (std::is_same_v<T, uint8_t>) {
        if (in.channels == 3) return launch_pointwise<Pointwise::hed, T, 3, 3>(p, in, out, s);
      }
      break;
    case Pointwise::macenko:
      if constexpr (std::is_same_v<T, uint8_t>) {
        if (in.channels == 3) return launch_pointwise<Pointwise::macenko, T, 3, 3>(p, in, out, s);
      }
      break;
  }
  refuse("this colour op on " + std::to_string(in.channels) + "-channel " +
         std::string(to_string(in.dtype)) + " input is not built for the GPU");
}

template <typename T>
void launch_downsample(const ImageView& in, const ImageView& out, cudaStream_t stream) {
  int64_t samples = out.width * out.channels;
  if (samples >= (int64_t{1} << 31)) refuse("a row of more than 2^31 samples");
  dim3 block(256);
  dim3 grid(static_cast<unsigned>((samples + 255) / 256), grid_y(out.height));
  downsample_kernel<T><<<grid, block, 0, stream>>>(in.data, in.row_pitch, out.data, out.row_pitch,
                                                   samples, out.height, out.channels);
  check_launch("downsample kernel launch");
}

}  // namespace

void sobel_cuda(const SobelJob& job, const ImageView& in, Window in_at, const ImageView& out,
                Window out_at, ImageExtent image, void* stream) {
  DeviceGuard guard(out.cuda_device);
  Geometry g{in_at.x,  in_at.y,   in.width,   in.height,   out_at.x,
             out_at.y, out.width, out.height, image.width, image.height};
  if (in.dtype == DataType::uint8) return sobel_typed<uint8_t>(job, in, out, g, as_stream(stream));
  return sobel_typed<float>(job, in, out, g, as_stream(stream));
}

void pointwise_cuda(const PointwiseParams& params, const ImageView& in, const ImageView& out,
                    void* stream) {
  DeviceGuard guard(out.cuda_device);
  if (in.dtype == DataType::uint8) {
    return pointwise_typed<uint8_t>(params, in, out, as_stream(stream));
  }
  return pointwise_typed<float>(params, in, out, as_stream(stream));
}

void downsample2_cuda(const ImageView& in, const ImageView& out, void* stream) {
  DeviceGuard guard(out.cuda_device);
  switch (in.dtype) {
    case DataType::uint8:
      return launch_downsample<uint8_t>(in, out, as_stream(stream));
    case DataType::uint16:
      return launch_downsample<uint16_t>(in, out, as_stream(stream));
    case DataType::float32:
      return launch_downsample<float>(in, out, as_stream(stream));
    case DataType::uint32:
      break;
  }
  refuse("downsample2 of uint32");
}

std::shared_ptr<std::byte> allocate_on_stream(size_t bytes, int device, void* stream) {
  DeviceGuard guard(device);
  void* p = nullptr;
  if (bytes > 0) cuda::check(cudaMallocAsync(&p, bytes, as_stream(stream)), "cudaMallocAsync");
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [device, stream](std::byte* q) {
    if (q == nullptr) return;
    int previous = 0;
    cudaGetDevice(&previous);
    if (previous != device) cudaSetDevice(device);
    cudaFreeAsync(q, as_stream(stream));
    if (previous != device) cudaSetDevice(previous);
  });
}

}  // namespace slidestream::ops::detail
