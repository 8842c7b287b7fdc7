// A level OpenSlide paints from pieces that are not one tile grid (MIRAX camera images at their
// stored positions, Leica SCN regions off the tile grid, overlapping one another), served as a
// tile source all the same: a regular grid of kComposedTile² uncompressed RGB tiles whose bytes
// are composed on request. Reading tile t's bytes asks the level's TileComposer to paint it;
// a grid tile no piece touches is a missing tile (filled with ReadOptions::fill by readers),
// while pixels no piece covers inside a touched tile are whatever the composer leaves there
// (0: OpenSlide's transparent black). The readers, caches and GPU uploads then work as for any
// uncompressed level; the composition runs on the CPU threads that read the tiles.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "source/level_source.hpp"

namespace slidestream::vendor {

inline constexpr uint32_t kComposedTile = 256;
inline constexpr size_t kComposedTileBytes = size_t{kComposedTile} * kComposedTile * 3;

// Paints the grid tiles of one level; called from many threads at once.
class TileComposer {
 public:
  virtual ~TileComposer() = default;
  // Whether any piece touches grid tile t (row-major over the level's grid).
  virtual bool touches(size_t t) const = 0;
  // Grid tile t's kComposedTile² RGB pixels into `out` (kComposedTileBytes), every byte written.
  virtual void compose(size_t t, std::byte* out) const = 0;
};

// Grid tiles across (or down) a level `extent` pixels wide (or high).
inline int64_t composed_tiles(int64_t extent) {
  return (extent + kComposedTile - 1) / kComposedTile;
}

// The level's source; `name` (e.g. "MIRAX level 2 (composed from its camera images)") is its
// store's name in error messages.
std::shared_ptr<source::LevelSource> make_composed_level_source(
    int64_t width, int64_t height, std::shared_ptr<const TileComposer> composer, std::string name);

// Why the tiles of a stored level cannot be painted into composed tiles (they are not 8-bit RGB
// tiles of one plane that we decode); nullopt when they can.
std::optional<std::string> composing_problem(const source::LevelSource& level);

// Tile (col, row) of a stored level (8-bit RGB, one plane, tiles no larger than its grid),
// decoded to format().width × format().height RGB; null where the tile is missing. Errors name
// `where` (e.g. "Leica SCN level 1, region 2") and the tile; the read path adds the slide's path.
std::shared_ptr<const std::vector<std::byte>> decode_stored_tile(const source::LevelSource& level,
                                                                 int64_t col, int64_t row,
                                                                 const std::string& where);

// Decoded pieces by a 64-bit key, least recently used dropped first, at most `capacity_bytes`
// worth (and at least 8 pieces). Decoding happens outside the lock: two threads may decode the
// same piece once each, and both results are equal.
template <typename Pixels>
class DecodedCache {
 public:
  DecodedCache(size_t capacity_bytes, size_t piece_bytes)
      : capacity_(std::max<size_t>(8, capacity_bytes / std::max<size_t>(piece_bytes, 1))) {}

  std::shared_ptr<const Pixels> find(uint64_t key) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  void put(uint64_t key, std::shared_ptr<const Pixels> pixels) {
    std::lock_guard lock(mutex_);
    if (map_.contains(key)) return;
    lru_.emplace_front(key, std::move(pixels));
    map_[key] = lru_.begin();
    while (lru_.size() > capacity_) {
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

 private:
  size_t capacity_;
  std::mutex mutex_;
  std::list<std::pair<uint64_t, std::shared_ptr<const Pixels>>> lru_;
  std::unordered_map<uint64_t, typename decltype(lru_)::iterator> map_;
};

}  // namespace slidestream::vendor
