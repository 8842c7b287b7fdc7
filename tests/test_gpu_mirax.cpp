// MIRAX slides (tests/fixtures/make_mirax_fixtures.py: camera images on whole pixels, and
// between pixels, resampled as OpenSlide does, in mirax-frac and mirax-frac-div2) read into GPU
// memory equal the host read (itself equal to OpenSlide 4.0.1 in test_vendor_mirax) exactly: every
// level with two fills (grid tiles no camera image touches are filled on the GPU as on the host), a
// region over each level's edges, and a batch of random 256² patches (read_regions) with and
// without a tile cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include "support/gpu_images.hpp"
#endif

namespace slidestream {
namespace {

std::vector<std::filesystem::path> mirax_slides() {
  std::vector<std::filesystem::path> out;
  std::ifstream in(test::fixture_dir() / "mirax" / "manifest.json");
  if (!in) {
    ADD_FAILURE() << "no mirax/manifest.json (run ctest: make_mirax_fixtures)";
    return out;
  }
  const nlohmann::json manifest = nlohmann::json::parse(in);
  for (const auto& f : manifest.at("files")) {
    out.push_back(test::fixture_dir() / "mirax" / f.at("name").get<std::string>());
  }
  // The slides whose images lie between pixels are among them.
  for (const char* name : {"mirax-frac.mrxs", "mirax-frac-div2.mrxs"}) {
    EXPECT_NE(std::find(out.begin(), out.end(), test::fixture_dir() / "mirax" / name), out.end())
        << name;
  }
  return out;
}

TEST(GpuMirax, EveryLevelEqualsTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  int compared = 0;
  for (const auto& path : mirax_slides()) {
    Slide slide = Slide::open(path);
    ASSERT_EQ(slide.format(), "mirax");
    for (const Level& l : slide.levels()) {
      for (uint8_t fill : {uint8_t{0}, uint8_t{255}}) {
        SCOPED_TRACE(path.filename().string() + " level " + std::to_string(l.index) + " fill " +
                     std::to_string(fill));
        ReadOptions host;
        host.fill = fill;
        Image cpu = slide.read_level(l.index, host);
        ReadOptions gpu_options = host;
        gpu_options.device = Device::cuda;
        Image gpu = Image::allocate(l.width, l.height, l.channels, l.dtype, Device::cuda);
        ReadReport report;
        slide.read_level(l.index, gpu.view(), gpu_options, &report);
        size_t differing = 0;
        EXPECT_EQ(test::max_abs_difference(test::to_host(gpu.view()), test::tight(cpu.view()),
                                           &differing),
                  0)
            << differing << " bytes differ; decoder " << report.decoder;
        ++compared;
      }
      ReadOptions host;
      host.fill = 9;
      const int64_t x = -13, y = -29, w = l.width + 40, h = l.height + 50;
      Image cpu = slide.read_region(l.index, x, y, w, h, host);
      ReadOptions gpu_options = host;
      gpu_options.device = Device::cuda;
      Image gpu = slide.read_region(l.index, x, y, w, h, gpu_options);
      size_t differing = 0;
      EXPECT_EQ(
          test::max_abs_difference(test::to_host(gpu.view()), test::tight(cpu.view()), &differing),
          0)
          << path.filename() << " level " << l.index << " region: " << differing << " bytes differ";
    }
  }
  EXPECT_GE(compared, 28);  // 14 levels (4 slides), 2 fills
  std::printf("compared %d GPU level reads of MIRAX slides with host reads\n", compared);
#endif
}

TEST(GpuMirax, RandomPatchesEqualTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  for (const auto& path : mirax_slides()) {
    Slide slide = Slide::open(path);
    for (const Level& l : slide.levels()) {
      std::mt19937_64 rng(l.index + 1);
      std::vector<RegionLocation> at;
      const double ds = l.downsample;
      for (int i = 0; i < 64; ++i) {
        const int64_t x = static_cast<int64_t>(rng() % static_cast<uint64_t>(l.width)) - 128;
        const int64_t y = static_cast<int64_t>(rng() % static_cast<uint64_t>(l.height)) - 128;
        at.push_back({static_cast<int64_t>(static_cast<double>(x) * ds),
                      static_cast<int64_t>(static_cast<double>(y) * ds)});
      }
      ReadOptions host;
      Image cpu = read_regions(slide, l.index, at, 256, 256, host);
      for (bool cached : {false, true}) {
        SCOPED_TRACE(path.filename().string() + " level " + std::to_string(l.index) +
                     (cached ? " cached" : ""));
        ReadOptions gpu_options;
        gpu_options.device = Device::cuda;
        TileCache cache(64u << 20);
        Image gpu =
            read_regions(slide, l.index, at, 256, 256, gpu_options, cached ? &cache : nullptr);
        size_t differing = 0;
        EXPECT_EQ(test::max_abs_difference(test::to_host(gpu.view()), test::tight(cpu.view()),
                                           &differing),
                  0)
            << differing << " bytes differ";
      }
    }
  }
#endif
}

}  // namespace
}  // namespace slidestream
