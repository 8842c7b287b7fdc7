// Area-average resampling (a box filter whose support is exactly each output pixel's footprint
// in the source), for reads at a target resolution (slidestream/regions.hpp:
// read_regions_at_mpp). Each axis has a table: output pixel i covers source
// [i × factor, (i + 1) × factor), and each source pixel it touches weighs its overlap, in fixed
// point (1/4096 of a pixel). Sums and the rounding division are integers, so the CPU loop and the
// CUDA kernel, which run the same SS_HD body, give the same bytes; for an integer factor the
// result is the block mean rounded half up (scikit-image's downscale_local_mean, rounded).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/host_device.hpp"
#include "slidestream/image.hpp"

namespace slidestream::ops {

inline constexpr int64_t kAreaUnit = 4096;

struct AreaAxis {
  std::vector<int32_t> first;    // per output pixel: its first source pixel
  std::vector<int32_t> count;    // how many source pixels it touches
  std::vector<int32_t> offset;   // where its weights start in `weights`
  std::vector<int32_t> weights;  // overlap of each touched source pixel, in 1/kAreaUnit
  std::vector<int64_t> total;    // sum of its weights
  int64_t source_extent = 0;     // source pixels the outputs need, from 0
};

// The table for `outputs` pixels at `factor` (>= 1) source pixels each; a factor within 1e-6 of
// an integer is that integer.
AreaAxis area_axis(int64_t outputs, double factor);

struct AreaAxisView {
  const int32_t* first = nullptr;
  const int32_t* count = nullptr;
  const int32_t* offset = nullptr;
  const int32_t* weights = nullptr;
  const int64_t* total = nullptr;
};

// Sample c of output pixel (ox, oy), from a uint8 source whose row 0 is the region's first.
SS_HD uint8_t area_sample(const uint8_t* src, size_t pitch, int channels, const AreaAxisView& ax,
                          const AreaAxisView& ay, int64_t ox, int64_t oy, int c) {
  uint64_t sum = 0;
  const int32_t x0 = ax.first[ox], nx = ax.count[ox], wx0 = ax.offset[ox];
  const int32_t y0 = ay.first[oy], ny = ay.count[oy], wy0 = ay.offset[oy];
  for (int32_t j = 0; j < ny; ++j) {
    const uint8_t* row = src + static_cast<size_t>(y0 + j) * pitch;
    uint64_t row_sum = 0;
    for (int32_t i = 0; i < nx; ++i) {
      row_sum += static_cast<uint64_t>(ax.weights[wx0 + i]) *
                 row[static_cast<size_t>(x0 + i) * channels + c];
    }
    sum += row_sum * static_cast<uint64_t>(ay.weights[wy0 + j]);
  }
  const uint64_t total = static_cast<uint64_t>(ax.total[ox]) * static_cast<uint64_t>(ay.total[oy]);
  return static_cast<uint8_t>((sum + total / 2) / total);
}

// area_sample's rounding division, floor((sum + total / 2) / total) for a quotient below 256,
// without a 64-bit division (most of the CPU loop's time): an estimate from `inverse`, an
// approximation of 1 / total within a few 2^-53 relative (the product of the axes'
// reciprocals), lands within one of the quotient, and one step in integers corrects it. Needs
// total < 2^48 (the CPU loop divides exactly beyond).
inline uint8_t area_divide(uint64_t sum, uint64_t total, double inverse) {
  const uint64_t n = sum + total / 2;
  auto q = static_cast<uint64_t>(static_cast<double>(n) * inverse);
  if (q * total > n) {
    --q;
  } else if ((q + 1) * total <= n) {
    ++q;
  }
  return static_cast<uint8_t>(q);
}

// `in`: `regions` source regions stacked as rows (each in.height / regions rows), uint8;
// `out`: as many output regions stacked (each out.height / regions rows), same channels.
// Region r of out is region r of in resampled by the tables.
void area_resample_cpu(const ImageView& in, const ImageView& out, int64_t regions,
                       const AreaAxis& ax, const AreaAxis& ay, int threads);
#if SLIDESTREAM_HAVE_CUDA
// The same on the GPU (both views in GPU memory); returns when the result is complete.
void area_resample_cuda(const ImageView& in, const ImageView& out, int64_t regions,
                        const AreaAxis& ax, const AreaAxis& ay);
// Scratch GPU memory for one batch (the source regions of a read at an mpp) from the device's
// stream-ordered pool, usable from any stream when returned, given back with cudaFreeAsync once
// the last owner lets go (after the work it was used for, which the caller has waited for):
// cudaMalloc / cudaFree per batch would wait for the whole device (a model running beside the
// loader included).
std::shared_ptr<std::byte> device_scratch(size_t bytes, int device);
#endif

}  // namespace slidestream::ops
