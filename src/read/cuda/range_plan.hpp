// How the GPU read path groups uncompressed tiles into large reads: neighbouring tiles in file
// order become one page-aligned range (MiB-scale: one pread or cuFile call, one H2D copy, one
// placement kernel) as long as the gap between them is small and the range fits the staging
// buffer. Pure arithmetic, header-only, so that it is tested without a GPU.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace slidestream::read {

struct RangePlanLimits {
  uint64_t page = 4096;
  uint64_t task_bytes = 8 << 20;  // a range's aligned size stays within this (one tile may exceed)
  uint64_t max_gap = 256 << 10;   // unwanted bytes read to save a request
  size_t max_tiles = 2048;        // placement descriptors one staging buffer holds
};

struct PlannedRange {
  uint64_t begin = 0, end = 0;  // page-aligned file range covering every tile's bytes
  std::vector<size_t> tiles;    // indices into the extents given, in file order
};

// `offsets[i]` is where tile i's `tile_bytes` bytes start. Every tile lands in exactly one range.
inline std::vector<PlannedRange> plan_ranges(const std::vector<uint64_t>& offsets,
                                             uint64_t tile_bytes, const RangePlanLimits& limits) {
  auto down = [&](uint64_t v) { return v / limits.page * limits.page; };
  auto up = [&](uint64_t v) { return (v + limits.page - 1) / limits.page * limits.page; };
  std::vector<size_t> order(offsets.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return offsets[a] < offsets[b]; });
  std::vector<PlannedRange> ranges;
  PlannedRange current;
  uint64_t data_end = 0;  // end of the current range's tile bytes
  for (size_t i : order) {
    const uint64_t begin = offsets[i], end = offsets[i] + tile_bytes;
    // Overlapping tiles (a damaged or deduplicated file) start a new range: simpler than
    // reasoning about shared bytes, and rare.
    const bool joins =
        !current.tiles.empty() && begin >= data_end && begin - data_end <= limits.max_gap &&
        up(end) - current.begin <= limits.task_bytes && current.tiles.size() < limits.max_tiles;
    if (!joins && !current.tiles.empty()) {
      current.end = up(data_end);
      ranges.push_back(std::move(current));
      current = PlannedRange{};
    }
    if (current.tiles.empty()) {
      current.begin = down(begin);
      data_end = end;
    }
    current.tiles.push_back(i);
    data_end = std::max(data_end, end);
  }
  if (!current.tiles.empty()) {
    current.end = up(data_end);
    ranges.push_back(std::move(current));
  }
  return ranges;
}

}  // namespace slidestream::read
