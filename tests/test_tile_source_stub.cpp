// The readers ask only the tile-source layer: a slide served from memory by stub sources
// (tests/support/stub_slide.hpp: missing tiles, tiles in three ranges over two stores, a level
// in strips, stored tiles larger than the grid) reads on the host, through regions, tiles, whole
// levels and many threads, and through the tiled pipeline, as the formula its bytes were made
// from, with missing tiles filled.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/ops.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"
#include "support/stub_slide.hpp"

namespace slidestream::test {
namespace {

// Index of the first differing byte between two host images of the same shape, or -1.
int64_t first_difference(const ImageView& a, const ImageView& b) {
  if (a.width != b.width || a.height != b.height || a.channels != b.channels) return 0;
  for (int64_t y = 0; y < a.height; ++y) {
    if (std::memcmp(a.row(y), b.row(y), a.row_bytes()) != 0) {
      for (size_t i = 0; i < a.row_bytes(); ++i) {
        if (a.row(y)[i] != b.row(y)[i]) return y * static_cast<int64_t>(a.row_bytes()) + i;
      }
    }
  }
  return -1;
}

TEST(TileSourceStub, TheSlideDescribesItsSourcesLevels) {
  Slide slide = make_stub_slide();
  ASSERT_EQ(slide.levels().size(), 3u);
  EXPECT_EQ(slide.format(), "stub");
  const auto specs = stub_specs();
  for (int i = 0; i < 3; ++i) {
    const Level& l = slide.level(i);
    EXPECT_EQ(l.index, i);
    EXPECT_EQ(l.width, specs[i].width);
    EXPECT_EQ(l.tile_height, specs[i].tile_height);
  }
  EXPECT_DOUBLE_EQ(slide.level(1).downsample, (70.0 / 35.0 + 100.0 / 50.0) / 2.0);
  // A tile in several ranges is no file location: tile_location says so rather than lie.
  EXPECT_THROW(slide.tile_location(0, 0, 0), Error);
  EXPECT_EQ(slide.tile_location(0, 1, 0).byte_count, 0u);  // missing
}

TEST(TileSourceStub, WholeLevelsEqualTheFormulaWithMissingTilesFilled) {
  Slide slide = make_stub_slide();
  for (int level = 0; level < 3; ++level) {
    for (uint8_t fill : {uint8_t{0}, uint8_t{200}}) {
      for (int threads : {1, 4}) {
        ReadOptions options;
        options.fill = fill;
        options.threads = threads;
        ReadReport report;
        const Level& l = slide.level(level);
        Image got = Image::allocate(l.width, l.height, 3, DataType::uint8);
        slide.read_level(level, got.view(), options, &report);
        Image want = stub_expected(level, 0, 0, l.width, l.height, fill);
        EXPECT_EQ(first_difference(got.view(), want.view()), -1)
            << "level " << level << " fill " << int(fill) << " threads " << threads;
        EXPECT_GT(report.file_bytes, 0u);
      }
    }
  }
}

TEST(TileSourceStub, RegionsAcrossTilesStripsAndTheLevelsEdgeEqualTheFormula) {
  Slide slide = make_stub_slide();
  struct Case {
    int level;
    int64_t x, y, w, h;
  };
  const Case cases[] = {
      {0, 30, 14, 40, 20},  // four tiles, one of them in three ranges
      {0, 33, 1, 20, 10},   // inside the missing tile (1, 0)
      {0, 90, 60, 30, 30},  // past the right and bottom edges
      {0, -5, -3, 12, 9},   // before the left and top edges
      {0, 96, 64, 4, 6},    // the last (edge) tile, in three ranges
      {1, 3, 5, 40, 20},    // strips 0..3, strip 2 missing
      {1, 0, 30, 50, 5},    // the short last strip, in three ranges
      {2, 5, 3, 15, 12},    // oversized stored tiles cropped to the grid
      {2, 20, 10, 10, 10},  // past the edge, the missing tile (2, 1)
  };
  for (const Case& c : cases) {
    ReadOptions options;
    options.fill = 77;
    Image got = slide.read_region(c.level, c.x, c.y, c.w, c.h, options);
    Image want = stub_expected(c.level, c.x, c.y, c.w, c.h, 77);
    EXPECT_EQ(first_difference(got.view(), want.view()), -1)
        << "level " << c.level << " region " << c.x << "," << c.y << " " << c.w << "x" << c.h;
  }
}

TEST(TileSourceStub, EveryTileEqualsItsStoredTileCroppedToTheGrid) {
  Slide slide = make_stub_slide();
  for (int level : {0, 2}) {  // tiled levels (a strip level's tiles are its strips)
    const Level& l = slide.level(level);
    for (int64_t row = 0; row < l.tiles_down; ++row) {
      for (int64_t col = 0; col < l.tiles_across; ++col) {
        ReadOptions options;
        options.fill = 9;
        Image got = slide.read_tile(level, col, row, options);
        Image want = stub_expected_tile(level, col, row, 9);
        EXPECT_EQ(first_difference(got.view(), want.view()), -1)
            << "level " << level << " tile " << col << "," << row;
      }
    }
  }
}

TEST(TileSourceStub, ManyThreadsReadingOneSlideAtOnceGetTheFormula) {
  Slide slide = make_stub_slide();
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      for (int i = 0; i < 60; ++i) {
        const int level = static_cast<int>(random() % 3);
        const Level& l = slide.level(level);
        const int64_t x = static_cast<int64_t>(random() % (l.width + 10)) - 5;
        const int64_t y = static_cast<int64_t>(random() % (l.height + 10)) - 5;
        const int64_t w = 1 + static_cast<int64_t>(random() % 40);
        const int64_t h = 1 + static_cast<int64_t>(random() % 40);
        ReadOptions options;
        options.threads = 1 + static_cast<int>(random() % 3);
        Image got = slide.read_region(level, x, y, w, h, options);
        Image want = stub_expected(level, x, y, w, h, 0);
        if (first_difference(got.view(), want.view()) != -1) ++failures[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(failures[static_cast<size_t>(t)], 0) << "thread " << t;
}

// The tiled pipeline reads through the same sources: its output equals the chain applied to the
// formula's whole level at once (missing tiles filled with 0, as the pipeline reads them).
TEST(TileSourceStub, TiledPipelineEqualsTheChainOnTheFormulasLevel) {
  Slide slide = make_stub_slide();
  const std::vector<ops::Op> chain = {ops::parse_op("sobel_u8")};
  for (int level : {0, 1, 2}) {
    const Level& l = slide.level(level);
    pipeline::Options options;
    options.mode = pipeline::Mode::tiled;
    options.device = Device::cpu;
    options.level = level;
    options.tile = 16;
    options.threads = 2;
    Image got = pipeline::process_to_image(slide, chain, options);

    Image input = stub_expected(level, 0, 0, l.width, l.height, 0);
    ops::PixelFormat format = ops::output_format(chain, ops::PixelFormat{3, DataType::uint8});
    Image want = Image::allocate(l.width, l.height, format.channels, format.dtype);
    ops::apply_chain(chain, input.view(), {0, 0}, want.view(), {0, 0}, {l.width, l.height});
    EXPECT_EQ(first_difference(got.view(), want.view()), -1) << "level " << level;
  }
}

TEST(TileSourceStub, TileBytesKeepEveryRangeInOrder) {
  source::TileBytes bytes;
  EXPECT_TRUE(bytes.missing());
  for (uint64_t i = 0; i < 5; ++i) bytes.add({100 * i, i + 1, static_cast<uint32_t>(i % 2)});
  ASSERT_EQ(bytes.ranges().size(), 5u);
  EXPECT_EQ(bytes.size(), 1u + 2 + 3 + 4 + 5);
  EXPECT_FALSE(bytes.single());
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(bytes.ranges()[i].offset, 100 * i);
    EXPECT_EQ(bytes.ranges()[i].store, i % 2);
  }
  source::TileBytes one({7, 3, 0});
  EXPECT_TRUE(one.single());
  EXPECT_EQ(one.front().offset, 7u);
}

TEST(TileSourceStub, MemoryStoreReadsPastItsEndAreErrorsNamingIt) {
  source::MemoryStore store(std::vector<std::byte>(10, std::byte{1}), "memory-x");
  std::vector<std::byte> buffer(4);
  EXPECT_NO_THROW(store.read_exact(buffer, 6));
  try {
    store.read_exact(buffer, 7);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::format);
    EXPECT_NE(std::string(e.what()).find("memory-x"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store.read_some(buffer, 8), 2u);
  EXPECT_EQ(store.read_some(buffer, 12), 0u);
}

}  // namespace
}  // namespace slidestream::test
