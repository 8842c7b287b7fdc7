// Region, tile and concurrent reads: regions crossing tile edges and the image edge equal
// OpenSlide's read_region (which draws transparent black, i.e. our fill 0, outside the level);
// read_tile equals libtiff's TIFFReadEncodedTile, padding included; threads change nothing.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "test_read_util.hpp"

namespace slidestream::test {
namespace {

// OpenSlide's RGB of [x, x+w) × [y, y+h) of `level` (level coordinates); outside is 0.
std::vector<uint8_t> openslide_region(const std::filesystem::path& path, int level, int64_t x,
                                      int64_t y, int64_t w, int64_t h) {
  openslide_t* osr = openslide_open(path.c_str());
  EXPECT_NE(osr, nullptr);
  if (osr == nullptr) return {};
  double ds = openslide_get_level_downsample(osr, level);
  std::vector<uint32_t> argb(static_cast<size_t>(w * h));
  openslide_read_region(osr, argb.data(), static_cast<int64_t>(x * ds),
                        static_cast<int64_t>(y * ds), level, w, h);
  EXPECT_EQ(openslide_get_error(osr), nullptr);
  openslide_close(osr);
  std::vector<uint8_t> rgb;
  rgb.reserve(argb.size() * 3);
  for (uint32_t v : argb) {
    // Opaque inside the level, fully transparent (all zero) outside: exact either way.
    rgb.push_back(static_cast<uint8_t>(v >> 16));
    rgb.push_back(static_cast<uint8_t>(v >> 8));
    rgb.push_back(static_cast<uint8_t>(v));
  }
  return rgb;
}

std::vector<uint8_t> bytes_of(const Image& image) {
  const auto* b = reinterpret_cast<const uint8_t*>(image.data());
  return {b, b + image.size_bytes()};
}

struct RegionCase {
  std::string file;
  int level;
  int64_t x, y, w, h;
};

TEST(ReadRegion, RegionsAcrossTileAndImageEdgesEqualOpenSlide) {
  const auto cmu = shared_testdata() / "cmu-1-small-region.svs";
  std::vector<std::pair<std::filesystem::path, RegionCase>> cases = {
      {cmu, {"", 0, 200, 230, 300, 50}},     // crosses tile columns and a tile row (240²)
      {cmu, {"", 0, 2100, 2900, 300, 200}},  // runs past the right and bottom edges
      {cmu, {"", 0, -50, -20, 120, 90}},     // starts before the top-left corner
      {cmu, {"", 0, 239, 239, 2, 2}},        // four tiles, one pixel each
      {cmu, {"", 0, 3000, 10, 20, 20}},      // entirely outside
      // Level 1 at (0, 0): OpenSlide places regions in level-0 coordinates, which map back to
      // level pixels exactly only at the origin when the downsample is not an integer.
      {fixture("vips-jpeg90-256.tif"), {"", 1, 0, 0, 520, 390}},
      {fixture("vips-deflate-128.tif"), {"", 0, 990, 700, 100, 100}},
      {fixture("tf-planar-deflate-256.tif"), {"", 0, 250, 250, 300, 300}},
      {fixture("vips-lzw-512.tif"), {"", 0, 500, 500, 600, 400}},
  };
  for (const auto& [path, c] : cases) {
    SCOPED_TRACE(path.filename().string() + " level " + std::to_string(c.level) + " (" +
                 std::to_string(c.x) + ", " + std::to_string(c.y) + ") " + std::to_string(c.w) +
                 "x" + std::to_string(c.h));
    Slide slide = Slide::open(path);
    for (int threads : {1, 3, 0}) {
      ReadOptions options;
      options.threads = threads;
      Image ours = slide.read_region(c.level, c.x, c.y, c.w, c.h, options);
      EXPECT_TRUE(bytes_of(ours) == openslide_region(path, c.level, c.x, c.y, c.w, c.h))
          << "threads " << threads;
    }
  }
}

TEST(ReadRegion, FillValueOutsideTheLevelAndOpenSlideInside) {
  const auto path = fixture("vips-jpeg90-256.tif");
  Slide slide = Slide::open(path);
  const Level& l = slide.level(0);
  const int64_t x = l.width - 40, y = -30, w = 100, h = 80;
  ReadOptions options;
  options.fill = 255;
  Image ours = slide.read_region(0, x, y, w, h, options);
  auto theirs = openslide_region(path, 0, x, y, w, h);
  for (int64_t yy = 0; yy < h; ++yy) {
    for (int64_t xx = 0; xx < w; ++xx) {
      bool inside = x + xx >= 0 && x + xx < l.width && y + yy >= 0 && y + yy < l.height;
      for (int c = 0; c < 3; ++c) {
        uint8_t got = reinterpret_cast<const uint8_t*>(ours.data())[(yy * w + xx) * 3 + c];
        uint8_t want = inside ? theirs[(yy * w + xx) * 3 + c] : 255;
        ASSERT_EQ(got, want) << "pixel (" << xx << ", " << yy << ") channel " << c;
      }
    }
  }
}

TEST(ReadRegion, PitchedOutputViewKeepsItsPadding) {
  const auto path = fixture("vips-zstd-256.tif");
  Slide slide = Slide::open(path);
  const int64_t w = 300, h = 200;
  const size_t pitch = w * 3 + 64;
  std::vector<uint8_t> buffer(pitch * h, 0xAB);
  ImageView view{.data = reinterpret_cast<std::byte*>(buffer.data()),
                 .width = w,
                 .height = h,
                 .channels = 3,
                 .dtype = DataType::uint8,
                 .row_pitch = pitch};
  slide.read_region(0, 200, 100, w, h, view);
  auto theirs = openslide_region(path, 0, 200, 100, w, h);
  for (int64_t y = 0; y < h; ++y) {
    ASSERT_EQ(std::memcmp(buffer.data() + y * pitch, theirs.data() + y * w * 3, w * 3), 0)
        << "row " << y;
    for (size_t i = w * 3; i < pitch; ++i) ASSERT_EQ(buffer[y * pitch + i], 0xAB);
  }
}

TEST(ReadTile, EveryTileEqualsLibtiffIncludingPadding) {
  for (const char* name : {"vips-jpeg90-256.tif", "vips-lzw-nopred-128.tif",
                           "tf-planar-deflate-256.tif", "tf-grey16-bigendian-pred-128.tif"}) {
    SCOPED_TRACE(name);
    const auto path = fixture(name);
    Slide slide = Slide::open(path);
    const Level& l = slide.level(0);
    TIFFSetWarningHandler(nullptr);
    TIFF* tif = TIFFOpen(path.c_str(), "r");
    ASSERT_NE(tif, nullptr);
    ASSERT_TRUE(TIFFSetSubDirectory(tif, ifd_offset_of(slide, 0)));
    uint16_t photometric = 0, compression = 1, planar = 1;
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    if (compression == COMPRESSION_JPEG && photometric == PHOTOMETRIC_YCBCR) {
      TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    }
    std::vector<uint8_t> ref(static_cast<size_t>(TIFFTileSize(tif)));
    const size_t sample = size_of(l.dtype);
    for (int64_t ty = 0; ty < l.tiles_down; ++ty) {
      for (int64_t tx = 0; tx < l.tiles_across; ++tx) {
        Image ours = slide.read_tile(0, tx, ty);
        ASSERT_EQ(ours.width(), l.tile_width);
        ASSERT_EQ(ours.height(), l.tile_height);
        auto got = bytes_of(ours);
        std::vector<uint8_t> want(got.size());
        if (planar == PLANARCONFIG_SEPARATE) {
          for (int s = 0; s < l.channels; ++s) {
            ttile_t index = TIFFComputeTile(tif, tx * l.tile_width, ty * l.tile_height, 0, s);
            ASSERT_GT(TIFFReadEncodedTile(tif, index, ref.data(), ref.size()), 0);
            for (size_t p = 0; p < size_t{l.tile_width} * l.tile_height; ++p) {
              std::memcpy(&want[(p * l.channels + s) * sample], &ref[p * sample], sample);
            }
          }
        } else {
          ttile_t index = TIFFComputeTile(tif, tx * l.tile_width, ty * l.tile_height, 0, 0);
          ASSERT_GT(TIFFReadEncodedTile(tif, index, ref.data(), ref.size()), 0);
          std::memcpy(want.data(), ref.data(), want.size());
        }
        ASSERT_TRUE(got == want) << "tile (" << tx << ", " << ty << ")";
      }
    }
    TIFFClose(tif);
  }
}

TEST(ReadConcurrency, ManyThreadsReadingOneSlideGetTheSamePixels) {
  const auto path = fixture("vips-jpeg90-512.tif");
  Slide slide = Slide::open(path);
  // The whole level, checked against OpenSlide, is what every region must be cut from.
  auto level = openslide_level(path, 0);
  ASSERT_TRUE(level.error.empty()) << level.error;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 20; ++i) {
        int64_t w = 1 + rng() % 700, h = 1 + rng() % 700;
        int64_t x = rng() % (level.width - w), y = rng() % (level.height - h);
        ReadOptions options;
        options.threads = 1 + t % 3;
        Image r = slide.read_region(0, x, y, w, h, options);
        const auto* b = reinterpret_cast<const uint8_t*>(r.data());
        for (int64_t yy = 0; yy < h; ++yy) {
          if (std::memcmp(b + yy * w * 3, level.bytes.data() + ((y + yy) * level.width + x) * 3,
                          w * 3) != 0) {
            ++mismatches;
            break;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(ReadErrors, UnreadableSlideGivesAClearError) {
  const auto path = shared_testdata() / "unreadable.svs";
  Slide slide = Slide::open(path);
  try {
    slide.read_level(0);
    FAIL() << "reading damaged tile data succeeded";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("unreadable.svs"), std::string::npos) << what;
    EXPECT_NE(what.find("level 0"), std::string::npos) << what;
    EXPECT_NE(what.find("tile"), std::string::npos) << what;
    EXPECT_EQ(e.kind(), ErrorKind::corrupt) << what;
  }
}

TEST(ReadErrors, BadArgumentsAreRefused) {
  Slide slide = Slide::open(fixture("vips-none-256.tif"));
  EXPECT_THROW(slide.read_level(99), Error);
  EXPECT_THROW(slide.read_tile(0, 100, 0), Error);
  Image grey = Image::allocate(10, 10, 1, DataType::uint8);
  try {
    slide.read_region(0, 0, 0, 10, 10, grey.view());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument) << e.what();
  }
  Image small = Image::allocate(5, 5, 3, DataType::uint8);
  EXPECT_THROW(slide.read_region(0, 0, 0, 10, 10, small.view()), Error);
#if !SLIDESTREAM_HAVE_CUDA
  ImageView gpu{.data = small.data(),
                .width = 5,
                .height = 5,
                .channels = 3,
                .row_pitch = 15,
                .device = Device::cuda};
  try {
    slide.read_region(0, 0, 0, 5, 5, gpu);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::unsupported) << e.what();
  }
#endif
}

}  // namespace
}  // namespace slidestream::test
