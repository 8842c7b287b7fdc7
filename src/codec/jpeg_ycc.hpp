// libjpeg-turbo's last decoding stage, computed per output pixel: "fancy" (triangle-filter)
// upsampling of subsampled chroma (jdsample.c) and the integer YCbCr→RGB of jdcolor.c. Written
// once for the host and the GPU.
//
// Why: nvJPEG's hardware engines decode the Y, Cb and Cr planes bit-identically to libjpeg-turbo's
// default (ISLOW) IDCT, but nvJPEG's own RGB output upsamples chroma by replication, up to 46 grey
// levels away from libjpeg-turbo on H&E tiles (bench/probes/nvjpeg_planes_probe.cpp, H100,
// 2026-11-25). Decoding to planes and finishing here makes GPU-decoded tiles equal libjpeg-turbo's
// (and so OpenSlide's) bit for bit. Covers the samplings TIFF slides use: 4:4:4, 4:2:2 (h2v1),
// 4:2:0 (h2v2), for chroma planes at least 3 samples wide (narrower ones libjpeg upsamples by
// replication).
#pragma once

#include <cstdint>

#include "core/host_device.hpp"

namespace slidestream::codec::ycc {

// The decoded component planes of one image. h_factor/v_factor: how many luma samples share one
// chroma sample across/down (1 or 2). c_width/c_height: the chroma planes' size,
// ceil(width / h_factor) × ceil(height / v_factor).
struct Planes {
  const uint8_t* y = nullptr;
  const uint8_t* cb = nullptr;
  const uint8_t* cr = nullptr;
  uint32_t y_pitch = 0, c_pitch = 0;
  uint32_t c_width = 0, c_height = 0;
  uint8_t h_factor = 1, v_factor = 1;
};

// True when chroma_at reproduces libjpeg-turbo for planes of this shape.
SS_HD bool supported(uint32_t h_factor, uint32_t v_factor, uint32_t c_width) {
  const bool sampling = (h_factor == 1 && v_factor == 1) || (h_factor == 2 && v_factor == 1) ||
                        (h_factor == 2 && v_factor == 2);
  return sampling && (h_factor == 1 || c_width > 2);
}

// The chroma sample libjpeg-turbo uses for luma position (x, y) of `plane`.
SS_HD int chroma_at(const Planes& p, const uint8_t* plane, uint32_t x, uint32_t y) {
  if (p.h_factor == 1) return plane[y * p.c_pitch + x];
  const uint32_t c = x >> 1;
  const bool right = (x & 1) != 0;
  const uint32_t last = p.c_width - 1;
  if (p.v_factor == 1) {  // h2v1_fancy_upsample
    const uint8_t* row = plane + y * p.c_pitch;
    const int here = 3 * row[c];
    if (!right) return c == 0 ? row[0] : (here + row[c - 1] + 1) >> 2;
    return c == last ? row[c] : (here + row[c + 1] + 2) >> 2;
  }
  // h2v2_fancy_upsample: each output row mixes 3/4 of its chroma row with 1/4 of the row above
  // (even rows) or below (odd rows); the planes' first and last rows stand in for missing ones.
  const uint32_t r = y >> 1;
  const uint32_t far = (y & 1) == 0 ? (r > 0 ? r - 1 : 0) : (r + 1 < p.c_height ? r + 1 : r);
  const uint8_t* near_row = plane + r * p.c_pitch;
  const uint8_t* far_row = plane + far * p.c_pitch;
  auto column_sum = [&](uint32_t col) { return 3 * near_row[col] + far_row[col]; };
  const int here = column_sum(c);
  if (!right) return c == 0 ? (4 * here + 8) >> 4 : (3 * here + column_sum(c - 1) + 8) >> 4;
  return c == last ? (4 * here + 7) >> 4 : (3 * here + column_sum(c + 1) + 7) >> 4;
}

// jdcolor.c's ycc_rgb_convert: 16-bit fixed point, constants rounded as FIX() rounds them.
SS_HD void to_rgb(int y, int cb, int cr, uint8_t* rgb) {
  constexpr int kScale = 16;
  constexpr int32_t kHalf = int32_t{1} << (kScale - 1);
  constexpr int32_t kCrToR = 91881;   // FIX(1.40200)
  constexpr int32_t kCbToB = 116130;  // FIX(1.77200)
  constexpr int32_t kCbToG = 22554;   // FIX(0.34414)
  constexpr int32_t kCrToG = 46802;   // FIX(0.71414)
  const int32_t b_part = cb - 128, r_part = cr - 128;
  const int r = y + ((kCrToR * r_part + kHalf) >> kScale);
  const int g = y + ((-kCbToG * b_part + kHalf - kCrToG * r_part) >> kScale);
  const int b = y + ((kCbToB * b_part + kHalf) >> kScale);
  auto clamp = [](int v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); };
  rgb[0] = clamp(r);
  rgb[1] = clamp(g);
  rgb[2] = clamp(b);
}

// The RGB pixel at (x, y), exactly as libjpeg-turbo's default decode gives it.
SS_HD void pixel(const Planes& p, uint32_t x, uint32_t y, uint8_t* rgb) {
  to_rgb(p.y[y * p.y_pitch + x], chroma_at(p, p.cb, x, y), chroma_at(p, p.cr, x, y), rgb);
}

}  // namespace slidestream::codec::ycc
