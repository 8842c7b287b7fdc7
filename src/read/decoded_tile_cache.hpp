// TileCache's inside (slidestream/regions.hpp): decoded tiles in host memory, keyed by slide,
// level, tile and device, least recently used first out, never above the byte cap. An entry is
// a shared buffer, so a reader that found a tile keeps it valid while another thread evicts it.
// A slide is known by its path and by the address of its opened state: a slide reopened at the
// same address from the same path reads the same tiles, so the key cannot serve a stale tile
// unless the file changed on disk while a Slide on it was closed and another opened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
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

  // GPU entries (read/cuda/gpu_batch_read.cpp): fixed-size slots in one device buffer per GPU,
  // `capacity` bytes of it, allocated by the GPU reader on first use (`allocate` returns the
  // memory with its deleter). A batch takes the slots of its tiles at once: a tile already
  // there is a hit; a missing one gets a free slot or the least recently used unpinned one (it
  // is not findable until commit_device); both stay pinned (never evicted) until
  // commit_device / release_device. A slot of -1 means none was free: that tile is not cached.
  struct DeviceBatch {
    std::vector<int64_t> slot;
    std::vector<uint8_t> hit;
  };
  using Allocate = std::function<std::shared_ptr<std::byte>(size_t bytes)>;
  // The device buffer for `device` (made with `allocate` if there is none) and its slot size;
  // nullptr when tiles of slot_bytes cannot go in it (a cache of another tile size, or too
  // small for one slot).
  std::byte* device_memory(int device, size_t slot_bytes, const Allocate& allocate);
  DeviceBatch acquire_device(int device, const std::vector<Key>& keys);
  // The batch's tiles are decoded: misses become findable (a key another batch put first
  // frees this slot instead), every slot unpinned.
  void commit_device(int device, const std::vector<Key>& keys, const DeviceBatch& batch);
  // The batch failed: its misses are dropped, every slot unpinned.
  void release_device(int device, const DeviceBatch& batch);

  const size_t capacity;

 private:
  struct DeviceSlots {
    std::shared_ptr<std::byte> memory;
    size_t slot_bytes = 0;
    std::vector<int32_t> pins;
    std::vector<std::optional<Key>> owner;  // the key a slot holds (findable or being filled)
    std::vector<uint8_t> findable;
    std::list<int64_t> lru;  // findable slots, most recent first
    std::vector<std::list<int64_t>::iterator> lru_at;
    std::vector<int64_t> free;
    std::unordered_map<Key, int64_t, KeyHash> index;
  };
  int64_t take_device_slot(DeviceSlots& d);
  std::unordered_map<int, DeviceSlots> devices_;
  uint64_t device_hits_ = 0, device_misses_ = 0;

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
