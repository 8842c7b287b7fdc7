// The pipeline's geometry and its staged executor, on their own: halo windows against a brute
// force over pixels, tile orders, and the executor's promises (every tile once, never more than
// `slots` tiles in flight, a slot never shared, the first error rethrown without a hang).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include "pipeline/engine.hpp"
#include "pipeline/tile_cache.hpp"
#include "pipeline/tiling.hpp"
#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::pipeline {
namespace {

// The bounding box of every image pixel within Chebyshev distance r of `area`, by visiting pixels.
Rect brute_force_needs(const Rect& area, int r, int64_t w, int64_t h) {
  int64_t x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      bool near = x >= area.x - r && x < area.x + area.width + r && y >= area.y - r &&
                  y < area.y + area.height + r;
      if (!near) continue;
      x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    }
  }
  return Rect{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

TEST(PipelineTiling, ChainWindowsHoldEveryPixelEachOpNeedsAndNothingOutsideTheImage) {
  std::mt19937 random(7);
  for (int trial = 0; trial < 200; ++trial) {
    int64_t w = 1 + random() % 60, h = 1 + random() % 60;
    int64_t tile = 1 + random() % 20;
    std::vector<int> radii;
    for (int n = random() % 4; n > 0; --n) radii.push_back(static_cast<int>(random() % 4));
    TileGrid grid(w, h, tile);
    int64_t i = random() % grid.count();
    Rect out = grid.rect(i);
    auto windows = chain_windows(out, radii, w, h);
    ASSERT_EQ(windows.size(), radii.size() + 1);
    EXPECT_EQ(windows.back(), out);
    for (size_t k = 0; k < radii.size(); ++k) {
      EXPECT_EQ(windows[k], brute_force_needs(windows[k + 1], radii[k], w, h))
          << "image " << w << "x" << h << " tile " << tile << " op " << k;
    }
  }
}

TEST(PipelineTiling, GridCoversTheImageExactlyOnceWithSmallerEdgeTiles) {
  for (auto [w, h, t] : {std::tuple{5003, 3001, 300}, {300, 250, 64}, {64, 64, 64}, {7, 3, 10}}) {
    TileGrid grid(w, h, t);
    int64_t area = 0;
    for (int64_t i = 0; i < grid.count(); ++i) {
      Rect r = grid.rect(i);
      ASSERT_GT(r.width, 0);
      ASSERT_LE(r.x + r.width, w);
      ASSERT_LE(r.y + r.height, h);
      area += r.width * r.height;
    }
    EXPECT_EQ(area, int64_t{w} * h);
  }
}

TEST(PipelineTiling, ZOrderVisitsEveryTileOnceAndCompletesAlignedBlocksTogether) {
  for (auto [across, down] : {std::pair{1, 1}, {5, 3}, {8, 8}, {13, 2}, {3, 17}}) {
    auto order = tile_order(across, down, true);
    std::set<int64_t> seen(order.begin(), order.end());
    ASSERT_EQ(order.size(), static_cast<size_t>(across * down));
    ASSERT_EQ(seen.size(), order.size());
    // The tiles of every aligned 2^k block appear as one contiguous run.
    for (int64_t block = 2; block <= 16; block *= 2) {
      std::vector<int64_t> first(static_cast<size_t>(across * down), -1), last = first;
      std::map<std::pair<int64_t, int64_t>, std::pair<size_t, size_t>> span;
      std::map<std::pair<int64_t, int64_t>, size_t> members;
      for (size_t pos = 0; pos < order.size(); ++pos) {
        auto key = std::pair{(order[pos] % across) / block, (order[pos] / across) / block};
        auto [it, inserted] = span.try_emplace(key, pos, pos);
        it->second.second = pos;
        ++members[key];
      }
      for (auto& [key, s] : span) EXPECT_EQ(s.second - s.first + 1, members[key]);
    }
  }
}

TEST(PipelineTiling, PyramidHalvesWithFloorUntilTheSmallerSideIsBelowTheTile) {
  auto sizes = pyramid_sizes(2220, 2967, 512, true);
  std::vector<std::pair<int64_t, int64_t>> expected{
      {2220, 2967}, {1110, 1483}, {555, 741}, {277, 370}};
  ASSERT_EQ(sizes.size(), expected.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(sizes[i].width, expected[i].first);
    EXPECT_EQ(sizes[i].height, expected[i].second);
  }
  EXPECT_EQ(pyramid_sizes(2220, 2967, 512, false).size(), 1u);
  EXPECT_EQ(pyramid_sizes(100, 100, 512, true).size(), 1u);
}

struct Recorder {
  std::mutex mutex;
  std::vector<int64_t> slot_tile;  // tile currently in each slot, -1 when free
  int in_flight = 0, max_in_flight = 0;
  std::vector<int> writes;
  bool slot_shared = false;
};

TEST(PipelineEngine, RunsEveryTileOnceWithinTheSlotBound) {
  for (int slots : {1, 2, 5}) {
    const int64_t n = 60;
    Recorder rec;
    rec.slot_tile.assign(static_cast<size_t>(slots), -1);
    rec.writes.assign(n, 0);
    std::vector<int64_t> tiles(n);
    for (int64_t i = 0; i < n; ++i) tiles[static_cast<size_t>(i)] = i;
    StageFunctions f;
    f.read = [&](int s, int64_t t) {
      std::lock_guard lock(rec.mutex);
      if (rec.slot_tile[static_cast<size_t>(s)] != -1) rec.slot_shared = true;
      rec.slot_tile[static_cast<size_t>(s)] = t;
      rec.max_in_flight = std::max(rec.max_in_flight, ++rec.in_flight);
    };
    f.compute = [&](int, int64_t t) {
      std::this_thread::sleep_for(std::chrono::microseconds(100 * (t % 3)));
    };
    f.write = [&](int s, int64_t t) {
      std::lock_guard lock(rec.mutex);
      EXPECT_EQ(rec.slot_tile[static_cast<size_t>(s)], t);
      rec.slot_tile[static_cast<size_t>(s)] = -1;
      --rec.in_flight;
      ++rec.writes[static_cast<size_t>(t)];
    };
    int64_t last_done = 0;
    f.on_done = [&](int64_t, int64_t done) {
      EXPECT_EQ(done, last_done + 1);
      last_done = done;
    };
    run_stages(tiles, StageThreads{.slots = slots, .read = 3, .compute = 2, .write = 2}, f);
    EXPECT_EQ(last_done, n);
    EXPECT_FALSE(rec.slot_shared);
    EXPECT_LE(rec.max_in_flight, slots);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(rec.writes[static_cast<size_t>(i)], 1) << i;
  }
}

TEST(PipelineEngine, FirstErrorCancelsTheRestAndIsRethrownWithStageAndTile) {
  for (const char* failing : {"read", "compute", "write"}) {
    std::atomic<int> writes{0}, reads{0};
    std::vector<int64_t> tiles(1000);
    for (int64_t i = 0; i < 1000; ++i) tiles[static_cast<size_t>(i)] = i;
    // Every other tile of the failing stage takes a millisecond, so that the cancellation bound
    // below holds unless the failing thread stalls for a quarter of a second (a loaded 2-core
    // machine stalled it for a few milliseconds: 190 tiles of microseconds went by).
    auto maybe_fail = [&](const char* stage, int64_t t) {
      if (std::string(stage) != failing) return;
      if (t == 7) throw Error(ErrorKind::corrupt, "bad bytes", ErrorContext{.offset = 1234});
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    StageFunctions f;
    f.read = [&](int, int64_t t) {
      ++reads;
      maybe_fail("read", t);
    };
    f.compute = [&](int, int64_t t) { maybe_fail("compute", t); };
    f.write = [&](int, int64_t t) {
      maybe_fail("write", t);
      ++writes;
    };
    try {
      run_stages(tiles, StageThreads{.slots = 4, .read = 2, .compute = 2, .write = 2}, f);
      ADD_FAILURE() << "no exception for a failing " << failing;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::corrupt);
      EXPECT_NE(e.cause().find("output tile 7"), std::string::npos) << e.what();
      EXPECT_NE(e.cause().find("bad bytes"), std::string::npos) << e.what();
      EXPECT_EQ(e.context().offset, 1234);
    }
    // Cancellation: far fewer than all tiles were started after the failure.
    EXPECT_LT(reads.load(), 500) << failing;
    EXPECT_LT(writes.load(), 500) << failing;
  }
}

TEST(PipelineEngine, ForeignExceptionsBecomeErrors) {
  StageFunctions f;
  f.compute = [](int, int64_t) { throw std::runtime_error("kernel exploded"); };
  try {
    run_stages({0, 1, 2}, StageThreads{}, f);
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kernel exploded"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("processing"), std::string::npos);
  }
}

}  // namespace
}  // namespace slidestream::pipeline

namespace slidestream::pipeline {
namespace {

// Windows assembled from cached tiles equal read_region of the same windows, and with room for
// all slide tiles, windows with a halo decode each slide tile exactly once (and with room for
// one, correctly but more than once).
TEST(PipelineTileCache, WindowsEqualReadRegionAndEachTileDecodesOnce) {
  Slide slide =
      Slide::open(std::filesystem::path(SLIDESTREAM_SHARED_TESTDATA) / "cmu-1-small-region.svs");
  const Level& level = slide.level(0);
  for (uint64_t budget : {uint64_t{1} << 30, uint64_t{1}}) {
    TileCache cache(slide, 0, budget, ReadOptions{});
    TileGrid grid(level.width, level.height, 300);
    uint64_t file_bytes = 0;
    for (int64_t i = 0; i < grid.count(); ++i) {
      Rect w = chain_windows(grid.rect(i), {1, 1}, level.width, level.height)[0];
      Image mine = Image::allocate(w.width, w.height, level.channels, level.dtype);
      cache.read(w, mine.view(), &file_bytes);
      Image theirs = slide.read_region(0, w.x, w.y, w.width, w.height);
      ASSERT_EQ(std::memcmp(mine.data(), theirs.data(), mine.size_bytes()), 0) << "window " << i;
    }
    if (budget > 1) {
      EXPECT_EQ(cache.decodes(), static_cast<uint64_t>(level.tiles_across * level.tiles_down));
    } else {
      EXPECT_GT(cache.decodes(), static_cast<uint64_t>(level.tiles_across * level.tiles_down));
    }
  }
}

TEST(PipelineTileCache, ConcurrentReadersShareDecodesAndSeeErrors) {
  Slide slide =
      Slide::open(std::filesystem::path(SLIDESTREAM_SHARED_TESTDATA) / "cmu-1-small-region.svs");
  const Level& level = slide.level(0);
  TileCache cache(slide, 0, uint64_t{1} << 30, ReadOptions{});
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  Image whole = slide.read_level(0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t y = 0; y + 500 <= level.height; y += 431 + t) {
        Rect w{17 * t, y, 700, 500};
        Image mine = Image::allocate(w.width, w.height, level.channels, level.dtype);
        uint64_t bytes = 0;
        cache.read(w, mine.view(), &bytes);
        ImageView ref = whole.view().crop(w.x, w.y, w.width, w.height);
        for (int64_t r = 0; r < w.height; ++r) {
          if (std::memcmp(mine.view().row(r), ref.row(r), ref.row_bytes()) != 0) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  // A broken slide: the error reaches the caller.
  Slide broken = Slide::open(std::filesystem::path(SLIDESTREAM_SHARED_TESTDATA) / "unreadable.svs");
  TileCache bad(broken, 0, uint64_t{1} << 20, ReadOptions{});
  Image out = Image::allocate(4, 4, broken.level(0).channels, broken.level(0).dtype);
  EXPECT_THROW(bad.read(Rect{0, 0, 4, 4}, out.view(), nullptr), Error);
  EXPECT_THROW(bad.read(Rect{0, 0, 4, 4}, out.view(), nullptr), Error);
}

}  // namespace
}  // namespace slidestream::pipeline
