// Hamamatsu NDPI on the GPU: every level of every NDPI fixture (and of one over 4 GiB, made here
// as a sparse file) read into GPU memory equals the host read exactly (the host read equals
// OpenSlide 4.0.1 in test_vendor_ndpi). The pseudo-tiles of full-resolution levels (header +
// one restart interval + EOI) are ordinary baseline JPEGs: levels with more than one nvJPEG
// batch of them must be decoded by nvJPEG. OpenSlide's scaled levels (libjpeg's scaled IDCT)
// are decoded by CPU threads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ndpi_fixtures.hpp"
#include "slidestream/error.hpp"
#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"
#include "source/slide_impl.hpp"
#include "support/test_support.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include "support/gpu_images.hpp"
#endif

namespace slidestream {
namespace {

namespace fs = std::filesystem;

std::string per_test(const std::string& base) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? base + "_" + info->test_suite_name() + "_" + info->name() : base;
}

#if SLIDESTREAM_HAVE_CUDA
// Returns the number of levels compared.
int compare_gpu_with_host(const fs::path& path) {
  SCOPED_TRACE(path.string());
  Slide slide = Slide::open(path);
  int compared = 0;
  for (const Level& l : slide.levels()) {
    SCOPED_TRACE("level " + std::to_string(l.index));
    Image cpu = slide.read_level(l.index);
    for (int threads : {1, 0}) {
      ReadOptions options;
      options.device = Device::cuda;
      options.threads = threads;
      options.gpu_jpeg_wait = true;  // decoders made on first use, not in the background
      Image gpu = Image::allocate(l.width, l.height, l.channels, l.dtype, Device::cuda);
      ReadReport report;
      slide.read_level(l.index, gpu.view(), options, &report);
      auto got = test::to_host(gpu.view());
      auto want = test::tight(cpu.view());
      EXPECT_EQ(got.size(), want.size());
      size_t differing = 0;
      EXPECT_EQ(test::max_abs_difference(got, want, &differing), 0)
          << differing << " bytes differ; decoder " << report.decoder;
      const auto& format = slide.impl().level_source(l.index).format();
      if (format.jpeg_scale_denom == 1 && l.tiles_across * l.tiles_down > 256) {
        EXPECT_NE(report.decoder.find("nvjpeg"), std::string::npos) << report.decoder;
      }
      ++compared;
    }
  }
  return compared;
}
#endif

TEST(GpuNdpi, EveryLevelOfEveryNdpiEqualsTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  const auto fixtures = test::ndpi_fixtures();
  ASSERT_FALSE(fixtures.empty()) << "no NDPI fixtures in " << test::ndpi_fixture_dir();
  int compared = 0;
  for (const fs::path& path : fixtures) compared += compare_gpu_with_host(path);
  EXPECT_GT(compared, 0);
#endif
}

TEST(GpuNdpi, SlideOver4GiBEqualsTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  const fs::path dir = test::scratch_dir(per_test("gpu_ndpi_sparse"));
  std::string why;
  bool unsupported = false;
  const fs::path path = test::make_sparse_ndpi(dir, &why, &unsupported);
  // The CPU test (test_vendor_ndpi) fails where the generator does; here its absence (no numpy
  // or Pillow on the GPU machine) only skips.
  if (unsupported || path.empty()) GTEST_SKIP() << why;
  EXPECT_GT(compare_gpu_with_host(path), 0);
  fs::remove_all(dir);
#endif
}

}  // namespace
}  // namespace slidestream
