// Batched region reads into GPU memory (slidestream/regions.hpp) equal the host batch (itself
// checked against OpenSlide and read_region one by one in test_read_regions.cpp) byte for byte:
// JPEG slides through nvJPEG's engines and the CPU threads, other codecs through the CPU
// threads, regions at edges and outside the level with a fill value, batches larger than one
// tile arena, and a caller's pitched buffer. A damaged tile fails the GPU batch as it fails the
// host one, naming the slide, the level and the tile.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/patches.hpp"
#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"
#include "support/stub_slide.hpp"
#include "support/test_support.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "support/gpu_images.hpp"
#endif

namespace slidestream {
namespace {

std::vector<RegionLocation> random_locations(const Slide& slide, int64_t size, int n,
                                             unsigned seed) {
  const Level& l0 = slide.level(0);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> x(-size, l0.width), y(-size, l0.height);
  std::vector<RegionLocation> out;
  for (int i = 0; i < n; ++i) out.push_back({x(rng), y(rng)});
  out.push_back({l0.width - size / 2, l0.height - size / 2});
  out.push_back({l0.width + 3, 0});
  return out;
}

#if SLIDESTREAM_HAVE_CUDA
std::vector<std::byte> host_bytes(const Image& image) {
  const std::byte* b = image.data();
  return {b, b + image.size_bytes()};
}
#endif

TEST(GpuReadRegions, GpuBatchEqualsHostBatchOnEveryKindOfLevel) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  const std::vector<std::pair<std::filesystem::path, int>> cases = {
      {test::shared_testdata() / "cmu-1-small-region.svs", 0},
      {test::fixture("vips-jpeg90-256.tif"), 0},
      {test::fixture("vips-jpeg90-256.tif"), 1},
      {test::fixture("vips-jpeg90-512.tif"), 0},
      {test::fixture("vips-deflate-128.tif"), 0},
      {test::fixture("tf-planar-deflate-256.tif"), 0},
      {test::fixture("tf-grey16-zstd-256.tif"), 0},
      {test::fixture("vips-none-256.tif"), 0},
  };
  for (const auto& [path, level] : cases) {
    SCOPED_TRACE(path.filename().string() + " level " + std::to_string(level));
    Slide slide = Slide::open(path);
    // 600 regions of 256²: more tiles than one arena group holds on the small slides' levels is
    // not needed; many regions share tiles, which is what the plan deduplicates.
    const auto locations = random_locations(slide, 256, 600, 21);
    ReadOptions host;
    host.fill = 9;
    const Image expected = read_regions(slide, level, locations, 256, 256, host);
    for (int threads : {1, 0}) {
      ReadOptions gpu = host;
      gpu.device = Device::cuda;
      gpu.threads = threads;
      gpu.gpu_jpeg_wait = true;  // the first read makes the decoders and waits
      ReadReport report;
      Image got = Image::allocate(256, static_cast<int64_t>(locations.size()) * 256,
                                  expected.channels(), expected.dtype(), Device::cuda);
      read_regions(slide, level, locations, 256, 256, got.view(), gpu, nullptr, &report);
      size_t differing = 0;
      const int worst =
          test::max_abs_difference(test::to_host(got.view()), host_bytes(expected), &differing);
      EXPECT_EQ(worst, 0) << differing << " bytes differ; decoder " << report.decoder
                          << ", threads " << threads;
    }
  }
#endif
}

TEST(GpuReadRegions, GpuCacheChangesNoPixelAndStaysUnderItsCap) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  for (const char* name : {"cmu-1-small-region.svs", "vips-jpeg90-256.tif"}) {
    const auto path =
        std::string(name).ends_with(".svs") ? test::shared_testdata() / name : test::fixture(name);
    Slide slide = Slide::open(path);
    const auto locations = random_locations(slide, 256, 300, 17);
    const Image expected = read_regions(slide, 0, locations, 256, 256);
    const size_t tile = size_t{slide.level(0).tile_width} * slide.level(0).tile_height * 3;
    for (size_t cap : {tile * 7, size_t{1} << 30}) {
      TileCache cache(cap);
      ReadOptions gpu;
      gpu.device = Device::cuda;
      gpu.gpu_jpeg_wait = true;  // the first read makes the decoders and waits
      for (int round = 0; round < 3; ++round) {
        const Image got = read_regions(slide, 0, locations, 256, 256, gpu, &cache);
        size_t differing = 0;
        EXPECT_EQ(
            test::max_abs_difference(test::to_host(got.view()), host_bytes(expected), &differing),
            0)
            << name << " cap " << cap << " round " << round << ": " << differing;
        const TileCache::Stats s = cache.stats();
        EXPECT_LE(s.device_used_bytes, cap);
      }
      const TileCache::Stats s = cache.stats();
      if (cap > tile * 7) {
        EXPECT_GT(s.device_hits, 0u);
      }
      EXPECT_GT(s.device_entries, 0u);
    }
  }
#endif
}

TEST(GpuReadRegions, StubSlideGpuBatchEqualsHostBatch) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  Slide slide = test::make_stub_slide();
  for (int level = 0; level < 3; ++level) {
    std::vector<RegionLocation> locations;
    for (int i = 0; i < 30; ++i) locations.push_back({(i * 37) % 130 - 15, (i * 53) % 90 - 10});
    ReadOptions host;
    host.fill = 5;
    const Image expected = read_regions(slide, level, locations, 13, 9, host);
    ReadOptions gpu = host;
    gpu.device = Device::cuda;
    TileCache cache(1 << 20);
    for (TileCache* c : {static_cast<TileCache*>(nullptr), &cache, &cache}) {
      const Image got = read_regions(slide, level, locations, 13, 9, gpu, c);
      size_t differing = 0;
      EXPECT_EQ(
          test::max_abs_difference(test::to_host(got.view()), host_bytes(expected), &differing), 0)
          << "level " << level << (c ? " cached" : "");
    }
  }
#endif
}

TEST(GpuReadRegions, PitchedCallerBufferAndSmallRegions) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  Slide slide = Slide::open(test::shared_testdata() / "cmu-1-small-region.svs");
  const auto locations = random_locations(slide, 33, 50, 4);
  const Image expected = read_regions(slide, 0, locations, 33, 17);
  test::PitchedDeviceImage out(33, static_cast<int64_t>(locations.size()) * 17, 3, DataType::uint8,
                               100);
  ReadOptions gpu;
  gpu.device = Device::cuda;
  read_regions(slide, 0, locations, 33, 17, out.view(), gpu);
  size_t differing = 0;
  EXPECT_EQ(
      test::max_abs_difference(test::to_host(out.view()), test::tight(expected.view()), &differing),
      0);
#endif
}

TEST(GpuReadRegions, DamagedTileFailsTheGpuBatchNamingSlideLevelAndTile) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  const auto dir = test::scratch_dir("GpuReadRegionsDamagedTile");
  const auto path = dir / "damaged.tif";
  std::filesystem::copy_file(test::fixture("vips-jpeg90-256.tif"), path);
  int64_t tile_index = 0;
  {
    Slide slide = Slide::open(path);
    const TileLocation where = slide.tile_location(0, 1, 1);
    tile_index = slide.level(0).tiles_across + 1;
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    std::vector<char> junk(64, static_cast<char>(0xFF));
    f.seekp(static_cast<std::streamoff>(where.offset + where.byte_count / 2));
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  Slide slide = Slide::open(path);
  std::vector<RegionLocation> locations;
  for (int i = 0; i < 200; ++i) locations.push_back({(i * 37) % 900, (i * 53) % 700});
  ReadOptions gpu;
  gpu.device = Device::cuda;
  try {
    read_regions(slide, 0, locations, 256, 256, gpu);
    FAIL() << "the damaged tile was not reported";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().file, path.string()) << e.what();
    EXPECT_EQ(e.context().level, 0) << e.what();
    EXPECT_EQ(e.context().tile, tile_index) << e.what();
  }
  // The GPU is still usable after the failure.
  Image ok = read_regions(slide, 0, std::vector<RegionLocation>{{2000, 2000}}, 8, 8, gpu);
  EXPECT_EQ(ok.height(), 8);
#endif
}

TEST(GpuReadRegions, MppReadOnTheGpuEqualsTheCpu) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  Slide slide = Slide::open(test::shared_testdata() / "cmu-1-small-region.svs");
  const auto locations = random_locations(slide, 300, 100, 8);
  for (double mpp : {0.998, 0.77, 1.6}) {  // factors 2, 1.54, 3.2
    const Image cpu = read_regions_at_mpp(slide, mpp, locations, 200, 150);
    ReadOptions gpu;
    gpu.device = Device::cuda;
    const Image got = read_regions_at_mpp(slide, mpp, locations, 200, 150, gpu);
    size_t differing = 0;
    EXPECT_EQ(test::max_abs_difference(test::to_host(got.view()), host_bytes(cpu), &differing), 0)
        << "mpp " << mpp << ": " << differing << " bytes differ";
  }
#endif
}

TEST(GpuReadRegions, ConvertedPatchesOnTheGpuEqualTheCpu) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  Slide slide = Slide::open(test::shared_testdata() / "cmu-1-small-region.svs");
  const auto locations = random_locations(slide, 64, 20, 2);
  const Image host = read_regions(slide, 0, locations, 64, 64);
  ReadOptions gpu;
  gpu.device = Device::cuda;
  const Image device = read_regions(slide, 0, locations, 64, 64, gpu);
  const std::vector<float> mean = {0.485f, 0.456f, 0.406f}, std = {0.229f, 0.224f, 0.225f};
  for (PatchDtype dtype : {PatchDtype::float32, PatchDtype::float16}) {
    const size_t bytes = host.size_bytes() * (dtype == PatchDtype::float32 ? 4 : 2);
    std::vector<std::byte> cpu(bytes), back(bytes);
    convert_patches(host.view(), cpu.data(), dtype, mean, std);
    Image out = Image::allocate(static_cast<int64_t>(bytes), 1, 1, DataType::uint8, Device::cuda);
    convert_patches(device.view(), out.data(), dtype, mean, std);
    ASSERT_EQ(cudaMemcpy(back.data(), out.data(), bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_TRUE(cpu == back) << (dtype == PatchDtype::float32 ? "float32" : "float16");
  }
#endif
}

}  // namespace
}  // namespace slidestream
