// Reads at a target mpp, tissue masks and patch grids (slidestream/regions.hpp, patches.hpp):
// area averaging at an integer factor equals the block mean rounded half up (computed here
// directly); its tables weigh every footprint exactly; mpp reads pick the level whose
// resolution is closest without being coarser, and refuse slides without an mpp and mpps finer
// than level 0 with errors that say so; mask cleaning removes specks and fills holes by their
// connectivity; grids cover the slide row by row. (python/tests/test_patches.py compares the
// same against scikit-image's downscale_local_mean, threshold_otsu and morphology.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ops/area_resample.hpp"
#include "slidestream/error.hpp"
#include "slidestream/patches.hpp"
#include "slidestream/regions.hpp"
#include "support/test_support.hpp"

namespace slidestream::test {
namespace {

TEST(Patches, AreaTablesWeighEveryFootprintExactly) {
  for (double factor : {1.0, 2.0, 3.0, 1.5, 2.37, 7.9999999}) {
    const ops::AreaAxis a = ops::area_axis(37, factor);
    for (size_t i = 0; i < a.first.size(); ++i) {
      int64_t sum = 0;
      for (int32_t k = 0; k < a.count[i]; ++k) sum += a.weights[a.offset[i] + k];
      EXPECT_EQ(sum, a.total[i]) << factor << " output " << i;
      EXPECT_NEAR(static_cast<double>(a.total[i]) / ops::kAreaUnit, factor, 1e-3);
    }
    EXPECT_EQ(a.source_extent, static_cast<int64_t>(std::ceil(37 * factor - 1e-6)));
  }
  EXPECT_THROW(ops::area_axis(4, 0.5), Error);
}

TEST(Patches, IntegerFactorIsTheBlockMeanRoundedHalfUp) {
  std::mt19937 rng(3);
  const int f = 3, w = 10, h = 7, c = 3, regions = 2;
  Image in = Image::allocate(w * f, regions * h * f, c, DataType::uint8);
  auto* p = reinterpret_cast<uint8_t*>(in.data());
  for (size_t i = 0; i < in.size_bytes(); ++i) p[i] = static_cast<uint8_t>(rng());
  Image out = Image::allocate(w, regions * h, c, DataType::uint8);
  ops::area_resample_cpu(in.view(), out.view(), regions, ops::area_axis(w, f), ops::area_axis(h, f),
                         2);
  const auto* o = reinterpret_cast<const uint8_t*>(out.data());
  for (int r = 0; r < regions * h; ++r) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) {
        int sum = 0;
        for (int dy = 0; dy < f; ++dy) {
          for (int dx = 0; dx < f; ++dx) sum += p[((r * f + dy) * w * f + x * f + dx) * c + k];
        }
        EXPECT_EQ(o[(r * w + x) * c + k], (2 * sum + f * f) / (2 * f * f)) << r << " " << x;
      }
    }
  }
}

// The CPU loop sums the same products in another order (columns first) and divides without a
// 64-bit division; area_sample, per sample, is what the CUDA kernel runs. Every byte must agree.
void expect_cpu_loop_equals_area_sample(const Image& in, int64_t regions, int64_t w, int64_t h,
                                        double fx, double fy, const std::string& what) {
  const ops::AreaAxis ax = ops::area_axis(w, fx), ay = ops::area_axis(h, fy);
  const int c = in.channels();
  Image out = Image::allocate(w, regions * h, c, DataType::uint8);
  ops::area_resample_cpu(in.view(), out.view(), regions, ax, ay, 2);
  const ops::AreaAxisView vx{ax.first.data(), ax.count.data(), ax.offset.data(), ax.weights.data(),
                             ax.total.data()};
  const ops::AreaAxisView vy{ay.first.data(), ay.count.data(), ay.offset.data(), ay.weights.data(),
                             ay.total.data()};
  const auto* o = reinterpret_cast<const uint8_t*>(out.data());
  int64_t wrong = 0;
  for (int64_t r = 0; r < regions; ++r) {
    const auto* src = reinterpret_cast<const uint8_t*>(in.view().row(r * (in.height() / regions)));
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        for (int k = 0; k < c; ++k) {
          const uint8_t want = ops::area_sample(src, in.view().row_pitch, c, vx, vy, x, y, k);
          wrong += o[((r * h + y) * w + x) * c + k] != want;
        }
      }
    }
  }
  EXPECT_EQ(wrong, 0) << what;
}

Image random_image(int64_t w, int64_t h, int c, uint32_t seed) {
  std::mt19937 rng(seed);
  Image img = Image::allocate(w, h, c, DataType::uint8);
  auto* p = reinterpret_cast<uint8_t*>(img.data());
  for (size_t i = 0; i < img.size_bytes(); ++i) p[i] = static_cast<uint8_t>(rng());
  return img;
}

TEST(Patches, AreaDivideRoundsAsTheExactDivisionAtEveryQuotientBoundary) {
  // Axis totals as the tables make them (near 4096 × factor, up to the 2^48 bound on their
  // product), quotients on both sides of every integer: where the estimate from the reciprocals
  // falls just short or just past.
  int64_t checked = 0, wrong = 0;
  for (uint64_t tx :
       {4096u, 4104u, 4105u, 5120u, 6144u, 9707u, 12288u, 32768u, 136397u, 8000001u, 16769023u}) {
    for (uint64_t ty : {4096u, 4104u, 5120u, 12288u, 28672u, 136397u, 9999991u, 16769021u}) {
      const uint64_t total = tx * ty;
      const double inverse = (1.0 / static_cast<double>(tx)) * (1.0 / static_cast<double>(ty));
      for (uint64_t k = 0; k <= 255; ++k) {
        for (int64_t d : {-2, -1, 0, 1, 2}) {
          // sum + total / 2 == k × total + d, within the sums a region can have.
          const int64_t n = static_cast<int64_t>(k * total) + d;
          const int64_t sum = n - static_cast<int64_t>(total / 2);
          if (sum < 0 || sum > static_cast<int64_t>(255 * total)) continue;
          const auto s = static_cast<uint64_t>(sum);
          wrong += ops::area_divide(s, total, inverse) != (s + total / 2) / total;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 50000);
  EXPECT_EQ(wrong, 0);
}

TEST(Patches, CpuResamplingEqualsTheKernelsPerSampleArithmetic) {
  const int64_t w = 13, h = 11, regions = 2;
  for (double fx : {256.5 / 256, 1.5, 2.37, 3.0, 7.9999999, 33.3}) {
    const double fy = fx == 3.0 ? 1.25 : fx;  // one case with unequal axes
    for (int c : {1, 2, 3, 4, 5}) {
      const ops::AreaAxis ax = ops::area_axis(w, fx), ay = ops::area_axis(h, fy);
      Image in = random_image(ax.source_extent, regions * ay.source_extent, c, 7);
      expect_cpu_loop_equals_area_sample(
          in, regions, w, h, fx, fy,
          "factor " + std::to_string(fx) + ", " + std::to_string(c) + " channels");
      // Extremes: every sum at its largest, and sums landing on exact halves.
      for (uint8_t v : {uint8_t{255}, uint8_t{0}, uint8_t{128}}) {
        std::memset(in.data(), v, in.size_bytes());
        expect_cpu_loop_equals_area_sample(
            in, regions, w, h, fx, fy,
            "flat " + std::to_string(v) + ", factor " + std::to_string(fx));
      }
    }
  }
  // Factors past 4096: totals beyond 2^48 (exact division) and column sums beyond 32 bits.
  const ops::AreaAxis big = ops::area_axis(1, 4500.25);
  Image in = random_image(big.source_extent, big.source_extent, 1, 9);
  expect_cpu_loop_equals_area_sample(in, 1, 1, 1, 4500.25, 4500.25, "factor 4500.25");
  std::memset(in.data(), 255, in.size_bytes());
  expect_cpu_loop_equals_area_sample(in, 1, 1, 1, 4500.25, 4500.25, "factor 4500.25, flat 255");
}

TEST(Patches, MppReadsPickTheLevelAndSayWhyTheyCannot) {
  Slide ome = Slide::open(fixture("tf-ome-subifd-256.ome.tif"));
  const double mpp0 = *ome.mpp_x();
  const double ds1 = ome.level(1).downsample;
  EXPECT_EQ(mpp_source(ome, mpp0, 10, 10).level, 0);
  EXPECT_EQ(mpp_source(ome, mpp0 * ds1, 10, 10).level, 1);
  EXPECT_EQ(mpp_source(ome, mpp0 * ds1 * 1.5, 10, 10).level, 1);
  EXPECT_EQ(mpp_source(ome, mpp0 * (ds1 - 0.01), 10, 10).level, 0);
  const std::vector<RegionLocation> where = {{0, 0}, {300, 41}, {-20, 500}};
  const Image at_mpp = read_regions_at_mpp(ome, mpp0 * ds1, where, 40, 30);
  const Image at_level = read_regions(ome, 1, where, 40, 30);
  ASSERT_EQ(at_mpp.size_bytes(), at_level.size_bytes());
  EXPECT_EQ(std::memcmp(at_mpp.data(), at_level.data(), at_mpp.size_bytes()), 0);

  Slide no_mpp = Slide::open(fixture("tf-jpeg-256.tif"));
  try {
    read_regions_at_mpp(no_mpp, 0.5, where, 8, 8);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("mpp"), std::string::npos) << e.what();
    EXPECT_EQ(e.context().file, no_mpp.path().string());
  }
  try {
    read_regions_at_mpp(ome, mpp0 / 2, where, 8, 8);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("finer"), std::string::npos) << e.what();
  }
}

TEST(Patches, CleaningRemovesSpecksAndFillsHolesByConnectivity) {
  const int w = 12, h = 10;
  std::vector<uint8_t> m(w * h, 0);
  auto set = [&](int x, int y, uint8_t v) { m[y * w + x] = v; };
  for (int y = 1; y < 8; ++y) {
    for (int x = 1; x < 8; ++x) set(x, y, 1);  // a 7 x 7 piece of tissue...
  }
  set(4, 4, 0);   // ...with a one-pixel hole
  set(10, 1, 1);  // a speck of two diagonal pixels (one 8-connected piece)
  set(11, 2, 1);
  clean_mask(m, w, h, 2, 1);
  EXPECT_EQ(m[4 * w + 4], 1);   // hole filled
  EXPECT_EQ(m[1 * w + 10], 0);  // speck removed
  EXPECT_EQ(m[2 * w + 11], 0);
  int tissue = 0;
  for (uint8_t v : m) tissue += v;
  EXPECT_EQ(tissue, 49);
}

TEST(Patches, OtsuSplitsTwoPopulations) {
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.push_back(0.1f + 0.0001f * (i % 7));
  for (int i = 0; i < 300; ++i) v.push_back(0.8f + 0.0001f * (i % 5));
  const double t = otsu_threshold(v);
  EXPECT_GT(t, 0.1007);
  EXPECT_LT(t, 0.8);
}

TEST(Patches, GridCoversTheSlideRowByRowAndFollowsTheMask) {
  Slide slide = Slide::open(shared_testdata() / "cmu-1-small-region.svs");
  const Level& l0 = slide.level(0);
  const auto grid = patch_grid(slide, {.size = 256, .stride = 200});
  const int64_t across = (l0.width + 199) / 200, down = (l0.height + 199) / 200;
  ASSERT_EQ(static_cast<int64_t>(grid.size()), across * down);
  EXPECT_EQ(grid[1].x, 200);
  EXPECT_EQ(grid[static_cast<size_t>(across)].y, 200);
  // A mask of the whole slide at level-0 resolution, all tissue: only patches with less than
  // half of their footprint on the slide go (the last column sticks out by 234 of 256 pixels,
  // the last row by 89).
  TissueMask everything;
  everything.width = l0.width;
  everything.height = l0.height;
  everything.pixels.assign(static_cast<size_t>(l0.width * l0.height), 1);
  EXPECT_EQ(patch_grid(slide, {.size = 256, .stride = 200, .mask = &everything}).size(),
            grid.size() - static_cast<size_t>(down));
  everything.pixels.assign(everything.pixels.size(), 0);
  EXPECT_TRUE(patch_grid(slide, {.size = 256, .mask = &everything}).empty());
  EXPECT_THROW(patch_grid(Slide::open(fixture("tf-jpeg-256.tif")), {.size = 64, .mpp = 0.5}),
               Error);
}

}  // namespace
}  // namespace slidestream::test
