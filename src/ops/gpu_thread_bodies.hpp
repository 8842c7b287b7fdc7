// What one CUDA thread of each ops kernel does, as __host__ __device__ functions of its block and
// thread indices. cuda/kernels.cu calls them from the kernels (with the barriers between phases);
// tests/test_ops_gpu_emulation.cpp calls them from plain loops on the CPU, so that the GPU
// kernels' indexing (tile loads, the border rule, halo clamping, 64-bit offsets, grid strides) is
// tested against the CPU path on machines without a GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ops/kernel_math.hpp"
#include "ops/pointwise.hpp"

namespace slidestream::ops::detail::gpu {

// Sobel: a block of 32 × 8 threads makes a 32 × 32 output tile; each thread four rows of it,
// from a shared-memory tile with a one-pixel halo, one plane per channel.
constexpr int kTileW = 32;
constexpr int kTileH = 32;
constexpr int kThreadsY = 8;
constexpr int kBlockThreads = kTileW * kThreadsY;
constexpr int kHaloW = kTileW + 2;
constexpr int kHaloH = kTileH + 2;
constexpr int kMaxGridY = 65535;

struct Geometry {
  int64_t in_x, in_y, in_w, in_h;  // the input view's window in the image
  int64_t out_x, out_y, out_w, out_h;
  int64_t image_w, image_h;
};

template <int C>
using Tile = float[C][kHaloH][kHaloW];

SS_HD int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// Phase 1: thread `tid` loads its share of the tile whose outputs start at image (x0, y0): the
// border rule on the image, then clamped into the input window (only positions that no output
// reads can need the clamp, e.g. past the end of a partial tile).
template <Pointwise K, typename T, int IC, int C>
SS_HD void sobel_load(const PointwiseParams& params, const float* table, const std::byte* in,
                      size_t in_pitch, const Geometry& g, int64_t x0, int64_t y0, int tid,
                      Tile<C>& tile) {
  for (int i = tid; i < kHaloW * kHaloH; i += kBlockThreads) {
    int ly = i / kHaloW;
    int lx = i - ly * kHaloW;
    int64_t ix = clamp64(math::reflect(x0 - 1 + lx, g.image_w) - g.in_x, 0, g.in_w - 1);
    int64_t iy = clamp64(math::reflect(y0 - 1 + ly, g.image_h) - g.in_y, 0, g.in_h - 1);
    const T* px = reinterpret_cast<const T*>(in + static_cast<size_t>(iy) * in_pitch) + ix * IC;
    T local[IC];
    for (int c = 0; c < IC; ++c) local[c] = px[c];
    float v[C];
    pointwise_pixel<K>(params, table, local, IC, v);
    for (int c = 0; c < C; ++c) tile[c][ly][lx] = v[c];
  }
}

// Phase 2: thread (tx, ty) writes its outputs of the tile at image (x0, y0).
template <int C, bool U8>
SS_HD void sobel_store(const Tile<C>& tile, std::byte* out, size_t out_pitch, const Geometry& g,
                       int64_t x0, int64_t y0, int tx, int ty0) {
  const int64_t ox = x0 - g.out_x + tx;  // out view coordinates
  if (ox >= g.out_w) return;
  for (int r = 0; r < kTileH / kThreadsY; ++r) {
    int ty = ty0 + r * kThreadsY;
    int64_t oy = y0 - g.out_y + ty;
    if (oy >= g.out_h) break;
    std::byte* row = out + static_cast<size_t>(oy) * out_pitch;
    for (int c = 0; c < C; ++c) {
      float s = math::sobel(tile[c][ty][tx], tile[c][ty][tx + 1], tile[c][ty][tx + 2],
                            tile[c][ty + 1][tx], tile[c][ty + 1][tx + 2], tile[c][ty + 2][tx],
                            tile[c][ty + 2][tx + 1], tile[c][ty + 2][tx + 2]);
      float m = math::sqrt(s);
      if constexpr (U8) {
        reinterpret_cast<uint8_t*>(row)[ox * C + c] = math::to_u8_scaled(m);
      } else {
        reinterpret_cast<float*>(row)[ox * C + c] = m;
      }
    }
  }
}

// The pointwise kernel's thread for pixel x of row y.
template <Pointwise K, typename T, int IC, int C>
SS_HD void pointwise_at(const PointwiseParams& params, const float* table, const std::byte* in,
                        size_t in_pitch, std::byte* out, size_t out_pitch, int64_t x, int64_t y) {
  const T* px = reinterpret_cast<const T*>(in + static_cast<size_t>(y) * in_pitch) + x * IC;
  T local[IC];
  for (int c = 0; c < IC; ++c) local[c] = px[c];
  float v[C];
  pointwise_pixel<K>(params, table, local, IC, v);
  if constexpr (K == Pointwise::macenko) {  // uint8 output
    uint8_t* dst = reinterpret_cast<uint8_t*>(out + static_cast<size_t>(y) * out_pitch) + x * C;
    for (int c = 0; c < C; ++c) dst[c] = static_cast<uint8_t>(v[c]);
  } else {
    float* dst = reinterpret_cast<float*>(out + static_cast<size_t>(y) * out_pitch) + x * C;
    for (int c = 0; c < C; ++c) dst[c] = v[c];
  }
}

// The downsample kernel's thread for sample i (pixel × channel) of output row y. A row's samples
// fit 32 bits (checked at launch): 32-bit division is several times cheaper on the GPU.
template <typename T>
SS_HD void downsample_at(const std::byte* in, size_t in_pitch, std::byte* out, size_t out_pitch,
                         uint32_t i, int64_t y, int channels) {
  const uint32_t pixel = i / static_cast<uint32_t>(channels);
  const int64_t j = static_cast<int64_t>(pixel) * 2 * channels + (i - pixel * channels);
  const T* top = reinterpret_cast<const T*>(in + static_cast<size_t>(2 * y) * in_pitch);
  const T* bottom = reinterpret_cast<const T*>(in + static_cast<size_t>(2 * y + 1) * in_pitch);
  T* dst = reinterpret_cast<T*>(out + static_cast<size_t>(y) * out_pitch);
  if constexpr (std::is_same_v<T, float>) {
    dst[i] = math::downsample_mean(top[j], top[j + channels], bottom[j], bottom[j + channels]);
  } else {
    dst[i] = static_cast<T>((static_cast<uint32_t>(top[j]) + top[j + channels] + bottom[j] +
                             bottom[j + channels] + 2) >>
                            2);
  }
}

}  // namespace slidestream::ops::detail::gpu
