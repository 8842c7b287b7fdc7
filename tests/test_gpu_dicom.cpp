// The DICOM WSI series (tests/fixtures/make_dicom_fixtures.py: JPEG, JPEG 2000 ICT / RGB,
// uncompressed, TILED_SPARSE, a concatenation over 3 files) read into GPU memory equal the host
// read (itself equal to OpenSlide 4.0.1 in test_vendor_dicom) exactly: every level, with two
// fills so that the sparse level's missing tiles are filled on the GPU as on the host, plus a
// region hanging over each level's edges. The frames reach nvJPEG / nvJPEG2000 through the tile
// source (codec, photometric and the fragments' byte ranges, in several files for the
// concatenation) as TIFF tiles do; the report names the decoder used.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dicom_reference.hpp"
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

TEST(GpuDicom, EveryLevelOfEveryDicomSeriesEqualsTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  auto fixtures = test::dicom_fixtures();
  ASSERT_GE(fixtures.size(), 6u);
  int compared = 0;
  for (const auto& f : fixtures) {
    Slide slide = Slide::open(f.dir());
    for (const Level& l : slide.levels()) {
      for (uint8_t fill : {uint8_t{0}, uint8_t{255}}) {
        SCOPED_TRACE(f.name + " level " + std::to_string(l.index) + " fill " +
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
        int worst = test::max_abs_difference(test::to_host(gpu.view()), test::tight(cpu.view()),
                                             &differing);
        EXPECT_EQ(worst, 0) << differing << " bytes differ; decoder " << report.decoder;
        if (fill == 0 && l.index == 0) {
          std::printf("%s level 0: decoder %s\n", f.name.c_str(), report.decoder.c_str());
        }
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
          << f.name << " level " << l.index << " region: " << differing << " bytes differ";
    }
  }
  // Six series (test::dicom_fixtures) of four levels each, two fills per level.
  EXPECT_GE(compared, 6 * 4 * 2);
  std::printf("compared %d GPU level reads of DICOM series with host reads\n", compared);
#endif
}

// The batch path (read_regions: tiles planned once, nvJPEG + CPU threads into a device arena):
// 300 random 256² regions of levels 0 and 1 of every series, some over the edges, equal the host
// batch; the concatenation's tiles come from three files, the sparse level's missing ones are
// filled.
TEST(GpuDicom, RandomRegionBatchesEqualTheHostBatch) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  auto fixtures = test::dicom_fixtures();
  ASSERT_GE(fixtures.size(), 6u);
  for (const auto& f : fixtures) {
    Slide slide = Slide::open(f.dir());
    const Level& l0 = slide.level(0);
    std::mt19937_64 rng(18);
    std::uniform_int_distribution<int64_t> x(-128, l0.width), y(-128, l0.height);
    std::vector<RegionLocation> locations;
    for (int i = 0; i < 300; ++i) locations.push_back({x(rng), y(rng)});
    for (int level : {0, 1}) {
      SCOPED_TRACE(f.name + " level " + std::to_string(level));
      ReadOptions host;
      host.fill = 9;
      const Image expected = read_regions(slide, level, locations, 256, 256, host);
      ReadOptions gpu = host;
      gpu.device = Device::cuda;
      gpu.gpu_jpeg_wait = true;
      ReadReport report;
      Image got = Image::allocate(256, static_cast<int64_t>(locations.size()) * 256,
                                  expected.channels(), expected.dtype(), Device::cuda);
      read_regions(slide, level, locations, 256, 256, got.view(), gpu, nullptr, &report);
      size_t differing = 0;
      const int worst = test::max_abs_difference(test::to_host(got.view()),
                                                 test::tight(expected.view()), &differing);
      EXPECT_EQ(worst, 0) << differing << " bytes differ; decoder " << report.decoder;
    }
  }
#endif
}

}  // namespace
}  // namespace slidestream
