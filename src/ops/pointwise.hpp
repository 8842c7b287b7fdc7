// Pointwise colour ops (grey, optical density, HED) as one parameter block and one per-pixel
// function shared by the CPU and CUDA paths. OD and HED need a logarithm, and the GPU's logf is
// not rounded like glibc's: for uint8 input each channel takes only 256 values, so the host
// computes the 256 logarithms once in double, rounds them to float, and both paths read that same
// table (passed to the kernels by value). Equal on CPU and GPU by construction.
#pragma once

#include <cstdint>
#include <type_traits>

#include "ops/kernel_math.hpp"
#include "slidestream/ops.hpp"

namespace slidestream::ops::detail {

enum class Pointwise : uint8_t {
  none,     // channels as float: uint8 / 255, float32 as-is
  grey,     // 3 channels -> 1
  od,       // uint8 channels -> as many: -ln(clamp(x, 1, Io) / Io)
  hed,      // 3 uint8 channels -> 3: rgb2hed
  macenko,  // 3 uint8 channels -> 3 uint8 (as floats 0..255): Macenko stain normalisation
};

struct PointwiseParams {
  Pointwise kind = Pointwise::none;
  float table[256] = {};  // od: the OD of each uint8 value; hed: ln(max(x/255, 1e-6)) / ln(1e-6)
  float hed_from_rgb[9] = {};  // row-major, the inverse of Ruifrok's rgb_from_hed
  // macenko: table = -ln((x + 1) / Io); concentrations C = to_concentration (2 x 3, row-major:
  // the slide's least-squares unmixing scaled by max_c_ref / max_c), then
  // Io * exp(-he_ref (3 x 2, row-major) C), clipped to 255 and truncated as torchstain does.
  float to_concentration[6] = {};
  float he_ref[6] = {};
  float io = 240.0f;
};

// The host builds the parameters of a pointwise op (tables in double, rounded to float).
PointwiseParams make_pointwise(Pointwise kind, float io = 255.0f, const StainFit& stains = {});

constexpr int kPointwiseKinds = 5;  // the enumerators above, which the kernels instantiate

// Output channels of a pointwise op given its input channels.
constexpr int pointwise_channels(Pointwise kind, int in_channels) {
  if (kind == Pointwise::grey) return 1;
  if (kind == Pointwise::hed || kind == Pointwise::macenko) return 3;
  return in_channels;
}

// What the kernels are built for, read by the CPU and CUDA dispatch (no per-kind switch there):
// the element types a kind takes (the logarithm tables index uint8 values), the channel counts
// the GPU kernels are instantiated for (channels are template arguments there), and whether a
// Sobel may run the kind fused before it (not macenko: its uint8 output is what the Sobel reads).
template <Pointwise K, typename T>
constexpr bool pointwise_takes_type() {
  if constexpr (K == Pointwise::none || K == Pointwise::grey) {
    return std::is_same_v<T, uint8_t> || std::is_same_v<T, float>;
  } else {
    return std::is_same_v<T, uint8_t>;
  }
}
constexpr bool pointwise_gpu_channels(Pointwise kind, int in_channels) {
  switch (kind) {
    case Pointwise::none:
      return in_channels >= 1 && in_channels <= 4;
    case Pointwise::od:
      return in_channels == 1 || in_channels == 3 || in_channels == 4;
    default:
      return in_channels == 3;
  }
}
constexpr bool pointwise_fuses_into_sobel(Pointwise kind) {
  return kind != Pointwise::macenko;
}

SS_HD float to_float(uint8_t x) {
  return math::from_u8(x);
}
SS_HD float to_float(float x) {
  return x;
}

// One pixel: `px` has the input channels (3 for grey and hed, `channels` for none and od); writes
// pointwise_channels() floats to `out`. `table` is params.table or a copy of it (GPU shared
// memory).
template <Pointwise K, typename T>
SS_HD void pointwise_pixel(const PointwiseParams& params, const float* table, const T* px,
                           int channels, float* out) {
  if constexpr (K == Pointwise::none) {
    for (int c = 0; c < channels; ++c) out[c] = to_float(px[c]);
  } else if constexpr (K == Pointwise::grey) {
    out[0] = math::grey(to_float(px[0]), to_float(px[1]), to_float(px[2]));
  } else if constexpr (K == Pointwise::od) {
    for (int c = 0; c < channels; ++c) out[c] = table[static_cast<uint8_t>(px[c])];
  } else if constexpr (K == Pointwise::macenko) {
    float od0 = table[static_cast<uint8_t>(px[0])];
    float od1 = table[static_cast<uint8_t>(px[1])];
    float od2 = table[static_cast<uint8_t>(px[2])];
    const float* m = params.to_concentration;
    float c0 =
        math::add(math::add(math::mul(m[0], od0), math::mul(m[1], od1)), math::mul(m[2], od2));
    float c1 =
        math::add(math::add(math::mul(m[3], od0), math::mul(m[4], od1)), math::mul(m[5], od2));
    for (int j = 0; j < 3; ++j) {
      float v =
          math::add(math::mul(params.he_ref[2 * j], c0), math::mul(params.he_ref[2 * j + 1], c1));
      float i = math::mul(params.io, math::exp(math::sub(0.0f, v)));
      out[j] = i > 255.0f ? 255.0f : static_cast<float>(static_cast<int>(i));  // i >= 0
    }
  } else {
    float v0 = table[static_cast<uint8_t>(px[0])];
    float v1 = table[static_cast<uint8_t>(px[1])];
    float v2 = table[static_cast<uint8_t>(px[2])];
    for (int j = 0; j < 3; ++j) {
      out[j] = math::clip_below_zero(math::dot3(v0, v1, v2, params.hed_from_rgb, j));
    }
  }
}

}  // namespace slidestream::ops::detail
