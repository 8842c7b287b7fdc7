// The GPU read path's grouping of uncompressed tiles into large page-aligned reads
// (src/read/cuda/range_plan.hpp), checked by brute force against its contract: every tile in
// exactly one range, every range aligned, covering its tiles, within the task size.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "read/cuda/range_plan.hpp"

namespace slidestream::read {
namespace {

void check_contract(const std::vector<uint64_t>& offsets, uint64_t tile_bytes,
                    const RangePlanLimits& limits, const std::vector<PlannedRange>& ranges) {
  std::vector<int> seen(offsets.size(), 0);
  for (const PlannedRange& r : ranges) {
    ASSERT_FALSE(r.tiles.empty());
    EXPECT_EQ(r.begin % limits.page, 0u);
    EXPECT_EQ(r.end % limits.page, 0u);
    EXPECT_LE(r.tiles.size(), limits.max_tiles);
    // Within the task size unless a single tile is larger than it.
    if (r.tiles.size() > 1) EXPECT_LE(r.end - r.begin, limits.task_bytes);
    for (size_t i : r.tiles) {
      ++seen[i];
      EXPECT_LE(r.begin, offsets[i]);
      EXPECT_GE(r.end, offsets[i] + tile_bytes);
    }
  }
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << "tile " << i;
}

TEST(RangePlan, ContiguousTilesBecomeTaskSizedReads) {
  const uint64_t tile = 512 * 512 * 3;  // 768 KiB, the benchmark slide's tiles
  std::vector<uint64_t> offsets;
  for (int i = 0; i < 100; ++i) offsets.push_back(16 + static_cast<uint64_t>(i) * tile);
  RangePlanLimits limits;
  auto ranges = plan_ranges(offsets, tile, limits);
  check_contract(offsets, tile, limits, ranges);
  // 8 MiB holds 10 such tiles (plus alignment): 100 tiles need 10 or 11 reads, not 100.
  EXPECT_GE(ranges.size(), 10u);
  EXPECT_LE(ranges.size(), 11u);
}

TEST(RangePlan, LargeGapsSplitAndSmallGapsDoNot) {
  RangePlanLimits limits;
  const uint64_t tile = 64 << 10;
  std::vector<uint64_t> offsets = {0, tile + 1000, 10 << 20, (10 << 20) + tile};
  auto ranges = plan_ranges(offsets, tile, limits);
  check_contract(offsets, tile, limits, ranges);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].tiles, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(ranges[1].tiles, (std::vector<size_t>{2, 3}));
}

TEST(RangePlan, RandomLayoutsKeepTheContract) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 200; ++round) {
    const uint64_t tile = 1 + rng() % (2 << 20);
    const size_t n = 1 + rng() % 300;
    std::vector<uint64_t> offsets(n);
    for (auto& o : offsets) o = rng() % (uint64_t{1} << 33);  // overlaps and duplicates too
    if (round % 3 == 0) {
      // A file written in order, sometimes with gaps, then shuffled tile indices.
      uint64_t at = rng() % 8192;
      for (auto& o : offsets) {
        o = at;
        at += tile + (rng() % 4 == 0 ? rng() % (1 << 20) : 0);
      }
      std::shuffle(offsets.begin(), offsets.end(), rng);
    }
    RangePlanLimits limits;
    limits.task_bytes = (1 + rng() % 16) << 20;
    limits.max_tiles = 1 + rng() % 64;
    SCOPED_TRACE(round);
    check_contract(offsets, tile, limits, plan_ranges(offsets, tile, limits));
  }
}

}  // namespace
}  // namespace slidestream::read
