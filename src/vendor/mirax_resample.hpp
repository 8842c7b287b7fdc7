// OpenSlide 4.0.1 paints each MIRAX camera image with cairo 1.18 / pixman 0.46 (the libraries
// its openslide-bin wheel bundles): cairo_translate to the image's place (any real number of
// pixels), cairo_set_source_surface + cairo_paint with CAIRO_OPERATOR_SATURATE onto a
// premultiplied ARGB32 surface; openslide-python then un-premultiplies. Where the place is not
// a whole pixel, cairo's default filter (GOOD, which it turns into BILINEAR for a translation)
// makes pixman resample the image. These pure functions redo that arithmetic bit for bit
// (docs/mirax.md, "Painting between pixels"):
// - where a surface painted at `origin` is sampled: cairo keeps NEAREST when both origins round
//   to whole pixels in its 24.8 fixed point, else pixman samples at X - origin in 16.16 fixed
//   point (origin rounded half to even), between the two pixels around it, pixels outside the
//   surface transparent (EXTEND_NONE);
// - pixman composites SATURATE in floats (combine_saturate_u_float: d + s × min(1, (1 - da) /
//   sa), channels c / 255, stored as floor(256 f) with 256 folded to 255), with bilinear
//   weights of the whole 16-bit fraction; only a composite whose every sample lies inside an
//   opaque (RGB24) image runs in 8-bit integers (OVER_REVERSE, 7-bit weights, truncated);
// - argb2rgba (openslide-python): 255 * c / alpha, truncated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace slidestream::vendor::mirax {

// A premultiplied ARGB32 pixel as pixman holds it: alpha << 24 | red << 16 | green << 8 | blue.
using Argb = uint32_t;

// How cairo + pixman sample a surface whose top-left corner is painted at `origin`.
struct Sampling {
  bool nearest = true;
  int64_t shift_x = 0, shift_y = 0;  // nearest: destination pixel X shows source pixel X - shift
  int64_t fixed_x = 0, fixed_y = 0;  // bilinear: the origin in 16.16 fixed point
};
Sampling sampling_at(double origin_x, double origin_y);

// A surface cairo paints: an RGB24 image (opaque; `rgb`, 3 bytes a pixel) or a premultiplied
// ARGB32 one (`argb`). Outside its width × height it is transparent.
struct Surface {
  const std::byte* rgb = nullptr;
  const Argb* argb = nullptr;
  int64_t width = 0, height = 0;
};

// A rectangle of the painted plane: [x, x + width) × [y, y + height).
struct Rect {
  int64_t x = 0, y = 0, width = 0, height = 0;
};

// The destination: `pixels` (row_pitch Argb a row) is the window `area` of the painted plane.
// `surface` is the cairo surface OpenSlide paints that window into (read_region paints a
// region in 4096² pieces, each its own surface): it contains `area`, and bounds each paint's
// composite, whose extent decides pixman's arithmetic (below).
struct Canvas {
  Argb* pixels = nullptr;
  Rect area, surface;
  size_t row_pitch = 0;
};

// Paints `source`, whose top-left corner lands at (origin_x, origin_y) and is sampled as `at`
// says, onto `canvas` with cairo's SATURATE operator. pixman composites SATURATE in its float
// path (it needs a division), except where the source is opaque over the whole composite: an
// RGB24 image whose composite rectangle (cairo: the image's extent rounded out, within the
// surface) samples only inside the image, where SATURATE becomes OVER_REVERSE in 8-bit
// integers. An ARGB32 surface is never opaque.
void paint_saturate(const Surface& source, const Sampling& at, double origin_x, double origin_y,
                    const Canvas& canvas);

// The ARGB32 surface of ceil(tile_w) × ceil(tile_h) pixels read_tile cuts out of an image split
// into tiles: the image painted at (-src_x, -src_y) onto a transparent surface (OVER onto
// nothing: the samples themselves). Its size is bounded by the image's.
std::vector<Argb> cut_tile(const Surface& image, double src_x, double src_y, int64_t width,
                           int64_t height);

// openslide-python's un-premultiplying argb2rgba, keeping RGB: 0 where alpha is 0.
void unpremultiply_rgb(std::span<const Argb> argb, std::byte* rgb);

}  // namespace slidestream::vendor::mirax
