// The pipeline on a GPU: tiled equals global bit for bit, GPU equals CPU bit for bit, the Zarr
// written from the GPU equals the CPU's, the tiled mode's device memory stays within its slots,
// and a corrupt tile fails the run with no complete output. Skips where no GPU is usable.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace slidestream {
namespace {

namespace fs = std::filesystem;
using pipeline::Mode;

#if SLIDESTREAM_HAVE_CUDA

std::vector<ops::Op> chain_of(std::initializer_list<const char*> names) {
  std::vector<ops::Op> chain;
  for (const char* n : names) chain.push_back(ops::parse_op(n));
  return chain;
}

Image to_host(const Image& image) {
  if (image.device() == Device::cpu) return image;
  Image host = Image::allocate(image.width(), image.height(), image.channels(), image.dtype());
  EXPECT_EQ(cudaMemcpy(host.data(), image.data(), image.size_bytes(), cudaMemcpyDeviceToHost),
            cudaSuccess);
  return host;
}

::testing::AssertionResult same_pixels(const Image& a_any, const Image& b_any) {
  Image a = to_host(a_any), b = to_host(b_any);
  if (a.width() != b.width() || a.height() != b.height() || a.channels() != b.channels() ||
      a.dtype() != b.dtype()) {
    return ::testing::AssertionFailure() << "shapes differ";
  }
  for (int64_t y = 0; y < a.height(); ++y) {
    if (std::memcmp(a.view().row(y), b.view().row(y), a.view().row_bytes()) != 0) {
      return ::testing::AssertionFailure() << "first differing row " << y;
    }
  }
  return ::testing::AssertionSuccess();
}

// The backend choices run() passes on (pipeline::Options::bands, band_stream, read_into_device);
// the scoped switches below change them for one scope.
pipeline::Options g_backends;

Image run(const Slide& slide, const std::vector<ops::Op>& chain, Mode mode, Device device,
          int64_t tile, int level = 0, pipeline::Summary* summary = nullptr, int slots = 0) {
  pipeline::Options o;
  o.bands = g_backends.bands;
  o.band_stream = g_backends.band_stream;
  o.read_into_device = g_backends.read_into_device;
  o.mode = mode;
  o.device = device;
  o.level = level;
  o.tile = tile;
  o.slots = slots;
  return pipeline::process_to_image(slide, chain, o, summary);
}

// The GPU machine has no ../shared: the scan travels in .carry/, the fixtures in
// SLIDESTREAM_FIXTURE_DIR (scripts/device-check.sh). The first candidate that exists wins.
fs::path first_existing(std::initializer_list<fs::path> candidates) {
  for (const auto& p : candidates) {
    if (fs::exists(p)) return p;
  }
  return *candidates.begin();
}
fs::path cmu() {
  return first_existing({test::shared_testdata() / "cmu-1-small-region.svs",
                         fs::path(SLIDESTREAM_SOURCE_DIR) / ".carry" / "cmu-1-small-region.svs",
                         test::fixture_dir() / "cmu-1-small-region.svs"});
}
// A small pyramid: boxes.tiff (300 x 250, 4 levels), or libvips' 1003 x 751 deflate pyramid.
fs::path small_pyramid() {
  return first_existing(
      {test::shared_testdata() / "boxes.tiff", test::fixture_dir() / "vips-deflate-128.tif"});
}

TEST(GpuPipeline, TiledEqualsGlobalEqualsCpuOnRealSlides) {
  SLIDESTREAM_REQUIRE_GPU();
  ASSERT_TRUE(fs::exists(cmu())) << cmu();
  Slide slide = Slide::open(cmu());
  for (const auto& chain : {chain_of({"sobel"}), chain_of({"grey", "sobel"}),
                            chain_of({"sobel-u8"}), chain_of({"hed"}), chain_of({"od", "sobel"})}) {
    Image cpu = run(slide, chain, Mode::global, Device::cpu, 512);
    Image global = run(slide, chain, Mode::global, Device::cuda, 512);
    ASSERT_EQ(global.device(), Device::cuda);
    EXPECT_TRUE(same_pixels(global, cpu)) << ops::to_string(chain.back()) << " GPU vs CPU";
    for (int64_t tile : {512, 240, 1111, 1484, 97}) {
      Image tiled = run(slide, chain, Mode::tiled, Device::cuda, tile);
      EXPECT_TRUE(same_pixels(tiled, global)) << ops::to_string(chain.back()) << " tile " << tile;
    }
  }
}

TEST(GpuPipeline, TilesSmallerThanTheHalo) {
  SLIDESTREAM_REQUIRE_GPU();
  Slide slide = Slide::open(small_pyramid());
  auto chain = chain_of({"grey", "sobel", "sobel"});
  for (int level = 0; level < static_cast<int>(slide.levels().size()); ++level) {
    Image cpu = run(slide, chain, Mode::global, Device::cpu, 64, level);
    std::vector<int64_t> tiles = {64, 65};
    // Tiles smaller than the halo (2) on the levels small enough to visit pixel pair by pair.
    if (slide.level(level).width * slide.level(level).height <= 80000) tiles = {2, 3, 64, 65};
    for (int64_t tile : tiles) {
      Image tiled = run(slide, chain, Mode::tiled, Device::cuda, tile, level);
      EXPECT_TRUE(same_pixels(tiled, cpu)) << "level " << level << " tile " << tile;
    }
  }
}

TEST(GpuPipeline, ReadingStraightIntoDeviceMemoryGivesTheSamePixels) {
  SLIDESTREAM_REQUIRE_GPU();
  ASSERT_TRUE(fs::exists(cmu())) << cmu();
  Slide slide = Slide::open(cmu());
  auto chain = chain_of({"sobel"});
  Image cpu = run(slide, chain, Mode::global, Device::cpu, 512);
  g_backends.read_into_device = true;
  Image tiled = run(slide, chain, Mode::tiled, Device::cuda, 300);
  g_backends.read_into_device = false;
  EXPECT_TRUE(same_pixels(tiled, cpu));
}

TEST(GpuPipeline, TiledDeviceMemoryIsBoundedBySlotsNotByTheImage) {
  SLIDESTREAM_REQUIRE_GPU();
  ASSERT_TRUE(fs::exists(cmu())) << cmu();
  Slide slide = Slide::open(cmu());
  auto chain = chain_of({"sobel"});
  pipeline::Summary tiled, global;
  // process (not process_to_image): the result goes to Zarr, so only the slots hold device memory.
  auto dir = test::scratch_dir("gpu_pipeline_memory");
  pipeline::Options o;
  o.device = Device::cuda;
  o.tile = 256;
  o.slots = 4;
  tiled = pipeline::process(slide, chain, dir / "t.zarr", o);
  o.mode = Mode::global;
  global = pipeline::process(slide, chain, dir / "g.zarr", o);
  // A slot: input window (258² × 3 bytes) and output tile (256² × 12 bytes).
  uint64_t per_slot = 258 * 258 * 3 + 256 * 256 * 12;
  EXPECT_LE(tiled.peak_gpu_bytes, 4 * per_slot);
  EXPECT_GT(tiled.peak_gpu_bytes, 0u);
  // Global holds the level (3 bytes / px) and its Sobel (12 bytes / px).
  EXPECT_GE(global.peak_gpu_bytes, uint64_t{2220} * 2967 * 15);
  EXPECT_EQ(tiled.slots, 4);
  Image a = zarr::ArrayReader::open(dir / "t.zarr" / "0").read();
  Image b = zarr::ArrayReader::open(dir / "g.zarr" / "0").read();
  EXPECT_TRUE(same_pixels(a, b));
  EXPECT_TRUE(same_pixels(a, run(slide, chain, Mode::global, Device::cpu, 512)));
}

TEST(GpuPipeline, PyramidFromTheGpuEqualsTheCpus) {
  SLIDESTREAM_REQUIRE_GPU();
  ASSERT_TRUE(fs::exists(cmu())) << cmu();
  Slide slide = Slide::open(cmu());
  auto chain = chain_of({"grey", "sobel"});
  auto dir = test::scratch_dir("gpu_pipeline_pyramid");
  pipeline::Options o;
  o.tile = 256;
  o.pyramid = true;
  pipeline::process(slide, chain, dir / "cpu.zarr", o);
  o.device = Device::cuda;
  pipeline::process(slide, chain, dir / "gpu-tiled.zarr", o);
  o.mode = Mode::global;
  pipeline::process(slide, chain, dir / "gpu-global.zarr", o);
  for (int level = 0; level < 5; ++level) {
    auto name = std::to_string(level);
    Image cpu = zarr::ArrayReader::open(dir / "cpu.zarr" / name).read();
    EXPECT_TRUE(same_pixels(zarr::ArrayReader::open(dir / "gpu-tiled.zarr" / name).read(), cpu))
        << level;
    EXPECT_TRUE(same_pixels(zarr::ArrayReader::open(dir / "gpu-global.zarr" / name).read(), cpu))
        << level;
  }
}

TEST(GpuPipeline, CorruptTileFailsWithContextAndNoCompleteOutput) {
  SLIDESTREAM_REQUIRE_GPU();
  auto dir = test::scratch_dir("gpu_pipeline_corrupt");
  fs::path copy = dir / "corrupt.svs";
  fs::copy_file(cmu(), copy);
  TileLocation where = Slide::open(cmu()).tile_location(0, 3, 5);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(where.offset));
    std::string junk(64, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  Slide slide = Slide::open(copy);
  for (Mode mode : {Mode::tiled, Mode::global}) {
    fs::path out = dir / "out.zarr";
    fs::remove_all(out);
    pipeline::Options o;
    o.mode = mode;
    o.device = Device::cuda;
    o.tile = 256;
    EXPECT_THROW(pipeline::process(slide, chain_of({"sobel"}), out, o), Error);
    EXPECT_FALSE(fs::exists(out / "zarr.json"));
    EXPECT_FALSE(fs::exists(out / "0" / "zarr.json"));
  }
}

// The band executor (whole tile-rows read into a device ring, one band of output tiles at a
// time) is the default for the GPU tiled mode; these prove it equals the global mode and the CPU
// bit for bit on every lossless codec, on JPEG (decoded by libjpeg-turbo inside the GPU read path),
// on tile edges that divide the image and ones that do not, smaller and larger than the slide's
// own tiles, and that the staged slot executor it replaced gives the same pixels.
struct BandsOff {
  BandsOff() { g_backends.bands = false; }
  ~BandsOff() { g_backends.bands = true; }
};

std::vector<fs::path> band_slides() {
  std::vector<fs::path> slides;
  for (const char* name :
       {"vips-none-256.tif", "vips-none-bigtiff-512.tif", "tf-zstd-128.tif", "tf-lzw-pred-256.tif",
        "tf-planar-deflate-256.tif", "tf-float32-none-256.tif", "tf-grey16-zstd-256.tif",
        "vips-jpeg90-256.tif", "tf-jpeg-256.tif", "vips-grey-jpeg90-256.tif"}) {
    fs::path p = test::fixture_dir() / name;
    if (fs::exists(p)) slides.push_back(p);
  }
  if (fs::exists(cmu())) slides.push_back(cmu());
  return slides;
}

// The uncompressed fixtures whose stored bytes are the pixels (the float32 one is big-endian).
bool uncompressed_streams(const fs::path& path) {
  const std::string name = path.filename().string();
  return name == "vips-none-256.tif" || name == "vips-none-bigtiff-512.tif";
}

bool chain_takes(const std::vector<ops::Op>& chain, const Level& level) {
  try {
    ops::output_format(chain, ops::PixelFormat{level.channels, level.dtype});
    return true;
  } catch (const Error&) {
    return false;
  }
}

TEST(GpuPipelineBands, TiledEqualsGlobalEqualsCpuOnEveryCodec) {
  SLIDESTREAM_REQUIRE_GPU();
  auto slides = band_slides();
  ASSERT_FALSE(slides.empty()) << "no fixtures in " << test::fixture_dir();
  for (const auto& path : slides) {
    Slide slide = Slide::open(path);
    for (const auto& chain :
         {chain_of({"sobel"}), chain_of({"grey", "sobel"}), chain_of({"sobel", "sobel"})}) {
      if (!chain_takes(chain, slide.level(0))) continue;
      std::string what = path.filename().string() + " " + ops::to_string(chain.back()) + " x" +
                         std::to_string(chain.size());
      Image cpu = run(slide, chain, Mode::global, Device::cpu, 512);
      Image global = run(slide, chain, Mode::global, Device::cuda, 512);
      const Level& level = slide.level(0);
      // GPU == CPU is the ops' promise on uint8 input (test_gpu_ops_*); here it is a cross-check.
      if (level.dtype == DataType::uint8) {
        EXPECT_TRUE(same_pixels(global, cpu)) << what << " GPU global vs CPU";
      }
      // The slide's tile, half of it, a size dividing nothing, one beyond the slide's tile, and
      // one taller than the level (a single band).
      for (int64_t tile : {int64_t{level.tile_height}, int64_t{level.tile_height / 2}, int64_t{97},
                           int64_t{level.tile_height + 61}, level.height + 5}) {
        if (tile < 2) continue;
        pipeline::Summary summary;
        Image tiled = run(slide, chain, Mode::tiled, Device::cuda, tile, 0, &summary);
        EXPECT_EQ(summary.executor, "bands") << what << " tile " << tile;
        // Uncompressed levels are streamed by file ranges; the others go through the read path.
        EXPECT_EQ(summary.streamed,
                  level.compression == Compression::none && uncompressed_streams(path))
            << what << " tile " << tile << " (" << summary.io_path << ")";
        EXPECT_TRUE(same_pixels(tiled, global)) << what << " tile " << tile;
      }
      BandsOff off;
      pipeline::Summary summary;
      Image slots = run(slide, chain, Mode::tiled, Device::cuda, 200, 0, &summary);
      EXPECT_EQ(summary.executor, "slots") << what;
      EXPECT_TRUE(same_pixels(slots, global)) << what << " slot executor";
    }
  }
}

TEST(GpuPipelineBands, HaloLargerThanTheTileFallsBackToSlots) {
  SLIDESTREAM_REQUIRE_GPU();
  Slide slide = Slide::open(small_pyramid());
  int lowest = static_cast<int>(slide.levels().size()) - 1;
  auto chain = chain_of({"sobel", "sobel", "sobel"});  // halo 3
  Image cpu = run(slide, chain, Mode::global, Device::cpu, 64, lowest);
  for (int64_t tile : {2, 3, 4, 64}) {
    pipeline::Summary summary;
    Image tiled = run(slide, chain, Mode::tiled, Device::cuda, tile, lowest, &summary);
    EXPECT_EQ(summary.executor, tile < 3 ? "slots" : "bands") << "tile " << tile;
    EXPECT_TRUE(same_pixels(tiled, cpu)) << "tile " << tile;
  }
}

TEST(GpuPipelineBands, ZarrFromBandsEqualsTheCpusWithinTheDeviceBudget) {
  SLIDESTREAM_REQUIRE_GPU();
  ASSERT_TRUE(fs::exists(cmu())) << cmu();
  Slide slide = Slide::open(cmu());
  auto chain = chain_of({"sobel"});
  auto dir = test::scratch_dir("gpu_pipeline_bands_zarr");
  pipeline::Options o;
  o.device = Device::cuda;
  o.tile = 300;
  o.pyramid = true;
  pipeline::Summary s = pipeline::process(slide, chain, dir / "bands.zarr", o);
  EXPECT_EQ(s.executor, "bands");
  const Level& level = slide.level(0);
  // Ring: at most the tile-rows one window touches plus two (JPEG: read a row at a time); one
  // window (rows padded to 16 bytes); at most three output bands.
  int64_t th = level.tile_height;
  int64_t ring = std::min<int64_t>((level.height + th - 1) / th, (300 + 2) / th + 2 + 2);
  uint64_t in_row = static_cast<uint64_t>(level.width) * 3, out_row = uint64_t(level.width) * 12;
  uint64_t pitch = (in_row + 15) / 16 * 16;
  uint64_t bound = ring * th * in_row + 302 * pitch + 3 * 300 * out_row;
  EXPECT_GT(s.peak_gpu_bytes, 0u);
  EXPECT_LE(s.peak_gpu_bytes, bound);
  EXPECT_LT(s.peak_gpu_bytes, uint64_t(level.width) * level.height * 15);  // less than global's
  o.device = Device::cpu;
  pipeline::process(slide, chain, dir / "cpu.zarr", o);
  for (int k = 0; k < s.levels; ++k) {
    auto name = std::to_string(k);
    EXPECT_TRUE(same_pixels(zarr::ArrayReader::open(dir / "bands.zarr" / name).read(),
                            zarr::ArrayReader::open(dir / "cpu.zarr" / name).read()))
        << "level " << k;
  }
}

TEST(GpuPipelineBands, CorruptTileFailsTheBandRunWithContext) {
  SLIDESTREAM_REQUIRE_GPU();
  auto dir = test::scratch_dir("gpu_pipeline_bands_corrupt");
  fs::path copy = dir / "corrupt.svs";
  fs::copy_file(cmu(), copy);
  TileLocation where = Slide::open(cmu()).tile_location(0, 2, 4);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(where.offset));
    std::string junk(64, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  Slide slide = Slide::open(copy);
  pipeline::Options o;
  o.device = Device::cuda;
  o.tile = 256;
  try {
    pipeline::process_to_image(slide, chain_of({"sobel"}), o);
    ADD_FAILURE() << "a corrupt tile went through";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt.svs"), std::string::npos) << e.what();
  }
}

// Streamed uncompressed levels (file ranges into a tile-layout ring, gathered on the GPU) give
// the same pixels as reading each tile-row through the GPU read path, and as the CPU, both into
// a GPU image and into Zarr straight from device bands (several bands written at once).
struct StreamOff {
  StreamOff() { g_backends.band_stream = false; }
  ~StreamOff() { g_backends.band_stream = true; }
};

TEST(GpuPipelineBands, StreamedEqualsRowReaderEqualsCpu) {
  SLIDESTREAM_REQUIRE_GPU();
  int checked = 0;
  for (const char* name : {"vips-none-256.tif", "vips-none-bigtiff-512.tif"}) {
    const fs::path path = test::fixture_dir() / name;
    if (!fs::exists(path)) continue;
    Slide slide = Slide::open(path);
    auto chain = chain_of({"sobel"});
    for (int level = 0; level < static_cast<int>(slide.levels().size()); ++level) {
      Image cpu = run(slide, chain, Mode::global, Device::cpu, 512, level);
      for (int64_t tile : {int64_t{slide.level(level).tile_height}, int64_t{97}}) {
        pipeline::Summary streamed, rows;
        Image a = run(slide, chain, Mode::tiled, Device::cuda, tile, level, &streamed);
        Image b;
        {
          StreamOff off;
          b = run(slide, chain, Mode::tiled, Device::cuda, tile, level, &rows);
        }
        EXPECT_TRUE(streamed.streamed) << name << " level " << level << " " << streamed.io_path;
        EXPECT_FALSE(rows.streamed) << name << " level " << level;
        EXPECT_NE(streamed.io_path.find("streamed"), std::string::npos) << streamed.io_path;
        EXPECT_TRUE(same_pixels(a, cpu)) << name << " level " << level << " tile " << tile;
        EXPECT_TRUE(same_pixels(b, cpu)) << name << " level " << level << " tile " << tile;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no uncompressed fixtures in " << test::fixture_dir();
}

TEST(GpuPipelineBands, ZarrFromDeviceBandsEqualsTheCpus) {
  SLIDESTREAM_REQUIRE_GPU();
  auto dir = test::scratch_dir("gpu_pipeline_device_bands");
  int checked = 0;
  for (const fs::path& path : {test::fixture_dir() / "vips-none-bigtiff-512.tif", cmu()}) {
    if (!fs::exists(path)) continue;
    Slide slide = Slide::open(path);
    auto chain = chain_of({"sobel"});
    for (int64_t tile : {128, 300}) {
      const std::string tag = path.stem().string() + "-" + std::to_string(tile);
      pipeline::Options o;
      o.device = Device::cuda;
      o.tile = tile;
      pipeline::Summary s = pipeline::process(slide, chain, dir / (tag + "-gpu.zarr"), o);
      EXPECT_EQ(s.executor, "bands") << tag;
      o.device = Device::cpu;
      pipeline::process(slide, chain, dir / (tag + "-cpu.zarr"), o);
      EXPECT_TRUE(same_pixels(zarr::ArrayReader::open(dir / (tag + "-gpu.zarr") / "0").read(),
                              zarr::ArrayReader::open(dir / (tag + "-cpu.zarr") / "0").read()))
          << tag;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

// Sets entry `index` of a LONG tag array (324 TileOffsets, 325 TileByteCounts) in the first
// directory of a classic little-endian TIFF: a sparse file made from a good one.
void patch_tile_entry(const fs::path& path, uint16_t tag, size_t index, uint32_t value) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  auto read = [&](uint64_t at, void* into, size_t n) {
    f.seekg(static_cast<std::streamoff>(at));
    f.read(static_cast<char*>(into), static_cast<std::streamsize>(n));
  };
  uint16_t order = 0, magic = 0, count = 0;
  uint32_t ifd = 0;
  read(0, &order, 2);
  read(2, &magic, 2);
  ASSERT_TRUE(order == 0x4949 && magic == 42) << "not a classic little-endian TIFF";
  read(4, &ifd, 4);
  read(ifd, &count, 2);
  for (uint16_t i = 0; i < count; ++i) {
    const uint64_t entry = ifd + 2 + 12 * uint64_t{i};
    uint16_t t = 0, type = 0;
    uint32_t n = 0, where = 0;
    read(entry, &t, 2);
    if (t != tag) continue;
    read(entry + 2, &type, 2);
    read(entry + 4, &n, 4);
    read(entry + 8, &where, 4);
    ASSERT_EQ(type, 4);
    ASSERT_LT(index, n);
    f.seekp(static_cast<std::streamoff>(n == 1 ? entry + 8 : where + 4 * uint64_t{index}));
    f.write(reinterpret_cast<const char*>(&value), 4);
    return;
  }
  FAIL() << "no tag " << tag;
}

TEST(GpuPipelineBands, SparseUncompressedSlideGoesThroughTheReadPath) {
  SLIDESTREAM_REQUIRE_GPU();
  const fs::path source = test::fixture_dir() / "vips-none-256.tif";
  ASSERT_TRUE(fs::exists(source)) << source;
  auto dir = test::scratch_dir("gpu_pipeline_bands_sparse");
  const fs::path sparse = dir / "sparse.tif";
  fs::copy_file(source, sparse);
  patch_tile_entry(sparse, 324, 1, 0);
  patch_tile_entry(sparse, 325, 1, 0);
  Slide slide = Slide::open(sparse);
  auto chain = chain_of({"sobel"});
  Image cpu = run(slide, chain, Mode::global, Device::cpu, 256);
  pipeline::Summary summary;
  Image tiled = run(slide, chain, Mode::tiled, Device::cuda, 256, 0, &summary);
  EXPECT_EQ(summary.executor, "bands");
  EXPECT_FALSE(summary.streamed);
  EXPECT_TRUE(same_pixels(tiled, cpu));
}

TEST(GpuPipelineBands, FileTruncatedAfterOpeningFailsTheStreamWithContext) {
  SLIDESTREAM_REQUIRE_GPU();
  const fs::path source = test::fixture_dir() / "vips-none-bigtiff-512.tif";
  ASSERT_TRUE(fs::exists(source)) << source;
  auto dir = test::scratch_dir("gpu_pipeline_bands_truncated");
  const fs::path cut = dir / "cut.tif";
  fs::copy_file(source, cut);
  Slide slide = Slide::open(cut);
  const TileLocation last =
      slide.tile_location(0, slide.level(0).tiles_across - 1, slide.level(0).tiles_down - 1);
  fs::resize_file(cut, last.offset + 1000);
  pipeline::Options o;
  o.device = Device::cuda;
  o.tile = 512;
  try {
    pipeline::process_to_image(slide, chain_of({"sobel"}), o);
    ADD_FAILURE() << "a truncated file went through";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cut.tif"), std::string::npos) << what;
    EXPECT_NE(what.find("truncated"), std::string::npos) << what;
  }
}

#else

TEST(GpuPipeline, NeedsCuda) {
  SLIDESTREAM_REQUIRE_GPU();
}

#endif

}  // namespace
}  // namespace slidestream
