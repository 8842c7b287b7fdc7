#include <cmath>

#include "codec/cuda/gpu_codec_kernels.hpp"
#include "cuda/check.hpp"

namespace slidestream::codec::cuda {
namespace {

constexpr uint32_t kAdlerMod = 65521;
constexpr int kVerifyThreads = 256;

// XXH64 (xxHash specification, Yann Collet): the constants and steps of the reference code.
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full,
                   kP3 = 0x165667B19E3779F9ull, kP4 = 0x85EBCA77C2B2AE63ull,
                   kP5 = 0x27D4EB2F165667C5ull;

__host__ __device__ inline uint64_t rotl64(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}
__host__ __device__ inline uint64_t load64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];  // little-endian, any alignment
  return v;
}
__host__ __device__ inline uint32_t load32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
__host__ __device__ inline uint64_t xxh_round(uint64_t acc, uint64_t input) {
  acc += input * kP2;
  acc = rotl64(acc, 31);
  return acc * kP1;
}
__host__ __device__ inline uint64_t xxh_merge(uint64_t acc, uint64_t v) {
  acc ^= xxh_round(0, v);
  return acc * kP1 + kP4;
}

__host__ __device__ uint64_t xxh64(const unsigned char* p, size_t len) {
  const unsigned char* const end = p + len;
  uint64_t h;
  if (len >= 32) {
    uint64_t v1 = kP1 + kP2, v2 = kP2, v3 = 0, v4 = 0 - kP1;
    const unsigned char* const limit = end - 32;
    do {
      v1 = xxh_round(v1, load64(p));
      v2 = xxh_round(v2, load64(p + 8));
      v3 = xxh_round(v3, load64(p + 16));
      v4 = xxh_round(v4, load64(p + 24));
      p += 32;
    } while (p <= limit);
    h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
    h = xxh_merge(h, v1);
    h = xxh_merge(h, v2);
    h = xxh_merge(h, v3);
    h = xxh_merge(h, v4);
  } else {
    h = kP5;
  }
  h += static_cast<uint64_t>(len);
  while (p + 8 <= end) {
    h ^= xxh_round(0, load64(p));
    h = rotl64(h, 27) * kP1 + kP4;
    p += 8;
  }
  if (p + 4 <= end) {
    h ^= static_cast<uint64_t>(load32(p)) * kP1;
    h = rotl64(h, 23) * kP2 + kP3;
    p += 4;
  }
  while (p < end) {
    h ^= static_cast<uint64_t>(*p) * kP5;
    h = rotl64(h, 11) * kP1;
    ++p;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

// One block per tile. Adler-32 in parallel: A = 1 + sum(d_j), B = n + sum((n - j) * d_j), both
// mod 65521, summed per thread in 64 bits (weights reduced first, so no overflow) then reduced.
// XXH64 is sequential by design: one thread walks the tile (only for frames that carry it).
__global__ void verify_kernel(const unsigned char* data, size_t stride, size_t tile_bytes,
                              ChunkChecks checks) {
  const int i = blockIdx.x;
  __shared__ unsigned long long sum_a[kVerifyThreads], sum_b[kVerifyThreads];
  __shared__ uint32_t verdict;
  if (threadIdx.x == 0) {
    verdict = checks.status[i] == 0 && checks.actual[i] == tile_bytes;
  }
  __syncthreads();
  const uint32_t kind = checks.kind[i];
  const unsigned char* tile = data + static_cast<size_t>(i) * stride;
  if (verdict && kind == static_cast<uint32_t>(TileChecksum::adler32)) {
    unsigned long long a = 0, b = 0;
    // The weight (n - j) mod 65521, stepped down by blockDim each round instead of divided.
    uint32_t weight = static_cast<uint32_t>((tile_bytes - threadIdx.x) % kAdlerMod);
    for (size_t j = threadIdx.x; j < tile_bytes; j += blockDim.x) {
      const unsigned long long d = tile[j];
      a += d;
      b += static_cast<unsigned long long>(weight) * d;
      weight = weight >= blockDim.x ? weight - blockDim.x : weight + kAdlerMod - blockDim.x;
    }
    sum_a[threadIdx.x] = a;
    sum_b[threadIdx.x] = b;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) {
        sum_a[threadIdx.x] += sum_a[threadIdx.x + half];
        sum_b[threadIdx.x] += sum_b[threadIdx.x + half];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      const uint32_t A = static_cast<uint32_t>((1 + sum_a[0]) % kAdlerMod);
      const uint32_t B = static_cast<uint32_t>((tile_bytes % kAdlerMod + sum_b[0]) % kAdlerMod);
      verdict = ((B << 16) | A) == checks.expected[i];
    }
  } else if (verdict && kind == static_cast<uint32_t>(TileChecksum::xxh64)) {
    if (threadIdx.x == 0) {
      verdict = static_cast<uint32_t>(xxh64(tile, tile_bytes)) == checks.expected[i];
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) checks.ok[i] = verdict;
}

template <typename T>
__device__ T to_host_order(T v);
template <>
__device__ uint16_t to_host_order(uint16_t v) {
  return static_cast<uint16_t>(v >> 8 | v << 8);
}
template <>
__device__ uint32_t to_host_order(uint32_t v) {
  return __byte_perm(v, 0, 0x0123);
}
template <>
__device__ uint8_t to_host_order(uint8_t v) {
  return v;
}

// One thread per (row, channel) of a tile: predictor 2 is a running sum along the row, so each
// thread walks its channel's samples left to right, as undo_horizontal_predictor does.
template <typename T>
__global__ void finish_kernel(std::byte* data, size_t stride, const uint32_t* ok, uint32_t width,
                              uint32_t height, int channels, bool swap, bool horizontal) {
  const int tile = blockIdx.y;
  if (!ok[tile]) return;
  const uint32_t lane = blockIdx.x * blockDim.x + threadIdx.x;
  if (lane >= height * static_cast<uint32_t>(channels)) return;
  const uint32_t row = lane / channels, channel = lane % channels;
  T* p = reinterpret_cast<T*>(data + static_cast<size_t>(tile) * stride) +
         static_cast<size_t>(row) * width * channels + channel;
  T previous = 0;
  for (uint32_t x = 0; x < width; ++x) {
    T v = p[static_cast<size_t>(x) * channels];
    if (swap) v = to_host_order(v);
    if (horizontal && x > 0) v = static_cast<T>(v + previous);
    p[static_cast<size_t>(x) * channels] = v;
    previous = v;
  }
}

__device__ inline uint8_t clamp8(int v) {
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

template <typename T>
__device__ inline int sample_at(const J2kPlanes& p, int c, uint32_t x, uint32_t y) {
  const uint32_t cx = min(x / p.sub_x[c], p.width[c] - 1);
  const uint32_t cy = min(y / p.sub_y[c], p.height[c] - 1);
  return reinterpret_cast<const T*>(static_cast<const unsigned char*>(p.data[c]) +
                                    static_cast<size_t>(cy) * p.pitch[c])[cx];
}

// libvips' YCC_TO_RGB (jp2kload.c), as jpeg2000_decoder.cpp's vips_ycc_to_rgb: C doubles
// (no FMA: --fmad=false), truncated toward zero, clamped to the sample range.
template <typename T>
__device__ void vips_ycc_to_rgb(int luma, int cb, int cr, T* row) {
  constexpr int kOffset = sizeof(T) == 1 ? 128 : 32768;
  constexpr int kMax = sizeof(T) == 1 ? 255 : 65535;
  const double dcb = static_cast<double>(static_cast<float>(cb - kOffset));
  const double dcr = static_cast<double>(static_cast<float>(cr - kOffset));
  const int rgb[3] = {luma + static_cast<int>(1.402 * dcr),
                      luma - static_cast<int>(0.344 * dcb + 0.714 * dcr),
                      luma + static_cast<int>(1.772 * dcb)};
  for (int c = 0; c < 3; ++c) row[c] = static_cast<T>(min(max(rgb[c], 0), kMax));
}

template <typename T>
__global__ void j2k_kernel(J2kPlanes planes, int channels, J2kColour colour, const YCbCrTables* t,
                           std::byte* out, size_t out_pitch, uint32_t width, uint32_t height) {
  const uint32_t x = blockIdx.x * blockDim.x + threadIdx.x;
  const uint32_t y = blockIdx.y;
  if (x >= width || y >= height) return;
  T* row = reinterpret_cast<T*>(out + static_cast<size_t>(y) * out_pitch) +
           static_cast<size_t>(x) * channels;
  if (colour == J2kColour::vips_ycc && channels == 3) {
    vips_ycc_to_rgb<T>(sample_at<T>(planes, 0, x, y), sample_at<T>(planes, 1, x, y),
                       sample_at<T>(planes, 2, x, y), row);
    return;
  }
  if (colour == J2kColour::aperio_ycbcr && sizeof(T) == 1) {
    // decode_jpeg2000: each component truncated to 8 bits, then OpenSlide's integer formulas.
    const uint8_t luma = static_cast<uint8_t>(sample_at<T>(planes, 0, x, y));
    const uint8_t cb = static_cast<uint8_t>(sample_at<T>(planes, 1, x, y));
    const uint8_t cr = static_cast<uint8_t>(sample_at<T>(planes, 2, x, y));
    const int16_t r_chroma = t->r_cr[cr];
    const int16_t g_chroma = static_cast<int16_t>((t->g_cb[cb] + t->g_cr[cr]) >> 16);
    const int16_t b_chroma = t->b_cb[cb];
    row[0] = static_cast<T>(clamp8(luma + r_chroma));
    row[1] = static_cast<T>(clamp8(luma + g_chroma));
    row[2] = static_cast<T>(clamp8(luma + b_chroma));
    return;
  }
  for (int c = 0; c < channels; ++c) row[c] = static_cast<T>(sample_at<T>(planes, c, x, y));
}

}  // namespace

void verify_chunks(const std::byte* data, size_t stride, size_t tile_bytes, int count,
                   const ChunkChecks& checks, cudaStream_t stream) {
  if (count <= 0) return;
  verify_kernel<<<count, kVerifyThreads, 0, stream>>>(reinterpret_cast<const unsigned char*>(data),
                                                      stride, tile_bytes, checks);
  slidestream::cuda::check(cudaGetLastError(), "verify_kernel launch");
}

void finish_tiles(std::byte* data, size_t stride, int count, const uint32_t* ok, uint32_t width,
                  uint32_t height, int channels, int sample_bytes, bool swap, bool horizontal,
                  cudaStream_t stream) {
  if (count <= 0 || (!swap && !horizontal)) return;
  constexpr unsigned kThreads = 128;
  const unsigned lanes = height * static_cast<unsigned>(channels);
  dim3 grid((lanes + kThreads - 1) / kThreads, static_cast<unsigned>(count));
  switch (sample_bytes) {
    case 1:
      finish_kernel<uint8_t><<<grid, kThreads, 0, stream>>>(data, stride, ok, width, height,
                                                            channels, false, horizontal);
      break;
    case 2:
      finish_kernel<uint16_t><<<grid, kThreads, 0, stream>>>(data, stride, ok, width, height,
                                                             channels, swap, horizontal);
      break;
    default:
      finish_kernel<uint32_t><<<grid, kThreads, 0, stream>>>(data, stride, ok, width, height,
                                                             channels, swap, horizontal);
      break;
  }
  slidestream::cuda::check(cudaGetLastError(), "finish_kernel launch");
}

YCbCrTables make_ycbcr_tables() {
  // The expressions of jpeg2000_decoder.cpp's YCbCrTables (host code there and here: no FMA).
  YCbCrTables t;
  for (int i = 0; i < 256; ++i) {
    t.r_cr[i] = static_cast<int16_t>(std::lround(1.402 * (i - 128)));
    t.g_cb[i] = static_cast<int32_t>(std::lround(65536.0 * (0.5 - 0.34414 * (i - 128))));
    t.g_cr[i] = static_cast<int32_t>(std::lround(65536.0 * -0.71414 * (i - 128)));
    t.b_cb[i] = static_cast<int16_t>(std::lround(1.772 * (i - 128)));
  }
  return t;
}

void j2k_planes_to_pixels(const J2kPlanes& planes, int channels, bool sixteen, J2kColour colour,
                          const YCbCrTables* tables, std::byte* out, size_t out_pitch,
                          uint32_t width, uint32_t height, cudaStream_t stream) {
  if (width == 0 || height == 0) return;
  constexpr unsigned kThreads = 128;
  dim3 grid((width + kThreads - 1) / kThreads, height);
  if (sixteen) {
    j2k_kernel<uint16_t><<<grid, kThreads, 0, stream>>>(
        planes, channels, colour == J2kColour::aperio_ycbcr ? J2kColour::as_stored : colour, tables,
        out, out_pitch, width, height);
  } else {
    j2k_kernel<uint8_t><<<grid, kThreads, 0, stream>>>(planes, channels, colour, tables, out,
                                                       out_pitch, width, height);
  }
  slidestream::cuda::check(cudaGetLastError(), "j2k_kernel launch");
}

uint32_t adler32_host(const std::byte* data, size_t size) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < size; ++i) {
    a = (a + static_cast<uint8_t>(data[i])) % kAdlerMod;
    b = (b + a) % kAdlerMod;
  }
  return b << 16 | a;
}

uint32_t xxh64_low32_host(const std::byte* data, size_t size) {
  return static_cast<uint32_t>(xxh64(reinterpret_cast<const unsigned char*>(data), size));
}

}  // namespace slidestream::codec::cuda
