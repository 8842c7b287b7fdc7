// The tile decoders against damaged input: real tiles from the fixtures (written by libvips and
// tifffile), truncated at many points or with bytes overwritten, must either decode or throw
// slidestream::Error; truncation must be reported as corrupt. Run under ASan/UBSan to prove
// there is no out-of-bounds access either.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "codec/tile_decoder.hpp"
#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "test_read_util.hpp"

namespace slidestream::test {
namespace {

struct RealTile {
  std::vector<std::byte> bytes;
  codec::TileFormat format;
  Level level;
};

RealTile tile_of(const Slide& slide, int level, int64_t tx, int64_t ty) {
  RealTile t;
  t.level = slide.level(level);
  const source::LevelSource& tiles = slide.impl().level_source(level);
  t.format = tiles.format();
  const source::TileBytes bytes = tiles.tile(tx, ty);
  t.bytes.resize(bytes.size());
  source::read_tile_bytes(tiles, bytes, t.bytes);
  return t;
}

Image output_for(const RealTile& t) {
  return Image::allocate(t.format.width, t.format.height, t.format.samples_per_pixel,
                         t.level.dtype);
}

// Fixtures covering every codec path; tile (1, 1) of level 0 is an interior tile.
const char* kCodecFixtures[] = {
    "vips-jpeg90-256.tif",       "tf-jpeg-256.tif",
    "vips-deflate-128.tif",      "vips-lzw-512.tif",
    "vips-lzw-nopred-128.tif",   "vips-zstd-256.tif",
    "vips-none-256.tif",         "tf-jpeg2000-256.tif",
    "tf-aperio-j2k-rgb-256.svs", "tf-aperio-j2k-ycbcr-256.svs",
    "tf-float32-fpred-256.tif",  "vips-grey-jpeg90-256.tif",
};

TEST(CodecCorrupt, IntactTilesDecode) {
  for (const char* name : kCodecFixtures) {
    SCOPED_TRACE(name);
    Slide slide = Slide::open(fixture(name));
    RealTile t = tile_of(slide, 0, 1, 1);
    ASSERT_TRUE(codec::can_decode(t.format));
    Image out = output_for(t);
    EXPECT_NO_THROW(codec::decode_tile(t.bytes, t.format, out.view()));
  }
}

TEST(CodecCorrupt, TruncatedTilesAreCorrupt) {
  for (const char* name : kCodecFixtures) {
    SCOPED_TRACE(name);
    Slide slide = Slide::open(fixture(name));
    RealTile t = tile_of(slide, 0, 1, 1);
    Image out = output_for(t);
    const size_t n = t.bytes.size();
    for (size_t keep :
         {size_t{0}, size_t{1}, size_t{2}, size_t{16}, n / 4, n / 2, n * 3 / 4, n - 8}) {
      if (keep >= n) continue;
      SCOPED_TRACE("kept " + std::to_string(keep) + " of " + std::to_string(n) + " bytes");
      std::span<const std::byte> cut(t.bytes.data(), keep);
      try {
        codec::decode_tile(cut, t.format, out.view());
        ADD_FAILURE() << "a truncated tile decoded without error";
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::corrupt) << e.what();
      }
    }
  }
}

TEST(CodecCorrupt, DamagedBytesNeverCrash) {
  std::mt19937 rng(2);
  for (const char* name : kCodecFixtures) {
    SCOPED_TRACE(name);
    Slide slide = Slide::open(fixture(name));
    RealTile t = tile_of(slide, 0, 1, 1);
    Image out = output_for(t);
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<std::byte> damaged = t.bytes;
      int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips; ++f) {
        damaged[rng() % damaged.size()] = static_cast<std::byte>(rng());
      }
      try {
        codec::decode_tile(damaged, t.format, out.view());
      } catch (const Error& e) {
        EXPECT_TRUE(e.kind() == ErrorKind::corrupt || e.kind() == ErrorKind::unsupported)
            << e.what();
      }
    }
  }
}

TEST(CodecCorrupt, BrokenJpegTablesAreCorrupt) {
  Slide slide = Slide::open(fixture("vips-jpeg90-256.tif"));
  RealTile t = tile_of(slide, 0, 1, 1);
  ASSERT_FALSE(t.format.jpeg_tables.empty()) << "libvips writes shared JPEGTables";
  Image out = output_for(t);
  std::vector<std::byte> tables(t.format.jpeg_tables.begin(), t.format.jpeg_tables.end());
  for (size_t keep : {size_t{2}, tables.size() / 2}) {
    SCOPED_TRACE("tables cut to " + std::to_string(keep));
    codec::TileFormat f = t.format;
    f.jpeg_tables = std::span<const std::byte>(tables.data(), keep);
    EXPECT_THROW(codec::decode_tile(t.bytes, f, out.view()), Error);
  }
  codec::TileFormat none = t.format;
  none.jpeg_tables = {};
  try {
    codec::decode_tile(t.bytes, none, out.view());
    FAIL() << "an abbreviated stream decoded without its tables";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::corrupt) << e.what();
  }
}

TEST(CodecCorrupt, WrongOutputViewsAndFormatsAreRefused) {
  Slide slide = Slide::open(fixture("vips-deflate-128.tif"));
  RealTile t = tile_of(slide, 0, 1, 1);
  Image narrow = Image::allocate(t.format.width - 1, t.format.height, 3, DataType::uint8);
  EXPECT_THROW(codec::decode_tile(t.bytes, t.format, narrow.view()), Error);
  Image grey = Image::allocate(t.format.width, t.format.height, 1, DataType::uint8);
  EXPECT_THROW(codec::decode_tile(t.bytes, t.format, grey.view()), Error);
  codec::TileFormat odd = t.format;
  odd.compression = Compression::webp;
  EXPECT_FALSE(codec::can_decode(odd));
  Image out = output_for(t);
  try {
    codec::decode_tile(t.bytes, odd, out.view());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::unsupported) << e.what();
  }
  odd = t.format;
  odd.bits_per_sample = 12;
  EXPECT_FALSE(codec::can_decode(odd));
}

}  // namespace
}  // namespace slidestream::test
