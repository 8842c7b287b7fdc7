// Leica SCN regions off the tile grid (tests/fixtures/make_vendor_fixtures.py, leica-off-grid.scn:
// three regions at odd level-0 offsets, truncated to whole pixels on reduced levels; the first
// two overlap and share grid tiles; the third has 64 px tiles and ends inside a tile) read as
// OpenSlide 4.0.1 reads them. Every level against OpenSlide's whole-level read is in
// test_vendor_openslide4.cpp; here: regions across the regions' borders, their overlap and the
// canvas edges equal OpenSlide's read of the same region, and only the levels off the grid are
// composed (levels on it keep their stored tiles: the fast paths and GPU decoding).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "slidestream/slide.hpp"
#include "vendor_reference.hpp"

namespace slidestream::test {
namespace {

struct Box {
  int level;
  int64_t x, y, w, h;  // in the level's pixels
};

std::filesystem::path leica_fixture(const std::string& name) {
  return fixture_dir() / "vendors" / name;
}

// Regions chosen on the fixture's layout (level-0 regions at (589, 557), (1061, 857), both
// 512², and (151, 2301), 300 × 200; halved and truncated per level), and random ones.
std::vector<Box> regions_to_compare(const Slide& slide) {
  std::vector<Box> out = {
      {0, 1040, 840, 100, 60},    // where region 0 (on top) overlaps region 1
      {0, 580, 550, 30, 30},      // region 0's top-left corner
      {0, 1090, 1060, 40, 320},   // region 0's bottom-right corner into region 1
      {0, 140, 2290, 330, 230},   // the whole 64 px-tiled region with a margin
      {0, 440, 2490, 20, 20},     // its bottom-right corner, inside a tile of its grid
      {0, 2000, 2500, 100, 100},  // over the canvas's corner
      {0, -10, -10, 50, 50},      // over the canvas's origin
      {1, 520, 420, 30, 30},      // the overlap's corner at 1/2
      {1, 290, 270, 270, 20},     // across region 0's top edge at 1/2
      {1, 70, 1145, 80, 40},      // the third region's corner at 1/2
      {2, 140, 100, 60, 60},      // the overlap at 1/4
      {2, 30, 570, 50, 20},       // the third region at 1/4
  };
  std::mt19937 random(17);
  for (const Level& l : slide.levels()) {
    for (int i = 0; i < 12; ++i) {
      const int64_t w = 1 + static_cast<int64_t>(random() % 300);
      const int64_t h = 1 + static_cast<int64_t>(random() % 300);
      const int64_t x = static_cast<int64_t>(random() % static_cast<uint64_t>(l.width)) - w / 2;
      const int64_t y = static_cast<int64_t>(random() % static_cast<uint64_t>(l.height)) - h / 2;
      out.push_back({l.index, x, y, w, h});
    }
  }
  return out;
}

// Pixels (x, y)…(x + w, y + h) of a whole-level read `level`; `fill` outside it.
std::vector<uint8_t> crop(const Image& level, const Box& b, uint8_t fill) {
  std::vector<uint8_t> out(static_cast<size_t>(b.w * b.h * 3), fill);
  const auto* p = reinterpret_cast<const uint8_t*>(level.data());
  for (int64_t y = 0; y < b.h; ++y) {
    for (int64_t x = 0; x < b.w; ++x) {
      const int64_t lx = b.x + x, ly = b.y + y;
      if (lx < 0 || ly < 0 || lx >= level.width() || ly >= level.height()) continue;
      const size_t from = static_cast<size_t>((ly * level.width() + lx) * 3);
      std::copy_n(p + from, 3, out.begin() + (y * b.w + x) * 3);
    }
  }
  return out;
}

TEST(LeicaOffGrid, RegionsAcrossRegionBordersAndOverlapsEqualOpenSlide) {
  const auto path = leica_fixture("leica-off-grid.scn");
  Slide slide = Slide::open(path);
  const auto boxes = regions_to_compare(slide);
  std::vector<std::string> specs;
  for (const Box& b : boxes) {
    specs.push_back(std::to_string(b.level) + "," + std::to_string(b.x) + "," +
                    std::to_string(b.y) + "," + std::to_string(b.w) + "," + std::to_string(b.h));
  }
  const auto dir = scratch_dir("leica_off_grid_regions");
  std::vector<std::string> args{path.string(), dir.string()};
  args.insert(args.end(), specs.begin(), specs.end());
  std::string log;
  ASSERT_EQ(run_python("openslide4_regions.py", args, &log), 0) << log;
  size_t opaque = 0, transparent = 0;
  for (uint8_t fill : {uint8_t{0}, uint8_t{255}}) {
    ReadOptions options;
    options.fill = fill;
    std::vector<Image> levels;
    for (const Level& l : slide.levels()) levels.push_back(slide.read_level(l.index, options));
    for (size_t i = 0; i < boxes.size(); ++i) {
      const Box& b = boxes[i];
      SCOPED_TRACE("region " + specs[i] + " fill " + std::to_string(fill));
      Image ours = slide.read_region(b.level, b.x, b.y, b.w, b.h, options);
      const auto* p = reinterpret_cast<const uint8_t*>(ours.data());
      // Ours: the same pixels as our whole-level read (itself equal to OpenSlide's, with the
      // fill where it draws nothing: test_vendor_openslide4.cpp).
      const auto same_place = crop(levels[static_cast<size_t>(b.level)], b, fill);
      ASSERT_TRUE(std::equal(same_place.begin(), same_place.end(), p));
      // OpenSlide's read of the region: opaque where it draws (the same RGB), else nothing
      // (transparent), where ours has the fill or, inside a composed tile, 0.
      const auto rgba = read_bytes(dir / ("region-" + std::to_string(i) + ".rgba"));
      ASSERT_EQ(rgba.size(), static_cast<size_t>(b.w * b.h * 4));
      size_t differing = 0;
      for (size_t k = 0; k < rgba.size() / 4; ++k) {
        const uint8_t a = rgba[4 * k + 3];
        bool same = a == 0 || a == 255;
        for (size_t c = 0; c < 3 && a == 255; ++c) same = same && p[3 * k + c] == rgba[4 * k + c];
        for (size_t c = 0; c < 3 && a == 0; ++c)
          same = same && (p[3 * k + c] == fill || p[3 * k + c] == 0);
        differing += !same;
        (a == 255 ? opaque : transparent) += 1;
      }
      EXPECT_EQ(differing, 0u);
    }
  }
  EXPECT_GT(opaque, 200000u);
  EXPECT_GT(transparent, 100000u);
}

TEST(LeicaOffGrid, OnlyLevelsOffTheGridAreComposed) {
  // Off the grid: composed into 256² uncompressed tiles.
  Slide off = Slide::open(leica_fixture("leica-off-grid.scn"));
  ASSERT_EQ(off.levels().size(), 3u);
  for (const Level& l : off.levels()) {
    EXPECT_EQ(l.compression, Compression::none) << "level " << l.index;
    EXPECT_EQ(l.tile_width, 256) << "level " << l.index;
  }
  // On the grid: the stored 128 px JPEG tiles, as one table.
  Slide on = Slide::open(leica_fixture("leica-two-regions.scn"));
  for (const Level& l : on.levels()) {
    EXPECT_EQ(l.compression, Compression::jpeg) << "level " << l.index;
    EXPECT_EQ(l.tile_width, 128) << "level " << l.index;
  }
}

}  // namespace
}  // namespace slidestream::test
