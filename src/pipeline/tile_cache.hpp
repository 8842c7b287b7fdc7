// Decoded slide tiles shared by the read stage's threads. A tile of the output needs a halo from
// its neighbours, and the slide decodes whole tiles: reading each window with read_region would
// decode every slide tile up to nine times (3 × 3 windows touch it). Here each slide tile is
// decoded once while it stays cached; windows are assembled from the cached tiles.
//
// Memory is bounded by a byte budget (least recently used tiles go first), never by the image;
// a tile still being copied from stays alive until its readers finish. Threads asking for a tile
// another thread is decoding wait for that decode instead of repeating it.
#pragma once

#include <cstdint>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/tiling.hpp"
#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::pipeline {

class TileCache {
 public:
  TileCache(const Slide& slide, int level, uint64_t budget_bytes, ReadOptions options);

  // Copies the level's pixels of `window` (inside the level) into `out` (a host view of
  // window.width × window.height). Adds the file bytes it read to *file_bytes.
  void read(const Rect& window, const ImageView& out, uint64_t* file_bytes);

  uint64_t decodes() const;  // slide tiles decoded so far (for tests and benchmarks)
  const std::string& io_path() const noexcept { return io_path_; }

 private:
  using Key = std::pair<int64_t, int64_t>;  // (ty, tx)
  using TilePtr = std::shared_ptr<const Image>;
  struct Entry {
    std::shared_future<TilePtr> tile;
    std::list<Key>::iterator lru;
    bool ready = false;
  };

  // Tile buffers are recycled: a tile's last reference (the cache's, a reader's or a waiting
  // future's) hands its buffer back here instead of freeing it, so that steady state allocates
  // nothing (a fresh multi-megabyte allocation per tile costs page faults on every tile).
  struct BufferPool {
    std::mutex mutex;
    std::vector<Image> free;
    size_t max_free = 0;
  };
  TilePtr acquire();

  TilePtr get(int64_t tx, int64_t ty, uint64_t* file_bytes);
  void evict_locked();

  const Slide& slide_;
  int level_;
  Level layout_;
  uint64_t budget_;
  uint64_t tile_bytes_;
  ReadOptions options_;
  mutable std::mutex mutex_;
  std::map<Key, Entry> entries_;
  std::list<Key> lru_;  // front: most recently used
  uint64_t cached_bytes_ = 0;
  uint64_t decodes_ = 0;
  std::string io_path_;
  std::shared_ptr<BufferPool> pool_ = std::make_shared<BufferPool>();
};

}  // namespace slidestream::pipeline
