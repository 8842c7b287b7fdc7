// The per-pixel arithmetic of every op, written once and compiled for both the host and the GPU,
// so that the CPU and CUDA paths run the same sequence of float operations and agree bit for bit.
// On the device each operation is an explicit round-to-nearest intrinsic (no FMA contraction, no
// fast-math approximations even if the build flags change); on the host the library is built with
// -ffp-contract=off, and these are plain IEEE float operations.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/host_device.hpp"

namespace slidestream::ops::math {

SS_HD float add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
SS_HD float sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
SS_HD float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
SS_HD float div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
// Correctly rounded on both sides (IEEE 754 requires it; CUDA's __fsqrt_rn is exact).
SS_HD float sqrt(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

// scikit-image's img_as_float for uint8, in float32: x / 255, correctly rounded.
SS_HD float from_u8(uint8_t x) {
  return div(static_cast<float>(x), 255.0f);
}

// rint(clamp(v, 0, 1) * 255), half to even; NaN maps to 0. Adding and subtracting 2^23 rounds a
// float in [0, 2^23) to the nearest integer, ties to even, in IEEE arithmetic: the same result as
// rintf, without the library call that x86-64 without SSE4.1 makes for rintf.
SS_HD uint8_t to_u8_scaled(float v) {
  float c = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
  return static_cast<uint8_t>(sub(add(mul(c, 255.0f), 8388608.0f), 8388608.0f));
}

// scipy's 'reflect' (half-sample symmetric: d c b a | a b c d | d c b a) for offsets of at most
// one image size outside, then clamped, so that any index maps to a pixel of the image.
SS_HD int64_t reflect(int64_t i, int64_t n) {
  if (i < 0) i = -i - 1;
  if (i >= n) i = 2 * n - i - 1;
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

// Sobel magnitude of one channel from its 3 × 3 neighbourhood: rows a (y - 1), b (y), c (y + 1),
// columns 0, 1, 2 (x - 1, x, x + 1). Derivative [1, 0, -1] along one axis, smoothing [1, 2, 1] / 4
// along the other, magnitude sqrt((gx² + gy²) / 2) as skimage.filters.sobel. The sums run in this
// fixed order everywhere; the scalings by 2, 1/4 and 1/2 are exact.
SS_HD float sobel(float a0, float a1, float a2, float b0, float b2, float c0, float c1, float c2) {
  float gx = mul(add(add(sub(a2, a0), mul(2.0f, sub(b2, b0))), sub(c2, c0)), 0.25f);
  float gy = mul(add(add(sub(c0, a0), mul(2.0f, sub(c1, a1))), sub(c2, a2)), 0.25f);
  return mul(add(mul(gx, gx), mul(gy, gy)), 0.5f);  // the caller takes sqrt (vectorises apart)
}

// rgb2gray weights (ITU-R BT.709 as in scikit-image), summed in this order.
SS_HD float grey(float r, float g, float b) {
  return add(add(mul(0.2125f, r), mul(0.7154f, g)), mul(0.0721f, b));
}

// A row vector of 3 times a 3 × 3 row-major matrix, column j, summed in this order.
SS_HD float dot3(float v0, float v1, float v2, const float* m, int j) {
  return add(add(mul(v0, m[j]), mul(v1, m[3 + j])), mul(v2, m[6 + j]));
}

// The float 2 × 2 mean: top-left, top-right, bottom-left, bottom-right, summed in this order.
SS_HD float downsample_mean(float a, float b, float c, float d) {
  return mul(add(add(add(a, b), c), d), 0.25f);
}

// 2^k for an integer k in [-126, 127], built from its bits.
SS_HD float pow2i(int k) {
  uint32_t bits = static_cast<uint32_t>(k + 127) << 23;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}

// e^x from IEEE adds and multiplies only, so that the host and the GPU agree bit for bit (the
// libraries' expf do not): x = k ln2 + r with a two-part ln2 (Cody and Waite), |r| <= ln2 / 2,
// e^r by its Taylor polynomial to degree 7 (error below 1e-8 relative), times 2^k. Within a couple
// of float ulps of e^x; x is clamped to [-87, 88] so that 2^k stays a normal float.
SS_HD float exp(float x) {
  x = x > -87.0f ? (x < 88.0f ? x : 88.0f) : -87.0f;
  // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer for |v| < 2^22.
  float k = sub(add(mul(x, 1.44269502163f), 12582912.0f), 12582912.0f);
  float r = sub(sub(x, mul(k, 0.693145751953125f)), mul(k, 1.42860682030941723e-6f));
  float p = 1.98412698e-4f;  // 1/7!
  p = add(mul(p, r), 1.38888889e-3f);
  p = add(mul(p, r), 8.33333333e-3f);
  p = add(mul(p, r), 4.16666667e-2f);
  p = add(mul(p, r), 1.66666667e-1f);
  p = add(mul(p, r), 0.5f);
  p = add(mul(p, r), 1.0f);
  p = add(mul(p, r), 1.0f);
  return mul(p, pow2i(static_cast<int>(k)));
}

SS_HD float clip_below_zero(float v) {
  return v > 0.0f ? v : 0.0f;
}

}  // namespace slidestream::ops::math
