// The arithmetic OpenSlide 4.0.1 (cairo 1.18, pixman 0.46) paints MIRAX camera images with
// where they lie between pixels (src/vendor/mirax_resample.hpp), on values observed in
// OpenSlide's own output (tests/test_vendor_mirax.cpp compares whole slides): which filter cairo
// picks, where pixman samples, its float SATURATE against its 8-bit OVER_REVERSE, and
// openslide-python's un-premultiplying.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "vendor/mirax_resample.hpp"

namespace slidestream::vendor::mirax {
namespace {

std::vector<std::byte> gray_row(std::initializer_list<int> values) {
  std::vector<std::byte> rgb;
  for (int v : values) rgb.insert(rgb.end(), 3, static_cast<std::byte>(v));
  return rgb;
}

TEST(MiraxResample, CairoKeepsNearestWhereItsFixedPointSaysWhole) {
  const Sampling whole = sampling_at(12, -3);
  EXPECT_TRUE(whole.nearest);
  EXPECT_EQ(whole.shift_x, 12);
  EXPECT_EQ(whole.shift_y, -3);
  // 1/512 px rounds to a whole 1/256 (ties to even) in cairo's 24.8 fixed point: still NEAREST.
  const Sampling near = sampling_at(7 + 1.0 / 512, 5 - 1.0 / 512);
  EXPECT_TRUE(near.nearest);
  EXPECT_EQ(near.shift_x, 7);
  EXPECT_EQ(near.shift_y, 5);
  // Half a pixel on either axis: bilinear on both, the origin in 16.16.
  const Sampling half = sampling_at(3, 0.5);
  EXPECT_FALSE(half.nearest);
  EXPECT_EQ(half.fixed_x, 3 * 65536);
  EXPECT_EQ(half.fixed_y, 32768);
  EXPECT_FALSE(sampling_at(3 * 1.0 / 512, 0).nearest);
}

// A pixel half covered by an opaque image (its edge at y = 0.5): pixman's float path gives alpha
// floor(0.5 × 256) = 128 and colour floor(245 / 255 × 0.5 × 256) = 122, which openslide-python
// un-premultiplies to 255 × 122 / 128 = 243 (OpenSlide's output at such an edge).
TEST(MiraxResample, AHalfCoveredEdgePixelIsWhatOpenSlideReturns) {
  const auto rgb = gray_row({245});
  std::vector<Argb> plane(4, 0);
  const Canvas canvas{plane.data(), {0, 0, 1, 4}, {0, 0, 1, 4}, 1};
  paint_saturate(Surface{rgb.data(), nullptr, 1, 1}, sampling_at(0, 0.5), 0, 0.5, canvas);
  EXPECT_EQ(plane[0], 0x807a7a7au);
  EXPECT_EQ(plane[1], 0x807a7a7au);
  EXPECT_EQ(plane[2], 0u);
  std::vector<std::byte> out(12);
  unpremultiply_rgb(plane, out.data());
  EXPECT_EQ(static_cast<int>(out[0]), 243);
  EXPECT_EQ(static_cast<int>(out[6]), 0);  // alpha 0: nothing drawn
}

// The same paint in 8-bit integers or in floats, depending on the surface it lands on: where
// the composite rectangle (the image's extent rounded out, cut to the surface) samples only
// inside the opaque image, pixman runs OVER_REVERSE in 8 bits (245 + 246 → 245); where it also
// samples past the image, SATURATE in floats (→ floor(491 / 510 × 256) = 246).
TEST(MiraxResample, TheSurfaceDecidesBetweenIntegerAndFloatArithmetic) {
  const auto rgb = gray_row({245, 246, 245, 246, 245, 246, 245, 246});
  const Surface image{rgb.data(), nullptr, 4, 2};
  const Sampling at = sampling_at(0.5, 0);
  std::vector<Argb> whole(6, 0), inner(6, 0);
  paint_saturate(image, at, 0.5, 0, Canvas{whole.data(), {0, 0, 6, 1}, {0, 0, 6, 1}, 6});
  paint_saturate(image, at, 0.5, 0, Canvas{inner.data(), {0, 0, 6, 1}, {1, 0, 3, 1}, 6});
  EXPECT_EQ(whole[1] & 0xff, 246u);
  EXPECT_EQ(inner[1] & 0xff, 245u);
  EXPECT_EQ(whole[0] >> 24, 128u);  // the left edge, half covered
  EXPECT_EQ(inner[0], 0u);          // outside the inner surface: not painted
}

// read_tile's cut of an image split into 62.5 px tiles: the image sampled half a pixel over
// (8-bit, 7-bit weights, truncated), transparent past the image.
TEST(MiraxResample, ACutAtAHalfPixelAveragesNeighboursAndFadesPastTheImage) {
  const auto rgb = gray_row({10, 21, 30});
  const auto cut = cut_tile(Surface{rgb.data(), nullptr, 3, 1}, 1.5, 0, 2, 1);
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut[0], 0xff191919u);  // (21 + 30) / 2 = 25
  EXPECT_EQ(cut[1], 0x7f0f0f0fu);  // (30 + nothing) / 2: alpha 127, colour 15
}

// A second image painted over a partly covered pixel fills only the room left: an opaque RGB24
// image in 8 bits (OVER_REVERSE: 122 + 200 × 127 / 255 rounded), an ARGB32 cut in floats
// (floor((122 + 200 × (1 - 128 / 255)) / 255 × 256)).
TEST(MiraxResample, SaturateFillsOnlyTheRoomLeft) {
  const auto rgb = gray_row({200});
  std::vector<Argb> plane{0x807a7a7au};
  const Canvas canvas{plane.data(), {0, 0, 1, 1}, {0, 0, 1, 1}, 1};
  paint_saturate(Surface{rgb.data(), nullptr, 1, 1}, sampling_at(0, 0), 0, 0, canvas);
  EXPECT_EQ(plane[0], 0xffdededeu);
  const std::vector<Argb> cut{0xffc8c8c8u};
  plane[0] = 0x807a7a7au;
  paint_saturate(Surface{nullptr, cut.data(), 1, 1}, sampling_at(0, 0), 0, 0, canvas);
  EXPECT_EQ(plane[0], 0xffdededeu);
  plane[0] = 0xff102030u;  // already opaque: nothing more
  paint_saturate(Surface{nullptr, cut.data(), 1, 1}, sampling_at(0, 0), 0, 0, canvas);
  EXPECT_EQ(plane[0], 0xff102030u);
}

}  // namespace
}  // namespace slidestream::vendor::mirax
