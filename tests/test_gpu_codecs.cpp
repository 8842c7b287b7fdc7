// The GPU decoders of the GPU read path besides nvJPEG: nvCOMP for deflate and zstd tiles,
// nvJPEG2000 for JPEG 2000 tiles. Proves that
//  - each deflate / zstd / JPEG 2000 fixture read to the GPU equals the host read byte for byte,
//    and that the GPU decoder really decoded it (the read's report names it; with one thread no
//    CPU helper takes tiles, so a silent fallback to the CPU fails the test), except zstd
//    frames without a content checksum, which must stay on the CPU (test_gpu_codecs_corrupt
//    has the damaged tiles). deflate and zstd go to nvCOMP only on request
//    (ReadOptions::gpu_byte_codecs: nvCOMP can fault on a damaged stream): these reads ask for it,
//    on intact fixtures or ones whose damage only the checksum shows;
//  - switching a decoder off, or a level it does not cover, gives the CPU path's bytes;
//  - a damaged tile fails the GPU read with the host read's error (file, level, tile, offset),
//    including damage that only the stream's checksum shows (nvCOMP does not check it);
//  - lossy (9/7) JPEG 2000 stays with OpenJPEG unless asked, and how far nvJPEG2000 lands then.
// Plus host-only checks of the checksums and the codestream reader the GPU path relies on.
// Where nvCOMP / nvJPEG2000 cannot be loaded the GPU cases skip, unless the run says they must
// be there (SLIDESTREAM_EXPECT_GPU_CODECS=1, as the device run does): then they fail.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "codec/cuda/gpu_codec_kernels.hpp"
#include "codec/cuda/j2k_codestream.hpp"
#include "shim/nvcomp.hpp"
#include "shim/nvjpeg2k.hpp"
#include "slidestream/error.hpp"
#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/settings.hpp"
#include "slidestream/slide.hpp"
#include "support/gpu_images.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

namespace fs = std::filesystem;

// Changes the library's settings for one scope.
class ScopedSettings {
 public:
  explicit ScopedSettings(const std::function<void(Settings&)>& change) : old_(settings()) {
    Settings s = old_;
    change(s);
    set_settings(s);
  }
  ~ScopedSettings() { set_settings(old_); }

 private:
  Settings old_;
};

std::optional<fs::path> optional_fixture(const std::string& name) {
  fs::path p = test::fixture_dir() / name;
  if (fs::exists(p)) return p;
  return std::nullopt;
}

std::vector<std::byte> file_bytes(const fs::path& path, uint64_t offset, uint64_t count) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::vector<std::byte> bytes(count);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(count));
  EXPECT_EQ(static_cast<uint64_t>(in.gcount()), count) << path;
  return bytes;
}

using test::max_abs_difference;
using test::PitchedDeviceImage;
using test::tight;
using test::to_host;

bool libraries_required() {
  const char* v = std::getenv("SLIDESTREAM_EXPECT_GPU_CODECS");
  return v && std::string(v) == "1";
}

// Empty when the library is usable; otherwise why not.
std::string nvcomp_missing() {
  std::string why;
  return shim::nvcomp::enabled(&why) ? std::string() : "nvCOMP: " + why;
}
std::string nvjpeg2k_missing() {
  std::string why;
  return shim::nvjpeg2k::enabled(&why) ? std::string() : "nvJPEG2000: " + why;
}

#define REQUIRE_LIBRARY(missing)                                                               \
  do {                                                                                         \
    const std::string why_missing = (missing);                                                 \
    if (!why_missing.empty()) {                                                                \
      if (libraries_required()) FAIL() << why_missing << " (SLIDESTREAM_EXPECT_GPU_CODECS=1)"; \
      GTEST_SKIP() << why_missing;                                                             \
    }                                                                                          \
  } while (0)

struct GpuRead {
  std::vector<std::byte> pixels;
  ReadReport report;
};

// The options of a read that asks for every GPU decoder (nvCOMP is opt-in).
const ReadOptions kAllGpuDecoders{.gpu_byte_codecs = true};

GpuRead read_level_on_gpu(const Slide& slide, int level, int threads,
                          ReadOptions options = kAllGpuDecoders) {
  const Level& l = slide.level(level);
  Image gpu = Image::allocate(l.width, l.height, l.channels, l.dtype, Device::cuda);
  options.device = Device::cuda;
  options.threads = threads;
  GpuRead r;
  slide.read_level(level, gpu.view(), options, &r.report);
  r.pixels = to_host(gpu.view());
  return r;
}

// The fixtures each GPU decoder covers (make_fixtures.py, make_gpu_codec_fixtures.py).
struct Covered {
  const char* fixture;
  const char* decoder;  // what the read's report must say with one thread
};
const Covered kCovered[] = {
    {"vips-deflate-128.tif", "nvcomp-deflate"},  // predictor 2, edge tiles
    {"vips-deflate-nopred-256.tif", "nvcomp-deflate"},
    {"tf-deflate-pred-256.tif", "nvcomp-deflate"},           // Adobe deflate (8)
    {"tf-bigendian-rgb-256.tif", "nvcomp-deflate"},          // MM file, 8-bit
    {"tf-grey16-bigendian-pred-128.tif", "nvcomp-deflate"},  // byte swap, then predictor 2
    {"tf-ome-subifd-256.ome.tif", "nvcomp-deflate"},
    // libvips' and tifffile's zstd frames carry no content checksum: nvCOMP's output could not
    // be verified, so they stay on the CPU (codec/nvcomp_route.hpp, issue 16).
    {"vips-zstd-256.tif", "cpu-zstd"},
    {"tf-zstd-128.tif", "cpu-zstd"},
    {"tf-grey16-zstd-256.tif", "cpu-zstd"},
    {"gc-zstd-checksum-256.tif", "nvcomp-zstd"},    // XXH64 checked on the GPU
    {"tf-jpeg2000-256.tif", "nvjpeg2000"},          // 34712, reversible
    {"tf-aperio-j2k-rgb-256.svs", "nvjpeg2000"},    // 33005, reversible
    {"tf-aperio-j2k-ycbcr-256.svs", "nvjpeg2000"},  // 33003: OpenSlide's YCbCr conversion
};

// ---- host-only: what the GPU path's checks rest on ----

TEST(GpuCodecs, ChecksumsMatchWhatTheStreamsCarry) {
  const std::string wikipedia = "Wikipedia";
  EXPECT_EQ(codec::cuda::adler32_host(reinterpret_cast<const std::byte*>(wikipedia.data()),
                                      wikipedia.size()),
            0x11E60398u);
  // XXH64 of nothing (xxHash's test vector), low 32 bits.
  EXPECT_EQ(codec::cuda::xxh64_low32_host(nullptr, 0), 0x51D8E999u);

  // Real tiles: a predictor-less deflate tile's zlib trailer is the Adler-32 of its pixels; a
  // checksummed zstd frame ends with the XXH64 of its pixels. Longer than 32 bytes, edge tiles.
  int checked = 0;
  if (auto p = optional_fixture("vips-deflate-nopred-256.tif")) {
    Slide slide = Slide::open(*p);
    const Level& l = slide.level(0);
    for (int64_t tx : {int64_t{0}, l.tiles_across - 1}) {
      TileLocation where = slide.tile_location(0, tx, l.tiles_down - 1);
      auto stream = file_bytes(*p, where.offset, where.byte_count);
      Image tile = slide.read_tile(0, tx, l.tiles_down - 1);
      auto pixels = tight(tile.view());
      const auto* t = reinterpret_cast<const uint8_t*>(stream.data() + stream.size() - 4);
      uint32_t trailer = uint32_t(t[0]) << 24 | uint32_t(t[1]) << 16 | uint32_t(t[2]) << 8 | t[3];
      EXPECT_EQ(codec::cuda::adler32_host(pixels.data(), pixels.size()), trailer);
      ++checked;
    }
  }
  if (auto p = optional_fixture("gc-zstd-checksum-256.tif")) {
    Slide slide = Slide::open(*p);
    const Level& l = slide.level(0);
    for (int64_t tx : {int64_t{0}, l.tiles_across - 1}) {
      TileLocation where = slide.tile_location(0, tx, l.tiles_down - 1);
      auto stream = file_bytes(*p, where.offset, where.byte_count);
      Image tile = slide.read_tile(0, tx, l.tiles_down - 1);
      auto pixels = tight(tile.view());
      uint32_t trailer = 0;
      std::memcpy(&trailer, stream.data() + stream.size() - 4, 4);  // little-endian host
      EXPECT_EQ(codec::cuda::xxh64_low32_host(pixels.data(), pixels.size()), trailer);
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "fixtures absent from " << test::fixture_dir();
}

TEST(GpuCodecs, CodestreamReaderSaysWhatTheWriterWrote) {
  struct Case {
    const char* fixture;
    bool reversible;
  };
  int checked = 0;
  for (const Case& c :
       {Case{"tf-jpeg2000-256.tif", true}, Case{"tf-aperio-j2k-rgb-256.svs", true},
        Case{"tf-aperio-j2k-ycbcr-256.svs", true}, Case{"gc-aperio-j2k-ycbcr-lossy-256.svs", false},
        Case{"gc-aperio-j2k-rgb-lossy-256.svs", false}}) {
    auto p = optional_fixture(c.fixture);
    if (!p) continue;
    SCOPED_TRACE(c.fixture);
    Slide slide = Slide::open(*p);
    const Level& l = slide.level(0);
    TileLocation where = slide.tile_location(0, 0, 0);
    auto bytes = file_bytes(*p, where.offset, where.byte_count);
    codec::j2k::CodestreamFacts facts;
    std::string why;
    ASSERT_TRUE(codec::j2k::inspect(bytes, &facts, &why)) << why;
    EXPECT_EQ(facts.reversible, c.reversible);
    EXPECT_EQ(facts.width, l.tile_width);
    EXPECT_EQ(facts.height, l.tile_height);
    EXPECT_EQ(facts.x0, 0u);
    EXPECT_EQ(facts.components, 3);
    EXPECT_EQ(facts.precision[0], 8);
    EXPECT_FALSE(facts.is_signed[0]);
    // Every truncation of the main header is refused, never read past.
    for (size_t n : {size_t{0}, size_t{3}, size_t{20}, size_t{45}, size_t{60}}) {
      std::vector<std::byte> cut(bytes.begin(), bytes.begin() + std::min(n, bytes.size()));
      EXPECT_FALSE(codec::j2k::inspect(cut, &facts, &why)) << n << " bytes";
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no JPEG 2000 fixtures in " << test::fixture_dir();
}

// ---- on the GPU ----

TEST(GpuCodecs, EachCoveredFixtureDecodesOnTheGpuAndEqualsTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
  const std::string nvcomp = nvcomp_missing(), nvjpeg2k = nvjpeg2k_missing();
  if (!nvcomp.empty() && !nvjpeg2k.empty()) REQUIRE_LIBRARY(nvcomp + "; " + nvjpeg2k);
  int compared = 0;
  for (const Covered& c : kCovered) {
    const bool j2k = std::string(c.decoder) == "nvjpeg2000";
    if (!(j2k ? nvjpeg2k : nvcomp).empty()) {
      if (libraries_required()) ADD_FAILURE() << (j2k ? nvjpeg2k : nvcomp);
      continue;
    }
    auto path = optional_fixture(c.fixture);
    if (!path) {
      std::cout << "[ note ] " << c.fixture << " absent from " << test::fixture_dir() << "\n";
      continue;
    }
    Slide slide = Slide::open(*path);
    for (const Level& l : slide.levels()) {
      SCOPED_TRACE(std::string(c.fixture) + " level " + std::to_string(l.index));
      auto host = tight(slide.read_level(l.index).view());
      for (int threads : {1, 0}) {
        GpuRead gpu = read_level_on_gpu(slide, l.index, threads);
        EXPECT_TRUE(gpu.pixels == host)
            << "threads " << threads << ", decoder " << gpu.report.decoder;
        // One thread: no CPU helper, so every tile the GPU decoder did not decode shows. (With
        // all threads the helpers may take every tile of a small level before the GPU workers
        // have their buffers: only the bytes are checked then.)
        if (threads == 1) EXPECT_EQ(gpu.report.decoder, c.decoder);
      }
      ++compared;
    }
  }
  EXPECT_GT(compared, 0) << "no covered fixture found in " << test::fixture_dir();
}

TEST(GpuCodecs, BatchesSplitByInputBytesStillEqualTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
  REQUIRE_LIBRARY(nvcomp_missing());
  // Small batches: each worker takes many, and a tile that does not fit waits for the next.
  ScopedSettings small([](Settings& s) { s.nvcomp_input_bytes = 100000; });
  int compared = 0;
  for (const char* name : {"vips-deflate-128.tif", "gc-zstd-checksum-256.tif"}) {
    auto path = optional_fixture(name);
    if (!path) continue;
    SCOPED_TRACE(name);
    Slide slide = Slide::open(*path);
    auto host = tight(slide.read_level(0).view());
    GpuRead gpu = read_level_on_gpu(slide, 0, 1);
    EXPECT_TRUE(gpu.pixels == host) << gpu.report.decoder;
    EXPECT_EQ(gpu.report.decoder.rfind("nvcomp-", 0), 0u) << gpu.report.decoder;
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

TEST(GpuCodecs, RegionsCuttingTilesIntoAPitchedBufferEqualTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
  const std::string nvcomp = nvcomp_missing(), nvjpeg2k = nvjpeg2k_missing();
  if (!nvcomp.empty() && !nvjpeg2k.empty()) REQUIRE_LIBRARY(nvcomp + "; " + nvjpeg2k);
  int compared = 0;
  for (const Covered& c : kCovered) {
    auto path = optional_fixture(c.fixture);
    if (!path) continue;
    SCOPED_TRACE(c.fixture);
    Slide slide = Slide::open(*path);
    const Level& l = slide.level(0);
    // Hangs over the top-left edge, cuts tiles on every side, and fills outside the level.
    const int64_t x = -21, y = 37, w = l.width - 40, h = l.height - 10;
    ReadOptions host_options;
    host_options.fill = 9;
    auto want = tight(slide.read_region(0, x, y, w, h, host_options).view());
    PitchedDeviceImage device(w, h, l.channels, l.dtype, 64);
    const ImageView& view = device.view();
    ReadOptions options = host_options;
    options.device = Device::cuda;
    options.threads = 1;
    options.gpu_byte_codecs = true;
    ReadReport report;
    slide.read_region(0, x, y, w, h, view, options, &report);
    EXPECT_TRUE(to_host(view) == want) << report.decoder;
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

TEST(GpuCodecs, SwitchedOffOrUncoveredLevelsDecodeOnTheCpu) {
  SLIDESTREAM_REQUIRE_GPU();
  struct Case {
    const char* fixture;
    ReadOptions options;  // a GPU decoder switched off, or a layout the GPU decoders leave alone
    const char* gpu_decoder;
  };
  const ReadOptions no_nvcomp{.gpu_byte_codecs = false};
  const ReadOptions no_nvjpeg2k{.gpu_byte_codecs = true, .gpu_jpeg2000 = GpuJpeg2000::off};
  int compared = 0;
  for (const Case& c : {Case{"vips-zstd-256.tif", no_nvcomp, "nvcomp"},
                        Case{"tf-deflate-pred-256.tif", no_nvcomp, "nvcomp"},
                        Case{"tf-aperio-j2k-ycbcr-256.svs", no_nvjpeg2k, "nvjpeg2000"},
                        Case{"tf-planar-deflate-256.tif", kAllGpuDecoders, "nvcomp"},    // planar 2
                        Case{"tf-float32-fpred-256.tif", kAllGpuDecoders, "nvcomp"}}) {  // pred. 3
    auto path = optional_fixture(c.fixture);
    if (!path) continue;
    SCOPED_TRACE(c.fixture);
    Slide slide = Slide::open(*path);
    auto host = tight(slide.read_level(0).view());
    GpuRead gpu = read_level_on_gpu(slide, 0, 0, c.options);
    EXPECT_TRUE(gpu.pixels == host) << gpu.report.decoder;
    EXPECT_EQ(gpu.report.decoder.find(c.gpu_decoder), std::string::npos) << gpu.report.decoder;
    EXPECT_EQ(gpu.report.decoder.rfind("cpu-", 0), 0u) << gpu.report.decoder;
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

// A copy of `name` with `damage` applied to the stored bytes of level 0's tile (tx, ty).
fs::path damaged_copy(const fs::path& source, const std::string& test_name, int64_t tx, int64_t ty,
                      const std::function<void(std::vector<std::byte>&)>& damage) {
  fs::path copy = test::scratch_dir(test_name) / source.filename();
  fs::copy_file(source, copy, fs::copy_options::overwrite_existing);
  Slide slide = Slide::open(copy);
  TileLocation where = slide.tile_location(0, tx, ty);
  auto bytes = file_bytes(copy, where.offset, where.byte_count);
  damage(bytes);
  std::fstream f(copy, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(where.offset));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return copy;
}

TEST(GpuCodecs, DamagedTilesFailWithTheHostReadsError) {
  SLIDESTREAM_REQUIRE_GPU();
  REQUIRE_LIBRARY(nvcomp_missing());
  struct Case {
    const char* fixture;
    const char* what;
    std::function<void(std::vector<std::byte>&)> damage;
  };
  auto flip_last = [](std::vector<std::byte>& b) { b.back() ^= std::byte{0x5A}; };
  const Case cases[] = {
      // The deflate stream is intact, only the Adler-32 is wrong: nvCOMP decodes it happily;
      // the GPU path's own check must send it to libdeflate, which refuses it.
      {"vips-deflate-nopred-256.tif", "Adler-32 trailer", flip_last},
      {"vips-deflate-nopred-256.tif", "deflate data",
       [](std::vector<std::byte>& b) {
         for (size_t i = b.size() / 3; i < b.size() / 3 + 64 && i < b.size(); ++i)
           b[i] = std::byte{0xFF};
       }},
      {"tf-zstd-128.tif", "zstd magic", [](std::vector<std::byte>& b) { b[0] = std::byte{0}; }},
      // The frame is intact, only its XXH64 is wrong: libzstd refuses it, so must we.
      {"gc-zstd-checksum-256.tif", "zstd content checksum", flip_last},
  };
  int checked = 0;
  for (const Case& c : cases) {
    auto source = optional_fixture(c.fixture);
    if (!source) continue;
    SCOPED_TRACE(std::string(c.fixture) + ": " + c.what);
    fs::path copy = damaged_copy(*source, "GpuCodecsDamaged", 1, 1, c.damage);
    Slide slide = Slide::open(copy);
    const Level& l = slide.level(0);
    std::optional<Error> host_error;
    try {
      slide.read_level(0);
    } catch (const Error& e) {
      host_error = e;
    }
    ASSERT_TRUE(host_error) << "the host read accepted the damaged tile";
    for (int threads : {1, 0}) {
      Image gpu = Image::allocate(l.width, l.height, l.channels, l.dtype, Device::cuda);
      ReadOptions options;
      options.device = Device::cuda;
      options.threads = threads;
      options.gpu_byte_codecs = true;
      try {
        slide.read_level(0, gpu.view(), options);
        ADD_FAILURE() << "the GPU read accepted the damaged tile (threads " << threads << ")";
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), host_error->kind()) << e.what();
        EXPECT_STREQ(e.what(), host_error->what());
        const std::string text = e.what();
        EXPECT_NE(text.find(copy.filename().string()), std::string::npos) << text;
        EXPECT_NE(text.find("tile " + std::to_string(l.tiles_across + 1)), std::string::npos)
            << text;
        EXPECT_NE(text.find("offset "), std::string::npos) << text;
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(GpuCodecs, LossyJpeg2000StaysWithOpenJpegUnlessAskedAndHowFarNvjpeg2000Lands) {
  SLIDESTREAM_REQUIRE_GPU();
  REQUIRE_LIBRARY(nvjpeg2k_missing());
  int compared = 0;
  for (const char* name :
       {"gc-aperio-j2k-ycbcr-lossy-256.svs", "gc-aperio-j2k-rgb-lossy-256.svs"}) {
    auto path = optional_fixture(name);
    if (!path) continue;
    SCOPED_TRACE(name);
    Slide slide = Slide::open(*path);
    auto host = tight(slide.read_level(0).view());
    {
      GpuRead gpu = read_level_on_gpu(slide, 0, 0);
      EXPECT_TRUE(gpu.pixels == host) << gpu.report.decoder;
      EXPECT_EQ(gpu.report.decoder.find("nvjpeg2000"), std::string::npos) << gpu.report.decoder;
    }
    GpuRead gpu = read_level_on_gpu(
        slide, 0, 1, ReadOptions{.gpu_byte_codecs = true, .gpu_jpeg2000 = GpuJpeg2000::all});
    EXPECT_EQ(gpu.report.decoder, "nvjpeg2000");
    size_t differing = 0;
    const int worst = max_abs_difference(gpu.pixels, host, &differing);
    std::cout << "[ measure ] " << name << ": nvJPEG2000 vs OpenJPEG, max abs difference " << worst
              << ", " << differing << " of " << host.size() << " samples differ\n";
    ::testing::Test::RecordProperty(std::string("max_abs_") + name, worst);
    // Both decode the same 9/7 codestream; a colour or placement mistake would be far larger.
    EXPECT_LE(worst, 8);
    ++compared;
  }
  if (compared == 0)
    GTEST_SKIP() << "lossy fixtures absent (tests/fixtures/make_gpu_codec_fixtures.py)";
}

}  // namespace
}  // namespace slidestream
