// Vendor levels composed as OpenSlide 4.0.1 paints them (vendor/tilemap_compose.hpp), read as
// OpenSlide reads them (tests/fixtures/make_vendor_fixtures.py):
// - leica-off-grid.scn: three Leica SCN regions at odd level-0 offsets, truncated to whole
//   pixels on reduced levels; the first two overlap and share grid tiles; the third has 64 px
//   tiles and ends inside a tile;
// - ventana-overlap.bif: Ventana BIF tiles overlapping by 10 x 6 px, two areas, the second off
//   its origin's grid, placed between pixels on levels 1 and 2; ventana-overlap-uneven.bif:
//   joints of uneven overlaps whose mean (advances 117.6 x 121.67 px) puts every tile between
//   pixels at places no binary fraction gives exactly; ventana-mag-steps.bif: levels of
//   downsample 20 and 40 over 48 px tiles (subtiles of 2.4 and 1.2 px), composed, while its
//   levels of downsample 1 to 8 keep their stored tiles.
// Every level against OpenSlide's whole-level read is in test_vendor_openslide4.cpp; here:
// regions across the pieces' borders, their overlaps and the level's edges equal OpenSlide's
// read of the same region, and only the levels off the grid are composed (levels on it keep
// their stored tiles: the fast paths and GPU decoding).
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

std::filesystem::path vendor_fixture(const std::string& name) {
  return fixture_dir() / "vendors" / name;
}

// Regions chosen on leica-off-grid.scn's layout (level-0 regions at (589, 557), (1061, 857),
// both 512², and (151, 2301), 300 × 200; halved and truncated per level).
std::vector<Box> leica_regions() {
  return {
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
}

// Regions chosen on ventana-overlap.bif's layout (level 0: 128 px tiles 118 x 122 px apart; area
// 0 of 3 x 2 tiles at the origin, area 1 of 2 x 1 at (479, 280); level 1 places area 1 at
// x 239.5, level 2 advances 29.5 x 30.5 px).
std::vector<Box> ventana_regions() {
  return {
      {0, 100, 100, 60, 60},    // where four tiles overlap
      {0, 230, 0, 30, 260},     // down the joint of columns 1 and 2
      {0, 350, 240, 140, 60},   // area 0's bottom-right corner and the gap to area 1
      {0, 470, 270, 260, 140},  // all of area 1, past the level's edge
      {0, -5, -5, 20, 20},      // over the level's origin
      {1, 50, 55, 20, 20},      // where four tiles overlap at 1/2
      {1, 230, 130, 60, 40},    // area 1's left edge, between pixels
      {1, 170, 110, 20, 20},    // area 0's bottom-right corner at 1/2
      {2, 25, 25, 12, 12},      // overlaps between pixels at 1/4
      {2, 115, 60, 40, 30},     // area 1 at 1/4
      {2, 0, 0, 182, 102},      // the whole level
  };
}

// Regions of ventana-overlap-uneven.bif (the same layout, advances 117.6 x 121.67 px: every tile
// between pixels, at places that are no binary fractions).
std::vector<Box> ventana_uneven_regions() {
  return {
      {0, 100, 100, 60, 60},    // where four tiles overlap
      {0, 350, 240, 140, 60},   // area 0's bottom-right corner and the gap to area 1
      {0, 460, 230, 270, 180},  // all of area 1, past the level's edge
      {1, 50, 55, 20, 20},      // where four tiles overlap at 1/2
      {1, 0, 0, 362, 204},      // the whole level
  };
}

// `chosen`, and a dozen random regions per level (some over the level's edges).
std::vector<Box> regions_to_compare(const Slide& slide, std::vector<Box> chosen) {
  std::vector<Box> out = std::move(chosen);
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

struct Counts {
  size_t opaque = 0, partial = 0, transparent = 0;
};

// Each region read with two fills equals our whole-level read there (itself equal to
// OpenSlide's, with the fill where it draws nothing: test_vendor_openslide4.cpp) and OpenSlide's
// read of the region: its RGB where it draws (un-premultiplied where partly transparent, as the
// composition returns it), the fill or (inside a composed tile) 0 where it draws nothing.
Counts expect_regions_equal_openslide(const std::string& name, std::vector<Box> chosen) {
  const auto path = vendor_fixture(name);
  Slide slide = Slide::open(path);
  const auto boxes = regions_to_compare(slide, std::move(chosen));
  std::vector<std::string> specs;
  for (const Box& b : boxes) {
    specs.push_back(std::to_string(b.level) + "," + std::to_string(b.x) + "," +
                    std::to_string(b.y) + "," + std::to_string(b.w) + "," + std::to_string(b.h));
  }
  const auto dir = scratch_dir("composed_levels_regions_" + name);
  std::vector<std::string> args{path.string(), dir.string()};
  args.insert(args.end(), specs.begin(), specs.end());
  std::string log;
  Counts counts;
  EXPECT_EQ(run_python("openslide4_regions.py", args, &log), 0) << log;
  for (uint8_t fill : {uint8_t{0}, uint8_t{255}}) {
    ReadOptions options;
    options.fill = fill;
    std::vector<Image> levels;
    for (const Level& l : slide.levels()) levels.push_back(slide.read_level(l.index, options));
    for (size_t i = 0; i < boxes.size(); ++i) {
      const Box& b = boxes[i];
      SCOPED_TRACE(name + " region " + specs[i] + " fill " + std::to_string(fill));
      Image ours = slide.read_region(b.level, b.x, b.y, b.w, b.h, options);
      const auto* p = reinterpret_cast<const uint8_t*>(ours.data());
      const auto same_place = crop(levels[static_cast<size_t>(b.level)], b, fill);
      EXPECT_TRUE(std::equal(same_place.begin(), same_place.end(), p));
      const auto rgba = read_bytes(dir / ("region-" + std::to_string(i) + ".rgba"));
      if (rgba.size() != static_cast<size_t>(b.w * b.h * 4)) {
        ADD_FAILURE() << "OpenSlide's region has " << rgba.size() << " bytes";
        continue;
      }
      size_t differing = 0;
      for (size_t k = 0; k < rgba.size() / 4; ++k) {
        const uint8_t a = rgba[4 * k + 3];
        bool same = true;
        for (size_t c = 0; c < 3; ++c) {
          same = same && (a == 0 ? p[3 * k + c] == fill || p[3 * k + c] == 0
                                 : p[3 * k + c] == rgba[4 * k + c]);
        }
        differing += !same;
        (a == 255 ? counts.opaque : a == 0 ? counts.transparent : counts.partial) += 1;
      }
      EXPECT_EQ(differing, 0u);
    }
  }
  return counts;
}

TEST(ComposedLevels, LeicaRegionsAcrossRegionBordersAndOverlapsEqualOpenSlide) {
  const Counts n = expect_regions_equal_openslide("leica-off-grid.scn", leica_regions());
  EXPECT_GT(n.opaque, 200000u);
  EXPECT_GT(n.transparent, 100000u);
  EXPECT_EQ(n.partial, 0u);  // whole-pixel offsets: nothing between pixels
}

TEST(ComposedLevels, VentanaRegionsAcrossOverlapsAndAreasEqualOpenSlide) {
  const Counts n = expect_regions_equal_openslide("ventana-overlap.bif", ventana_regions());
  EXPECT_GT(n.opaque, 100000u);
  EXPECT_GT(n.transparent, 50000u);
  EXPECT_GT(n.partial, 100u);  // tiles placed between pixels on levels 1 and 2
}

// Off the grid: composed into 256² uncompressed tiles; on it: the stored JPEG tiles.
void expect_levels(const std::string& name, Compression compression, int64_t tile) {
  Slide slide = Slide::open(vendor_fixture(name));
  ASSERT_FALSE(slide.levels().empty());
  for (const Level& l : slide.levels()) {
    EXPECT_EQ(l.compression, compression) << name << " level " << l.index;
    EXPECT_EQ(l.tile_width, tile) << name << " level " << l.index;
  }
}

TEST(ComposedLevels, VentanaRegionsWithUnevenOverlapsEqualOpenSlide) {
  const Counts n =
      expect_regions_equal_openslide("ventana-overlap-uneven.bif", ventana_uneven_regions());
  EXPECT_GT(n.opaque, 100000u);
  EXPECT_GT(n.partial, 500u);  // every tile between pixels, on both levels
}

// Per level: the stored tiles where they serve it, composed where not.
TEST(ComposedLevels, ABifComposesOnlyTheLevelsWhoseDownsampleDoesNotDivideTheTile) {
  Slide slide = Slide::open(vendor_fixture("ventana-mag-steps.bif"));
  ASSERT_EQ(slide.levels().size(), 6u);
  for (const Level& l : slide.levels()) {
    const bool divides = 48 % static_cast<int64_t>(l.downsample) == 0;
    EXPECT_EQ(l.compression, divides ? Compression::jpeg : Compression::none) << l.index;
    EXPECT_EQ(l.tile_width, divides ? 48 : 256) << l.index;
  }
  EXPECT_EQ(slide.levels()[4].downsample, 20.0);
  EXPECT_EQ(slide.levels()[5].downsample, 40.0);
}

TEST(ComposedLevels, OnlyLevelsOffTheGridAreComposed) {
  expect_levels("leica-off-grid.scn", Compression::none, 256);
  expect_levels("leica-two-regions.scn", Compression::jpeg, 128);
  expect_levels("ventana-overlap.bif", Compression::none, 256);
  expect_levels("ventana-overlap-uneven.bif", Compression::none, 256);
  expect_levels("ventana-two-areas.bif", Compression::jpeg, 128);
  expect_levels("ventana-one-area.bif", Compression::jpeg, 256);
}

}  // namespace
}  // namespace slidestream::test
