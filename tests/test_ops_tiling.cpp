// Tiled equals whole, bit for bit, on the CPU: every op and chain, computed tile by tile from
// windows that carry the halo (the border rule applied to the image, never to the tile), must give
// exactly the bytes of the whole-image computation, for tile sizes that divide nothing, tiles
// smaller than the halo, single pixels and single rows, and windows at corners and borders. Also
// the argument checks.
#include <gtest/gtest.h>

#include "slidestream/error.hpp"
#include "support/test_support.hpp"
#include "test_ops_util.hpp"

namespace slidestream::test {
namespace {

using ops::Op;
using ops::OpKind;

const std::vector<std::vector<Op>> kChains = {
    {{OpKind::sobel}},
    {{OpKind::sobel_u8}},
    {{OpKind::grey}},
    {{OpKind::optical_density, 240.0f}},
    {{OpKind::hed}},
    {{OpKind::grey}, {OpKind::sobel}},                                     // fused
    {{OpKind::hed}, {OpKind::sobel_u8}},                                   // fused
    {{OpKind::optical_density}, {OpKind::sobel}},                          // fused
    {{OpKind::sobel}, {OpKind::sobel}},                                    // intermediate, halo 2
    {{OpKind::hed}, {OpKind::sobel}, {OpKind::grey}, {OpKind::sobel_u8}},  // halo 2, 3 passes
    {macenko_op()},
    {macenko_op(), {OpKind::sobel}},  // not fused: the Sobel reads macenko's uint8 output
};

std::string name(const std::vector<Op>& chain) {
  std::string s;
  for (const Op& op : chain) s += (s.empty() ? "" : ",") + ops::to_string(op);
  return s;
}

TEST(OpsTiling, TiledEqualsWholeForEveryChainAndTileSize) {
  Image in = random_image(503, 301, 3, DataType::uint8, 42);
  const std::pair<int64_t, int64_t> tiles[] = {{2, 2},   {7, 7},   {64, 64}, {300, 300},
                                               {503, 1}, {1, 301}, {300, 7}, {13, 128}};
  for (const auto& chain : kChains) {
    Image whole = apply_whole(chain, in);
    for (auto [tw, th] : tiles) {
      EXPECT_TRUE(same_bytes(whole, apply_tiled(chain, in, tw, th)))
          << name(chain) << " tile " << tw << " x " << th;
    }
  }
}

TEST(OpsTiling, SinglePixelTilesOn503x301EqualWhole) {
  Image in = random_image(503, 301, 3, DataType::uint8, 43);
  for (const auto& chain : {std::vector<Op>{{OpKind::sobel}},
                            std::vector<Op>{{OpKind::grey}, {OpKind::sobel}, {OpKind::sobel}}}) {
    EXPECT_TRUE(same_bytes(apply_whole(chain, in), apply_tiled(chain, in, 1, 1))) << name(chain);
  }
}

TEST(OpsTiling, SinglePixelTilesEqualWhole) {
  Image in = random_image(37, 23, 3, DataType::uint8, 5);
  for (const auto& chain : kChains) {
    EXPECT_TRUE(same_bytes(apply_whole(chain, in), apply_tiled(chain, in, 1, 1))) << name(chain);
  }
}

TEST(OpsTiling, FloatAndMultiChannelSobelTiledEqualsWhole) {
  for (int c : {1, 2, 3, 4, 5}) {
    Image in = random_image(129, 71, c, DataType::float32, 11u + c, -3.0f, 7.0f);
    for (const auto& chain :
         {std::vector<Op>{{OpKind::sobel}}, std::vector<Op>{{OpKind::sobel_u8}}}) {
      Image whole = apply_whole(chain, in);
      for (int64_t t : {1, 3, 64}) {
        EXPECT_TRUE(same_bytes(whole, apply_tiled(chain, in, t, t)))
            << name(chain) << " channels " << c << " tile " << t;
      }
    }
  }
}

TEST(OpsTiling, TinyImagesReflectAtBothEnds) {
  // 1 × 1, 1 × n, n × 1 and 2 × 2 images: the halo reflects onto the same few pixels.
  const std::pair<int64_t, int64_t> sizes[] = {{1, 1}, {1, 9}, {9, 1}, {2, 2}, {3, 2}};
  for (auto [w, h] : sizes) {
    Image in = random_image(w, h, 3, DataType::uint8, 99);
    for (const auto& chain : kChains) {
      Image whole = apply_whole(chain, in);
      EXPECT_TRUE(same_bytes(whole, apply_tiled(chain, in, 1, 1)))
          << name(chain) << " on " << w << " x " << h;
    }
  }
}

TEST(OpsTiling, SobelOfAConstantImageIsZeroUpToTheBorders) {
  // With a half-sample symmetric border a constant image has no edge anywhere, borders included.
  Image in = Image::allocate(17, 9, 3, DataType::uint8);
  std::memset(in.data(), 200, in.size_bytes());
  Image out = apply_whole({{OpKind::sobel}}, in);
  for (size_t i = 0; i < 17 * 9 * 3; ++i) ASSERT_EQ(sample_as_double(out, i), 0.0) << i;
}

TEST(OpsTiling, ALargerInputWindowGivesTheSameTile) {
  // The input window may hold more than the halo: only image coordinates matter.
  Image in = random_image(200, 150, 3, DataType::uint8, 8);
  std::vector<Op> chain = {{OpKind::grey}, {OpKind::sobel}, {OpKind::sobel}};
  Image whole = apply_whole(chain, in);
  for (auto [x, y] : {std::pair<int64_t, int64_t>{0, 0}, {190, 140}, {0, 140}, {77, 31}}) {
    Image tile = Image::allocate(10, 10, 1, DataType::float32);
    ops::apply_chain(chain, in.view(), {0, 0}, tile.view(), {x, y}, {200, 150});
    Image expected = Image::allocate(10, 10, 1, DataType::float32);
    for (int64_t row = 0; row < 10; ++row) {
      std::memcpy(expected.view().row(row), whole.view().row(y + row) + x * 4, 40);
    }
    EXPECT_TRUE(same_bytes(tile, expected)) << "tile at " << x << ", " << y;
  }
}

TEST(OpsTiling, PitchedViewsGiveTheSameResult) {
  // Input and output views with row padding (crops of larger buffers).
  Image in = random_image(64, 40, 3, DataType::uint8, 21);
  Image big_in = random_image(80, 50, 3, DataType::uint8, 22);
  for (int64_t y = 0; y < 40; ++y) {
    std::memcpy(big_in.view().row(y + 5) + 7 * 3, in.view().row(y), 64 * 3);
  }
  std::vector<Op> chain = {{OpKind::sobel}};
  Image whole = apply_whole(chain, in);
  Image big_out = Image::allocate(70, 45, 3, DataType::float32);
  ImageView out = big_out.view().crop(3, 2, 64, 40);
  ops::apply_chain(chain, big_in.view().crop(7, 5, 64, 40), {0, 0}, out, {0, 0}, {64, 40});
  Image copy = Image::allocate(64, 40, 3, DataType::float32);
  for (int64_t y = 0; y < 40; ++y) std::memcpy(copy.view().row(y), out.row(y), out.row_bytes());
  EXPECT_TRUE(same_bytes(whole, copy));
}

TEST(OpsTiling, DownsampleOfEvenTilesEqualsWhole) {
  for (DataType dt : {DataType::uint8, DataType::float32}) {
    Image in = random_image(503, 301, 3, dt, 4);
    Image whole = Image::allocate(251, 150, 3, dt);
    ops::downsample2(in.view(), whole.view());
    Image tiled = Image::allocate(251, 150, 3, dt);
    for (int64_t y = 0; y < 150; y += 32) {
      for (int64_t x = 0; x < 251; x += 32) {
        int64_t w = std::min<int64_t>(32, 251 - x), h = std::min<int64_t>(32, 150 - y);
        ops::downsample2(in.view().crop(2 * x, 2 * y, 2 * w, 2 * h), tiled.view().crop(x, y, w, h));
      }
    }
    EXPECT_TRUE(same_bytes(whole, tiled)) << to_string(dt);
  }
}

template <typename F>
void expect_error(ErrorKind kind, F&& f, const std::string& mentions) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << mentions << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
  }
}

TEST(OpsArguments, BadArgumentsGiveClearErrors) {
  Image in = random_image(20, 10, 3, DataType::uint8, 1);
  Image out = Image::allocate(10, 5, 3, DataType::float32);
  Op sobel{OpKind::sobel};
  // The input window misses the halo on the left.
  expect_error(
      ErrorKind::invalid_argument,
      [&] {
        ops::apply(sobel, in.view().crop(5, 0, 15, 10), {5, 0}, out.view(), {5, 0}, {20, 10});
      },
      "does not hold");
  // The output window leaves the image.
  expect_error(
      ErrorKind::invalid_argument,
      [&] {
        ops::apply(sobel, in.view(), {0, 0}, out.view(), {15, 0}, {20, 10});
      },
      "not inside");
  // Wrong output format.
  Image u8 = Image::allocate(10, 5, 3, DataType::uint8);
  expect_error(
      ErrorKind::invalid_argument,
      [&] {
        ops::apply(sobel, in.view(), {0, 0}, u8.view(), {0, 0}, {20, 10});
      },
      "float32");
  // Inputs an op does not take.
  expect_error(
      ErrorKind::unsupported,
      [&] {
        ops::output_format(Op{OpKind::hed}, {3, DataType::float32});
      },
      "hed");
  expect_error(
      ErrorKind::unsupported,
      [&] {
        ops::output_format(Op{OpKind::grey}, {4, DataType::uint8});
      },
      "grey");
  expect_error(
      ErrorKind::invalid_argument, [&] { ops::parse_op("blur"); }, "blur");
  expect_error(
      ErrorKind::invalid_argument, [&] { ops::parse_op("od:abc"); }, "od:abc");
  expect_error(
      ErrorKind::invalid_argument, [&] { ops::parse_op("od:0.5"); }, "Io");
  expect_error(
      ErrorKind::invalid_argument,
      [&] {
        ops::apply_chain({}, in.view(), {0, 0}, out.view(), {0, 0}, {20, 10});
      },
      "empty");
  // Macenko cannot be fitted to a blank (all-background) image, nor to float pixels.
  Image blank = Image::allocate(20, 10, 3, DataType::uint8);
  std::memset(blank.data(), 250, blank.size_bytes());
  expect_error(
      ErrorKind::invalid_argument, [&] { ops::fit_macenko(blank.view()); }, "beta");
  expect_error(
      ErrorKind::invalid_argument, [&] { ops::fit_macenko(out.view()); }, "uint8");
  Image half = Image::allocate(9, 5, 3, DataType::uint8);
  expect_error(
      ErrorKind::invalid_argument, [&] { ops::downsample2(in.view(), half.view()); }, "10 x 5");
}

TEST(OpsArguments, NamesRoundTrip) {
  for (const char* n : {"sobel", "sobel-u8", "grey", "od", "od:240", "hed"}) {
    EXPECT_EQ(ops::to_string(ops::parse_op(n)), n);
  }
  EXPECT_EQ(ops::parse_op("od:240").io, 240.0f);
  EXPECT_EQ(ops::halo_radius(ops::parse_op("sobel")), 1);
  EXPECT_EQ(ops::halo_radius(ops::parse_op("hed")), 0);
  EXPECT_EQ(ops::halo_radius(kChains[kChains.size() - 3]), 2);
  EXPECT_EQ(ops::to_string(macenko_op()), "macenko");
}

}  // namespace
}  // namespace slidestream::test
