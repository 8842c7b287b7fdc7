// The GPU twin of test_tile_source_stub.cpp: the stub slide (tests/support/stub_slide.hpp:
// missing tiles, multi-range tiles over two memory stores, strips, oversized stored tiles) read
// into GPU memory, by regions and whole levels, and through the GPU tiled pipeline, equals the
// formula its bytes were made from, missing tiles filled with ReadOptions::fill. Memory stores
// have no file, so the GPU reader takes its generic path (per-tile reads from the store) and the
// band executor its row reader; both must give the same pixels as the file-backed paths.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "slidestream/ops.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"
#include "support/gpu_images.hpp"
#include "support/stub_slide.hpp"
#include "support/test_support.hpp"

namespace slidestream::test {
namespace {

TEST(GpuTileSourceStub, WholeLevelsOnTheGpuEqualTheFormulaWithMissingTilesFilled) {
  SLIDESTREAM_REQUIRE_GPU();
  Slide slide = make_stub_slide();
  for (int level = 0; level < 3; ++level) {
    for (uint8_t fill : {uint8_t{0}, uint8_t{200}}) {
      const Level& l = slide.level(level);
      PitchedDeviceImage out(l.width, l.height, 3, DataType::uint8, 48);
      ReadOptions options;
      options.device = Device::cuda;
      options.fill = fill;
      options.threads = 4;
      ReadReport report;
      slide.read_level(level, out.view(), options, &report);
      Image want = stub_expected(level, 0, 0, l.width, l.height, fill);
      size_t differing = 0;
      EXPECT_EQ(max_abs_difference(to_host(out.view()), tight(want.view()), &differing), 0)
          << "level " << level << " fill " << int(fill) << ": " << differing << " bytes differ";
    }
  }
}

TEST(GpuTileSourceStub, RegionsOnTheGpuEqualTheFormula) {
  SLIDESTREAM_REQUIRE_GPU();
  Slide slide = make_stub_slide();
  struct Case {
    int level;
    int64_t x, y, w, h;
  };
  const Case cases[] = {
      {0, 30, 14, 40, 20}, {0, 33, 1, 20, 10}, {0, 90, 60, 30, 30}, {0, -5, -3, 12, 9},
      {1, 3, 5, 40, 20},   {1, 0, 30, 50, 5},  {2, 5, 3, 15, 12},   {2, 20, 10, 10, 10},
  };
  for (const Case& c : cases) {
    PitchedDeviceImage out(c.w, c.h, 3, DataType::uint8, 0);
    ReadOptions options;
    options.device = Device::cuda;
    options.fill = 77;
    slide.read_region(c.level, c.x, c.y, c.w, c.h, out.view(), options);
    Image want = stub_expected(c.level, c.x, c.y, c.w, c.h, 77);
    size_t differing = 0;
    EXPECT_EQ(max_abs_difference(to_host(out.view()), tight(want.view()), &differing), 0)
        << "level " << c.level << " region " << c.x << "," << c.y << " " << c.w << "x" << c.h;
  }
}

// The GPU tiled pipeline (the band executor's row reader: memory stores cannot be streamed by
// file ranges) equals the chain applied to the formula's level on the host.
TEST(GpuTileSourceStub, GpuTiledPipelineEqualsTheChainOnTheFormulasLevel) {
  SLIDESTREAM_REQUIRE_GPU();
  Slide slide = make_stub_slide();
  const std::vector<ops::Op> chain = {ops::parse_op("sobel_u8")};
  for (int level : {0, 1, 2}) {
    const Level& l = slide.level(level);
    pipeline::Options options;
    options.mode = pipeline::Mode::tiled;
    options.device = Device::cuda;
    options.level = level;
    options.tile = 16;
    pipeline::Summary summary;
    Image got = pipeline::process_to_image(slide, chain, options, &summary);
    EXPECT_FALSE(summary.streamed) << "level " << level;

    Image input = stub_expected(level, 0, 0, l.width, l.height, 0);
    ops::PixelFormat format = ops::output_format(chain, ops::PixelFormat{3, DataType::uint8});
    Image want = Image::allocate(l.width, l.height, format.channels, format.dtype);
    ops::apply_chain(chain, input.view(), {0, 0}, want.view(), {0, 0}, {l.width, l.height});
    ASSERT_EQ(got.view().device, Device::cuda);
    size_t differing = 0;
    EXPECT_EQ(max_abs_difference(to_host(got.view()), tight(want.view()), &differing), 0)
        << "level " << level << ": " << differing << " bytes differ";
  }
}

}  // namespace
}  // namespace slidestream::test
