// CUDA kernels of the ops. The per-pixel arithmetic is kernel_math.hpp's and pointwise.hpp's,
// the same functions the CPU path runs, with explicit round-to-nearest intrinsics, so results
// equal the CPU's bit for bit. Indexing is 64-bit wherever a pixel offset is formed.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>

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
void launch_sobel(const KernelCall& c, const Geometry& g) {
  dim3 block(kTileW, kThreadsY);
  int64_t tiles_x = (g.out_w + kTileW - 1) / kTileW;
  if (tiles_x > 0x7fffffff) refuse("image too wide");
  dim3 grid(static_cast<unsigned>(tiles_x), grid_y((g.out_h + kTileH - 1) / kTileH));
  cudaStream_t stream = as_stream(c.stream);
  if (c.out.dtype == DataType::uint8) {
    sobel_kernel<K, T, IC, C, true><<<grid, block, 0, stream>>>(
        c.pointwise, c.in.data, c.in.row_pitch, c.out.data, c.out.row_pitch, g);
  } else {
    sobel_kernel<K, T, IC, C, false><<<grid, block, 0, stream>>>(
        c.pointwise, c.in.data, c.in.row_pitch, c.out.data, c.out.row_pitch, g);
  }
  check_launch("sobel kernel launch");
}

template <Pointwise K, typename T, int IC, int C>
void launch_pointwise(const KernelCall& c, const ImageView& in) {
  dim3 block(256);
  dim3 grid(static_cast<unsigned>((c.out.width + 255) / 256), grid_y(c.out.height));
  pointwise_kernel<K, T, IC, C><<<grid, block, 0, as_stream(c.stream)>>>(
      c.pointwise, in.data, in.row_pitch, c.out.data, c.out.row_pitch, c.out.width, c.out.height);
  check_launch("pointwise kernel launch");
}

// The kernels a kind is built for, from pointwise.hpp's traits (no per-kind switch here): input
// element type T and IC input channels (1 to 4, template arguments on the GPU).
template <Pointwise K, typename T, int IC>
struct RunSobel {
  static constexpr bool built = pointwise_takes_type<K, T>() && pointwise_fuses_into_sobel(K) &&
                                pointwise_gpu_channels(K, IC);
  static void run(const KernelCall& c) {
    Geometry g{c.in_at.x,  c.in_at.y,   c.in.width,   c.in.height,   c.out_at.x,
               c.out_at.y, c.out.width, c.out.height, c.image.width, c.image.height};
    launch_sobel<K, T, IC, pointwise_channels(K, IC)>(c, g);
  }
};

template <Pointwise K, typename T, int IC>
struct RunPointwise {
  static constexpr bool built =
      K != Pointwise::none && pointwise_takes_type<K, T>() && pointwise_gpu_channels(K, IC);
  static void run(const KernelCall& c) {
    ImageView src =
        c.in.crop(c.out_at.x - c.in_at.x, c.out_at.y - c.in_at.y, c.out.width, c.out.height);
    launch_pointwise<K, T, IC, pointwise_channels(K, IC)>(c, src);
  }
};

// Runs Run<K, T, IC> for the call's kind and input channels, a fold over every kind and 1 to 4
// channels; returns false when no kernel is built for them.
template <typename T, template <Pointwise, typename, int> class Run, size_t... I>
bool for_kind(const KernelCall& call, std::index_sequence<I...>) {
  auto one = [&](auto k, auto ic) {
    constexpr Pointwise K = static_cast<Pointwise>(decltype(k)::value);
    constexpr int IC = decltype(ic)::value;
    if constexpr (Run<K, T, IC>::built) {
      if (call.pointwise.kind == K && call.in.channels == IC) {
        Run<K, T, IC>::run(call);
        return true;
      }
    }
    return false;
  };
  auto channels = [&](auto k) {
    return one(k, std::integral_constant<int, 1>{}) || one(k, std::integral_constant<int, 2>{}) ||
           one(k, std::integral_constant<int, 3>{}) || one(k, std::integral_constant<int, 4>{});
  };
  return (channels(std::integral_constant<size_t, I>{}) || ...);
}

template <template <Pointwise, typename, int> class Run>
bool dispatch(const KernelCall& call) {
  constexpr auto kinds = std::make_index_sequence<kPointwiseKinds>{};
  if (call.in.dtype == DataType::uint8) return for_kind<uint8_t, Run>(call, kinds);
  return for_kind<float, Run>(call, kinds);
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

void sobel_cuda(const KernelCall& call) {
  DeviceGuard guard(call.out.cuda_device);
  if (dispatch<RunSobel>(call)) return;
  refuse("Sobel on " + std::to_string(call.in.channels) + "-channel " +
         std::string(to_string(call.in.dtype)) +
         " input is not built for the GPU (1 to 4 channels)");
}

void pointwise_cuda(const KernelCall& call) {
  DeviceGuard guard(call.out.cuda_device);
  if (dispatch<RunPointwise>(call)) return;
  refuse("this colour op on " + std::to_string(call.in.channels) + "-channel " +
         std::string(to_string(call.in.dtype)) + " input is not built for the GPU");
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
