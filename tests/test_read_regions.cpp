// Batched region reads (slidestream/regions.hpp): every region of a batch equals OpenSlide's
// read_region at that level-0 location (random, at the edges, partly and wholly outside), and
// Slide::read_region one by one on every kind of level (JPEG, deflate, planar, LZW, strips of
// associated-free levels, non-integer downsamples); each tile is planned once; a TileCache
// changes no pixel and stays under its cap; a damaged tile fails the batch naming the slide,
// the level and the tile.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "read/decoded_tile_cache.hpp"
#include "read/region_batch.hpp"
#include "slidestream/error.hpp"
#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"
#include "support/stub_slide.hpp"
#include "test_read_util.hpp"

namespace slidestream::test {
namespace {

std::vector<uint8_t> bytes_of(const Image& image) {
  const auto* b = reinterpret_cast<const uint8_t*>(image.data());
  return {b, b + image.size_bytes()};
}

// Region i of a batch image (regions stacked vertically).
std::vector<uint8_t> region_of(const Image& batch, size_t i, int64_t height) {
  const size_t bytes = batch.view().row_bytes() * static_cast<size_t>(height);
  const auto* b = reinterpret_cast<const uint8_t*>(batch.data()) + i * bytes;
  return {b, b + bytes};
}

// OpenSlide's RGB of a w × h region of level 0 at (x, y); transparent (0) outside.
std::vector<uint8_t> openslide_rgb(openslide_t* osr, int64_t x, int64_t y, int64_t w, int64_t h) {
  std::vector<uint32_t> argb(static_cast<size_t>(w * h));
  openslide_read_region(osr, argb.data(), x, y, 0, w, h);
  EXPECT_EQ(openslide_get_error(osr), nullptr);
  std::vector<uint8_t> rgb;
  rgb.reserve(argb.size() * 3);
  for (uint32_t v : argb) {
    rgb.push_back(static_cast<uint8_t>(v >> 16));
    rgb.push_back(static_cast<uint8_t>(v >> 8));
    rgb.push_back(static_cast<uint8_t>(v));
  }
  return rgb;
}

// Random locations over the level (in level-0 pixels), plus corners, edges and outside.
std::vector<RegionLocation> locations_for(const Slide& slide, int level, int64_t size, int n,
                                          unsigned seed) {
  const Level& l0 = slide.level(0);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> x(-size, l0.width), y(-size, l0.height);
  std::vector<RegionLocation> out;
  for (int i = 0; i < n; ++i) out.push_back({x(rng), y(rng)});
  const int64_t ds = static_cast<int64_t>(slide.level(level).downsample);
  out.push_back({0, 0});
  out.push_back({l0.width - size * ds / 2, l0.height - size * ds / 2});  // partly outside
  out.push_back({-size * ds / 3, 17});
  out.push_back({l0.width + 5, l0.height + 5});  // wholly outside
  out.push_back(out.front());                    // the same region twice
  return out;
}

TEST(ReadRegions, EveryRegionEqualsOpenSlideReadRegionAtLevelZero) {
  const auto path = shared_testdata() / "cmu-1-small-region.svs";
  Slide slide = Slide::open(path);
  openslide_t* osr = openslide_open(path.c_str());
  ASSERT_NE(osr, nullptr);
  const int64_t size = 256;
  const auto locations = locations_for(slide, 0, size, 60, 7);
  for (int threads : {1, 0}) {
    ReadOptions options;
    options.threads = threads;
    Image batch = read_regions(slide, 0, locations, size, size, options);
    ASSERT_EQ(batch.height(), static_cast<int64_t>(locations.size()) * size);
    for (size_t i = 0; i < locations.size(); ++i) {
      EXPECT_TRUE(region_of(batch, i, size) ==
                  openslide_rgb(osr, locations[i].x, locations[i].y, size, size))
          << "region " << i << " at (" << locations[i].x << ", " << locations[i].y << "), threads "
          << threads;
    }
  }
  openslide_close(osr);
}

TEST(ReadRegions, BatchEqualsReadRegionOneByOneOnEveryKindOfLevel) {
  const std::vector<std::pair<std::filesystem::path, int>> cases = {
      {shared_testdata() / "cmu-1-small-region.svs", 0},
      {fixture("vips-jpeg90-256.tif"), 1},  // a non-integer downsample
      {fixture("vips-deflate-128.tif"), 0},
      {fixture("tf-planar-deflate-256.tif"), 0},
      {fixture("vips-lzw-512.tif"), 1},
      {fixture("tf-grey16-zstd-256.tif"), 0},
      {fixture("vips-none-256.tif"), 0},
  };
  for (const auto& [path, level] : cases) {
    SCOPED_TRACE(path.filename().string() + " level " + std::to_string(level));
    Slide slide = Slide::open(path);
    const Level& l = slide.level(level);
    for (const auto& [w, h] : std::vector<std::pair<int64_t, int64_t>>{{100, 70}, {1, 1}}) {
      const auto locations = locations_for(slide, level, w, 40, 11);
      ReadOptions options;
      options.fill = 7;
      Image batch = read_regions(slide, level, locations, w, h, options);
      for (size_t i = 0; i < locations.size(); ++i) {
        const int64_t x = level_coordinate(locations[i].x, l.downsample);
        const int64_t y = level_coordinate(locations[i].y, l.downsample);
        Image one = slide.read_region(level, x, y, w, h, options);
        EXPECT_TRUE(region_of(batch, i, h) == bytes_of(one))
            << "region " << i << " " << w << "x" << h << " at level (" << x << ", " << y << ")";
      }
    }
  }
}

// The stub slide (tests/support/stub_slide.hpp): missing tiles, tiles in three ranges over two
// stores, a level in strips, a level whose stored tiles are larger than the grid. Every region
// equals the formula, with the fill in missing tiles and outside, with and without a cache.
TEST(ReadRegions, StubSlideRegionsEqualTheFormulaOnEveryKindOfSource) {
  Slide slide = make_stub_slide();
  for (int level = 0; level < 3; ++level) {
    const Level& l = slide.level(level);
    std::vector<RegionLocation> locations;
    std::mt19937 rng(static_cast<unsigned>(level));
    for (int i = 0; i < 40; ++i) {
      const int64_t x = static_cast<int64_t>(rng() % (l.width + 20)) - 10;
      const int64_t y = static_cast<int64_t>(rng() % (l.height + 20)) - 10;
      // Level-0 corners that map back to exactly (x, y) of this level.
      locations.push_back({static_cast<int64_t>(std::llround(x * l.downsample)),
                           static_cast<int64_t>(std::llround(y * l.downsample))});
    }
    TileCache cache(1 << 20);
    for (TileCache* c : {static_cast<TileCache*>(nullptr), &cache, &cache}) {
      ReadOptions options;
      options.fill = 5;
      const Image batch = read_regions(slide, level, locations, 13, 9, options, c);
      for (size_t i = 0; i < locations.size(); ++i) {
        const int64_t x = level_coordinate(locations[i].x, l.downsample);
        const int64_t y = level_coordinate(locations[i].y, l.downsample);
        const Image expected = stub_expected(level, x, y, 13, 9, 5);
        EXPECT_TRUE(region_of(batch, i, 9) == bytes_of(expected))
            << "level " << level << " region " << i << " at (" << x << ", " << y << ")"
            << (c ? " cached" : "");
      }
    }
  }
}

TEST(ReadRegions, PlanDecodesEachTileOnceAndCoversEveryRegion) {
  Slide slide = Slide::open(shared_testdata() / "cmu-1-small-region.svs");
  const Level& l = slide.level(0);
  const auto locations = locations_for(slide, 0, 256, 200, 3);
  const read::BatchPlan plan = read::plan_batch(l, locations, 256, 256);
  std::set<std::pair<int64_t, int64_t>> seen;
  std::vector<int64_t> area(locations.size());
  for (const read::BatchTile& t : plan.tiles) {
    EXPECT_TRUE(seen.insert({t.tx, t.ty}).second) << "tile planned twice";
    for (uint32_t k = 0; k < t.piece_count; ++k) {
      const read::BatchPiece& p = plan.pieces[t.first_piece + k];
      area[p.region] += int64_t{p.width} * p.height;
    }
  }
  for (size_t i = 0; i < locations.size(); ++i) {
    const int64_t x0 = std::clamp<int64_t>(plan.x[i], 0, l.width);
    const int64_t x1 = std::clamp<int64_t>(plan.x[i] + 256, 0, l.width);
    const int64_t y0 = std::clamp<int64_t>(plan.y[i], 0, l.height);
    const int64_t y1 = std::clamp<int64_t>(plan.y[i] + 256, 0, l.height);
    EXPECT_EQ(area[i], std::max<int64_t>(0, x1 - x0) * std::max<int64_t>(0, y1 - y0)) << i;
  }
}

TEST(ReadRegions, LevelCoordinateIsOpenSlidesDivision) {
  EXPECT_EQ(level_coordinate(1000, 4.0), 250);
  EXPECT_EQ(level_coordinate(1001, 4.0), 250);
  EXPECT_EQ(level_coordinate(-1, 4.0), -1);
  EXPECT_EQ(level_coordinate(3, 3.0000000001), 1);  // within 1e-6 of an integer
  EXPECT_EQ(level_coordinate(7, 1.0), 7);
}

TEST(ReadRegions, CacheChangesNoPixelAndStaysUnderItsCap) {
  Slide slide = Slide::open(shared_testdata() / "cmu-1-small-region.svs");
  const auto locations = locations_for(slide, 0, 256, 80, 5);
  const Image plain = read_regions(slide, 0, locations, 256, 256);
  const size_t tile_bytes = 240 * 240 * 3;
  for (size_t cap : {size_t{0}, tile_bytes * 5 + 100, size_t{64} << 20}) {
    SCOPED_TRACE("cap " + std::to_string(cap));
    TileCache cache(cap);
    for (int round = 0; round < 2; ++round) {
      Image cached = read_regions(slide, 0, locations, 256, 256, {}, &cache);
      EXPECT_TRUE(bytes_of(cached) == bytes_of(plain)) << "round " << round;
      const TileCache::Stats s = cache.stats();
      EXPECT_LE(s.used_bytes, cap);
      EXPECT_EQ(s.used_bytes, s.entries * tile_bytes);
    }
    const TileCache::Stats s = cache.stats();
    if (cap >= (size_t{64} << 20)) {
      EXPECT_GT(s.hits, 0u);  // the second round found every tile
      EXPECT_EQ(s.evictions, 0u);
    } else if (cap > 0) {
      EXPECT_GT(s.evictions, 0u);
      EXPECT_LE(s.entries, 5u);
    } else {
      EXPECT_EQ(s.entries, 0u);
    }
  }
}

// The GPU cache's slot bookkeeping, with host memory standing in for the device buffer: hits
// after a commit, never more slots than the cap holds, least recently used unpinned slots
// evicted first, pinned ones never, a failed batch's misses dropped.
TEST(ReadRegions, DeviceCacheSlotsHitEvictAndPinAsTheyShould) {
  TileCache cache(1000);  // 10 slots of 100 bytes
  TileCache::Impl& c = cache.impl();
  auto host_memory = [](size_t bytes) {
    return std::shared_ptr<std::byte>(new std::byte[bytes], std::default_delete<std::byte[]>());
  };
  ASSERT_NE(c.device_memory(0, 100, host_memory), nullptr);
  EXPECT_EQ(c.device_memory(0, 200, host_memory), nullptr);  // another tile size: not cached
  auto keys = [](int64_t first, int64_t n) {
    std::vector<TileCache::Impl::Key> k;
    for (int64_t i = first; i < first + n; ++i) k.push_back({nullptr, "s", 0, 0, i, 0});
    return k;
  };
  const auto a = keys(0, 6);
  auto batch = c.acquire_device(0, a);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_GE(batch.slot[i], 0);
    EXPECT_FALSE(batch.hit[i]);
  }
  // While `a` is pinned, a batch of 6 more finds only the 4 free slots.
  const auto b = keys(6, 6);
  auto pinned = c.acquire_device(0, b);
  EXPECT_EQ(std::count(pinned.slot.begin(), pinned.slot.end(), -1), 2);
  c.release_device(0, pinned);
  c.commit_device(0, a, batch);
  auto again = c.acquire_device(0, a);
  EXPECT_EQ(std::count(again.hit.begin(), again.hit.end(), 1), 6);
  EXPECT_TRUE(again.slot == batch.slot);
  c.commit_device(0, a, again);
  // 8 new tiles: 4 free slots, then the 4 least recently used of `a` (all unpinned) evicted.
  const auto d = keys(20, 8);
  auto more = c.acquire_device(0, d);
  EXPECT_EQ(std::count(more.slot.begin(), more.slot.end(), -1), 0);
  c.commit_device(0, d, more);
  const TileCache::Stats s = cache.stats();
  EXPECT_EQ(s.device_entries, 10u);
  EXPECT_LE(s.device_used_bytes, 1000u);
  // a[0..3] were evicted, a[4] and a[5] (the most recently used of `a`) stay.
  const std::vector<TileCache::Impl::Key> kept = {a[4], a[5], a[0]};
  auto after = c.acquire_device(0, kept);
  EXPECT_TRUE(after.hit == std::vector<uint8_t>({1, 1, 0}));
  c.release_device(0, after);
}

TEST(ReadRegions, DamagedTileFailsTheBatchNamingSlideLevelAndTile) {
  const auto dir = scratch_dir("ReadRegionsDamagedTile");
  const auto path = dir / "damaged.tif";
  std::filesystem::copy_file(fixture("vips-jpeg90-256.tif"), path);
  const int64_t tx = 1, ty = 1;
  int64_t tile_index = 0;
  {
    Slide slide = Slide::open(path);
    const TileLocation where = slide.tile_location(0, tx, ty);
    tile_index = ty * slide.level(0).tiles_across + tx;
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    std::vector<char> junk(64, static_cast<char>(0xFF));
    f.seekp(static_cast<std::streamoff>(where.offset + where.byte_count / 2));
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  Slide slide = Slide::open(path);
  const std::vector<RegionLocation> locations = {{0, 0}, {300, 300}, {10, 600}};
  try {
    read_regions(slide, 0, locations, 256, 256);
    FAIL() << "the damaged tile was not reported";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::corrupt) << e.what();
    EXPECT_EQ(e.context().file, path.string()) << e.what();
    EXPECT_EQ(e.context().level, 0) << e.what();
    EXPECT_EQ(e.context().tile, tile_index) << e.what();
    EXPECT_NE(std::string(e.what()).find("tile " + std::to_string(tile_index)), std::string::npos)
        << e.what();
  }
}

TEST(ReadRegions, BadArgumentsAreClearErrors) {
  Slide slide = Slide::open(shared_testdata() / "cmu-1-small-region.svs");
  const std::vector<RegionLocation> one = {{0, 0}};
  EXPECT_THROW(read_regions(slide, 9, one, 8, 8), Error);
  EXPECT_THROW(read_regions(slide, 0, one, -1, 8), Error);
  Image small = Image::allocate(8, 4, 3, DataType::uint8);
  try {
    read_regions(slide, 0, one, 8, 8, small.view());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("smaller"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_regions(slide, 0, std::vector<RegionLocation>{}, 8, 8).height(), 0);
}

}  // namespace
}  // namespace slidestream::test
