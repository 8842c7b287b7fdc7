// TileCache's inside (slidestream/regions.hpp): decoded tiles in host memory, keyed by slide,
// level, tile and device, least recently used first out, never above the byte cap. An entry is
// a shared buffer, so a reader that found a tile keeps it valid while another thread evicts it.
// A slide is known by its path and by the address of its opened state: a slide reopened at the
// same address from the same path reads the same tiles, so the key cannot serve a stale tile
// unless the file changed on disk while a Slide on it was closed and another opened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "slidestream/regions.hpp"

namespace slidestream {

struct TileCache::Impl {
  struct Key {
    const void* slide = nullptr;
    std::string path;
    int level = 0;
    int device = -1;  // -1: host memory; N: cuda:N
    int64_t tx = 0, ty = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  using Tile = std::shared_ptr<const std::vector<std::byte>>;

  explicit Impl(size_t capacity) : capacity(capacity) {}

  // The tile, marked most recently used; null (a miss) when absent.
  Tile find(const Key& key);
  // Keeps `tile` unless it alone is larger than the cap; evicts the least recently used tiles
  // until it fits. A tile already there stays (another thread decoded it first).
  void insert(const Key& key, Tile tile);
  TileCache::Stats stats() const;
  void clear();

  const size_t capacity;

 private:
  struct Entry {
    Key key;
    Tile tile;
  };
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
  size_t used_ = 0;
  uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
};

}  // namespace slidestream
