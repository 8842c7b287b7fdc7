// The vendor slides (Philips, Leica, Ventana, libvips JPEG 2000; tests/fixtures/
// make_vendor_fixtures.py) read into GPU memory equal the host read (itself equal to OpenSlide
// 4.0.1 or libvips in the CPU tests) exactly: every level, with two fills so that missing tiles
// (sparse Philips levels, space between Leica regions and Ventana areas) are filled on the GPU
// as on the host, plus a region hanging over each level's edges.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"
#include "vendor_reference.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include "support/gpu_images.hpp"
#endif

namespace slidestream {
namespace {

TEST(GpuVendors, EveryLevelOfEveryVendorSlideEqualsTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  auto fixtures = test::vendor_fixtures();
  ASSERT_FALSE(fixtures.empty());
  int compared = 0;
  for (const auto& f : fixtures) {
    if (!SLIDESTREAM_HAVE_PUGIXML && f.vendor != "generic-tiff") {
      // A build without pugixml refuses the XML vendors (their CPU tests need it anyway).
      std::printf("skipped %s: built without pugixml\n", f.name.c_str());
      continue;
    }
    Slide slide = Slide::open(f.path());
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
        ++compared;
      }
      // A region over the level's edges, not tile-aligned: the fill outside, tiles inside.
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
  EXPECT_GE(compared, SLIDESTREAM_HAVE_PUGIXML ? 30 : 4);
  std::printf("compared %d GPU level reads of vendor slides with host reads\n", compared);
#endif
}

}  // namespace
}  // namespace slidestream
