#include "vendor/mirax_resample.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace slidestream::vendor::mirax {
namespace {

// pixman's BILINEAR_INTERPOLATION_BITS: a weight is the top 7 bits of a position's fraction.
constexpr int kWeightBits = 7;
constexpr int64_t kWeightOne = int64_t{1} << kWeightBits;

// cairo's _cairo_fixed_from_double / _cairo_fixed_16_16_from_double: v × 2^bits rounded to
// nearest, ties to even (the "magic number" addition under the default rounding mode).
int64_t to_fixed(double v, int bits) {
  return static_cast<int64_t>(std::nearbyint(std::ldexp(v, bits)));
}

// _cairo_matrix_is_pixel_exact: a translation whose 24.8 fixed-point value is whole.
bool pixel_exact(double origin) {
  return to_fixed(origin, 8) % 256 == 0;
}

inline uint32_t channel(Argb p, int shift) {
  return (p >> shift) & 0xff;
}

// pixman's UN8x4_MUL_UN8 for one channel: x × a / 255, rounded.
inline uint32_t mul_un8(uint32_t x, uint32_t a) {
  const uint32_t t = x * a + 0x80;
  return (t + (t >> 8)) >> 8;
}

// pixman's narrow combine_over_reverse_u (what SATURATE becomes for an opaque source): the
// destination plus the source scaled by the room left, each channel saturated.
inline Argb over_reverse(Argb d, Argb s) {
  const uint32_t room = 255 - (d >> 24);
  Argb out = 0;
  for (int shift = 0; shift < 32; shift += 8) {
    out |= std::min<uint32_t>(255, channel(d, shift) + mul_un8(channel(s, shift), room)) << shift;
  }
  return out;
}

// pixman's wide pixels: premultiplied channels as floats in [0, 1].
struct Wide {
  float a = 0, r = 0, g = 0, b = 0;
};

// pixman_expand_to_float: an 8-bit channel times the float nearest 1/255.
constexpr float kUnit = 1.0f / 255;
inline Wide widen(Argb p) {
  return {static_cast<float>(channel(p, 24)) * kUnit, static_cast<float>(channel(p, 16)) * kUnit,
          static_cast<float>(channel(p, 8)) * kUnit, static_cast<float>(channel(p, 0)) * kUnit};
}

// float_to_unorm (pixman-utils.c): clamp, × 256 truncated, 256 folded onto 255.
inline uint32_t unorm8(float f) {
  if (f > 1.0f) f = 1.0f;
  if (f < 0.0f) f = 0.0f;
  uint32_t u = static_cast<uint32_t>(f * 256.0f);
  u -= u >> 8;
  return u;
}
inline Argb narrow(const Wide& w) {
  return unorm8(w.a) << 24 | unorm8(w.r) << 16 | unorm8(w.g) << 8 | unorm8(w.b);
}

// combine_saturate_u_float (pixman-combine-float.c: INV_DA_OVER_SA, ONE) on one channel.
inline float saturate_channel(float sa, float s, float da, float d) {
  float fa = 1.0f;
  if (!(-std::numeric_limits<float>::min() < sa && sa < std::numeric_limits<float>::min())) {
    fa = (1.0f - da) / sa;
    fa = fa < 0 ? 0.0f : fa > 1.0f ? 1.0f : fa;
  }
  const float sum = s * fa + d * 1.0f;
  return std::min(1.0f, sum);
}

// SATURATE in pixman's wide path (it needs a division): the 8-bit destination widened,
// combined with the float source, stored back to 8 bits.
inline Argb saturate_wide(Argb d8, const Wide& s) {
  const Wide d = widen(d8);
  return narrow({saturate_channel(s.a, s.a, d.a, d.a), saturate_channel(s.a, s.r, d.a, d.r),
                 saturate_channel(s.a, s.g, d.a, d.g), saturate_channel(s.a, s.b, d.a, d.b)});
}

// The source pixel (x, y) as pixman fetches it: RGB24 opaque, transparent outside.
inline Argb fetch(const Surface& s, int64_t x, int64_t y) {
  if (x < 0 || y < 0 || x >= s.width || y >= s.height) return 0;
  const size_t i = static_cast<size_t>(y * s.width + x);
  if (s.argb) return s.argb[i];
  const auto* p = reinterpret_cast<const uint8_t*>(s.rgb) + 3 * i;
  return 0xff000000u | uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2];
}

// pixman's narrow bilinear_interpolation (weights of 7 bits, each channel truncated once).
inline Argb bilinear(Argb tl, Argb tr, Argb bl, Argb br, int64_t wx, int64_t wy) {
  const int64_t w_tl = (kWeightOne - wx) * (kWeightOne - wy), w_tr = wx * (kWeightOne - wy);
  const int64_t w_bl = (kWeightOne - wx) * wy, w_br = wx * wy;
  Argb out = 0;
  for (int shift = 0; shift < 32; shift += 8) {
    const int64_t sum = channel(tl, shift) * w_tl + channel(tr, shift) * w_tr +
                        channel(bl, shift) * w_bl + channel(br, shift) * w_br;
    out |= static_cast<uint32_t>(sum >> (2 * kWeightBits)) << shift;
  }
  return out;
}

// pixman's bilinear_interpolation_float: the whole 16-bit fraction as the weight, float sums in
// the order written there.
inline Wide bilinear_wide(Argb tl8, Argb tr8, Argb bl8, Argb br8, int64_t fx, int64_t fy) {
  const float dx = static_cast<float>(fx) / 65536.0f, dy = static_cast<float>(fy) / 65536.0f;
  const float w_br = dx * dy, w_tr = dx * (1.0f - dy), w_bl = (1.0f - dx) * dy,
              w_tl = (1.0f - dx) * (1.0f - dy);
  const Wide tl = widen(tl8), tr = widen(tr8), bl = widen(bl8), br = widen(br8);
  const auto mix = [&](float Wide::*c) {
    float v = tl.*c * w_tl;
    v = v + tr.*c * w_tr;
    v = v + bl.*c * w_bl;
    v = v + br.*c * w_br;
    return v;
  };
  return {mix(&Wide::a), mix(&Wide::r), mix(&Wide::g), mix(&Wide::b)};
}

// One axis of a bilinear sample: the pixel before the sample point, the 16-bit fraction toward
// the next one and its 7-bit weight. pixman samples destination pixel X at (X + 1/2) - origin
// - 1/2 in 16.16.
struct Tap {
  int64_t index = 0, fraction = 0, weight = 0;
};
inline Tap tap(int64_t x, int64_t fixed_origin) {
  const int64_t u = x * 65536 - fixed_origin;
  return {u >> 16, u & 0xffff, (u >> (16 - kWeightBits)) & (kWeightOne - 1)};
}

// The pixels [x0, x1) × [y0, y1) of the canvas's window that a paint may reach.
struct Span {
  int64_t x0 = 0, x1 = 0, y0 = 0, y1 = 0;
};
Span within(const Canvas& c, int64_t x0, int64_t x1, int64_t y0, int64_t y1) {
  return {std::max(x0, c.area.x), std::min(x1, c.area.x + c.area.width), std::max(y0, c.area.y),
          std::min(y1, c.area.y + c.area.height)};
}

// One row of an opaque RGB24 image painted NEAREST (OVER_REVERSE), `count` pixels from source
// column `x` of row `y` (all inside the image). The common cases need no arithmetic: onto a
// clear pixel OVER_REVERSE gives the source itself (mul_un8(c, 255) == c), onto an opaque
// one it leaves the destination (mul_un8(c, 0) == 0); only partly covered pixels (a bilinear
// paint's edge) take the general combine.
void paint_nearest_rgb_row(const Surface& source, int64_t y, int64_t x, int64_t count, Argb* out) {
  const auto* p =
      reinterpret_cast<const uint8_t*>(source.rgb) + 3 * static_cast<size_t>(y * source.width + x);
  for (int64_t i = 0; i < count; ++i, p += 3) {
    const Argb s = 0xff000000u | uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2];
    if (out[i] == 0) {
      out[i] = s;
    } else if ((out[i] >> 24) != 255) {
      out[i] = over_reverse(out[i], s);
    }
  }
}

// A NEAREST paint composites exactly the image's pixels: an RGB24 image is opaque there.
void paint_nearest(const Surface& source, const Sampling& at, const Canvas& canvas) {
  const Span s =
      within(canvas, at.shift_x, at.shift_x + source.width, at.shift_y, at.shift_y + source.height);
  for (int64_t y = s.y0; y < s.y1; ++y) {
    Argb* row = canvas.pixels + static_cast<size_t>(y - canvas.area.y) * canvas.row_pitch;
    if (source.rgb) {
      paint_nearest_rgb_row(source, y - at.shift_y, s.x0 - at.shift_x, s.x1 - s.x0,
                            row + (s.x0 - canvas.area.x));
      continue;
    }
    for (int64_t x = s.x0; x < s.x1; ++x) {
      Argb& d = row[x - canvas.area.x];
      const Argb p = fetch(source, x - at.shift_x, y - at.shift_y);
      // The float combine's common cases, exactly: onto an opaque pixel it leaves the
      // destination ((1 - da) / sa is 0, and widening then narrowing a channel gives it back);
      // an opaque source onto a clear pixel gives the source itself.
      if ((d >> 24) == 255) continue;
      if (d == 0 && (p >> 24) == 255) {
        d = p;
        continue;
      }
      d = saturate_wide(d, widen(p));
    }
  }
}

// The composite rectangle of a bilinear paint on one axis: cairo's _cairo_pattern_get_extents
// (the surface's extent, widened by 1/2 and rounded with floor(v + 1/2)), within the surface.
std::pair<int64_t, int64_t> composite_range(double origin, int64_t size, int64_t surface_start,
                                            int64_t surface_size) {
  const auto lo = static_cast<int64_t>(std::floor(origin - 0.5 + 0.5));
  const auto hi = static_cast<int64_t>(std::floor(origin + static_cast<double>(size) + 0.5 + 0.5));
  return {std::max(lo, surface_start), std::min(hi, surface_start + surface_size)};
}

// pixman's FAST_PATH_SAMPLES_COVER_CLIP_BILINEAR on one axis: every sample's two pixels inside.
bool samples_inside(int64_t first, int64_t last, int64_t fixed_origin, int64_t size) {
  return tap(first, fixed_origin).index >= 0 && tap(last, fixed_origin).index + 1 < size;
}

void paint_bilinear(const Surface& source, const Sampling& at, double origin_x, double origin_y,
                    const Canvas& canvas) {
  const auto [bx0, bx1] =
      composite_range(origin_x, source.width, canvas.surface.x, canvas.surface.width);
  const auto [by0, by1] =
      composite_range(origin_y, source.height, canvas.surface.y, canvas.surface.height);
  if (bx0 >= bx1 || by0 >= by1) return;
  const bool narrow_path = source.rgb && samples_inside(bx0, bx1 - 1, at.fixed_x, source.width) &&
                           samples_inside(by0, by1 - 1, at.fixed_y, source.height);
  const Span s = within(canvas, bx0, bx1, by0, by1);
  std::vector<Tap> columns;
  for (int64_t x = s.x0; x < s.x1; ++x) columns.push_back(tap(x, at.fixed_x));
  for (int64_t y = s.y0; y < s.y1; ++y) {
    const Tap ty = tap(y, at.fixed_y);
    Argb* row = canvas.pixels + static_cast<size_t>(y - canvas.area.y) * canvas.row_pitch;
    for (int64_t x = s.x0; x < s.x1; ++x) {
      const Tap tx = columns[static_cast<size_t>(x - s.x0)];
      const Argb tl = fetch(source, tx.index, ty.index), tr = fetch(source, tx.index + 1, ty.index);
      const Argb bl = fetch(source, tx.index, ty.index + 1),
                 br = fetch(source, tx.index + 1, ty.index + 1);
      Argb& d = row[x - canvas.area.x];
      if (narrow_path) {
        d = over_reverse(d, bilinear(tl, tr, bl, br, tx.weight, ty.weight));
      } else {
        d = saturate_wide(d, bilinear_wide(tl, tr, bl, br, tx.fraction, ty.fraction));
      }
    }
  }
}

}  // namespace

Sampling sampling_at(double origin_x, double origin_y) {
  Sampling s;
  // _cairo_pattern_analyze_filter: NEAREST where the translation is pixel exact, and then
  // _cairo_matrix_is_pixman_translation's offset, _pixman_nearest_sample: ceil(-origin - 1/2).
  s.nearest = pixel_exact(origin_x) && pixel_exact(origin_y);
  if (s.nearest) {
    s.shift_x = static_cast<int64_t>(std::floor(origin_x + 0.5));
    s.shift_y = static_cast<int64_t>(std::floor(origin_y + 0.5));
  } else {
    s.fixed_x = to_fixed(origin_x, 16);
    s.fixed_y = to_fixed(origin_y, 16);
  }
  return s;
}

void paint_saturate(const Surface& source, const Sampling& at, double origin_x, double origin_y,
                    const Canvas& canvas) {
  if (at.nearest) {
    paint_nearest(source, at, canvas);
  } else {
    paint_bilinear(source, at, origin_x, origin_y, canvas);
  }
}

std::vector<Argb> cut_tile(const Surface& image, double src_x, double src_y, int64_t width,
                           int64_t height) {
  // cairo_fill onto a fresh surface: OVER onto a clear surface is SRC, composited narrow.
  std::vector<Argb> out(static_cast<size_t>(width * height), 0);
  const Sampling at = sampling_at(-src_x, -src_y);
  for (int64_t y = 0; y < height; ++y) {
    const Tap ty = tap(y, at.fixed_y);
    for (int64_t x = 0; x < width; ++x) {
      Argb& d = out[static_cast<size_t>(y * width + x)];
      if (at.nearest) {
        d = fetch(image, x - at.shift_x, y - at.shift_y);
        continue;
      }
      const Tap tx = tap(x, at.fixed_x);
      d = bilinear(fetch(image, tx.index, ty.index), fetch(image, tx.index + 1, ty.index),
                   fetch(image, tx.index, ty.index + 1), fetch(image, tx.index + 1, ty.index + 1),
                   tx.weight, ty.weight);
    }
  }
  return out;
}

void unpremultiply_rgb(std::span<const Argb> argb, std::byte* rgb) {
  auto* out = reinterpret_cast<uint8_t*>(rgb);
  for (const Argb p : argb) {
    const uint32_t a = p >> 24;
    for (int shift = 16; shift >= 0; shift -= 8) {
      const uint32_t c = channel(p, shift);
      *out++ = static_cast<uint8_t>(a == 255 ? c : a == 0 ? 0 : 255 * c / a);
    }
  }
}

}  // namespace slidestream::vendor::mirax
