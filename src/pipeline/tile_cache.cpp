#include "pipeline/tile_cache.hpp"

#include <algorithm>
#include <cstring>

#include "slidestream/error.hpp"

namespace slidestream::pipeline {

TileCache::TileCache(const Slide& slide, int level, uint64_t budget_bytes, ReadOptions options)
    : slide_(slide),
      level_(level),
      layout_(slide.level(level)),
      budget_(budget_bytes),
      options_(options) {
  options_.device = Device::cpu;
  tile_bytes_ = uint64_t{layout_.tile_width} * layout_.tile_height *
                static_cast<uint64_t>(layout_.channels) * size_of(layout_.dtype);
  if (layout_.tile_width == 0 || layout_.tile_height == 0) {
    throw Error(ErrorKind::unsupported, "the tile cache needs a tiled level");
  }
  // Enough spare buffers to cover evictions between two decodes, within the budget.
  pool_->max_free = static_cast<size_t>(std::clamp<uint64_t>(budget_ / tile_bytes_ / 8, 4, 64));
}

TileCache::TilePtr TileCache::acquire() {
  Image image;
  {
    std::lock_guard lock(pool_->mutex);
    if (!pool_->free.empty()) {
      image = std::move(pool_->free.back());
      pool_->free.pop_back();
    }
  }
  if (!image) {
    image =
        Image::allocate(layout_.tile_width, layout_.tile_height, layout_.channels, layout_.dtype);
  }
  std::weak_ptr<BufferPool> pool = pool_;
  return TilePtr(new Image(std::move(image)), [pool](const Image* p) {
    std::unique_ptr<Image> owned(const_cast<Image*>(p));
    if (auto alive = pool.lock()) {
      std::lock_guard lock(alive->mutex);
      if (alive->free.size() < alive->max_free) alive->free.push_back(std::move(*owned));
    }
  });
}

uint64_t TileCache::decodes() const {
  std::lock_guard lock(mutex_);
  return decodes_;
}

void TileCache::evict_locked() {
  // Oldest first; a tile still decoding is skipped (its decoder will insert its bytes).
  for (auto it = lru_.end(); cached_bytes_ > budget_ && it != lru_.begin();) {
    --it;
    auto entry = entries_.find(*it);
    if (!entry->second.ready) continue;
    cached_bytes_ -= tile_bytes_;
    entries_.erase(entry);
    it = lru_.erase(it);
  }
}

TileCache::TilePtr TileCache::get(int64_t tx, int64_t ty, uint64_t* file_bytes) {
  Key key{ty, tx};
  std::promise<TilePtr> promise;
  std::shared_future<TilePtr> decoding;  // another thread's decode of this tile, if any
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      decoding = it->second.tile;
    } else {
      lru_.push_front(key);
      Entry entry;
      entry.tile = promise.get_future().share();
      entry.lru = lru_.begin();
      entries_.emplace(key, std::move(entry));
      cached_bytes_ += tile_bytes_;
      ++decodes_;
    }
  }
  if (decoding.valid()) return decoding.get();  // outside the lock: the decoder must publish
  try {
    TilePtr tile = acquire();
    ReadReport report;
    slide_.read_tile(level_, tx, ty, tile->view(), options_, &report);
    if (file_bytes) *file_bytes += report.file_bytes;
    promise.set_value(tile);
    std::lock_guard lock(mutex_);
    if (io_path_.empty()) io_path_ = report.io_path;
    auto it = entries_.find(key);
    if (it != entries_.end()) it->second.ready = true;
    evict_locked();
    return tile;
  } catch (...) {
    // Waiting readers get the same error; the failed tile is not kept.
    promise.set_exception(std::current_exception());
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      lru_.erase(it->second.lru);
      entries_.erase(it);
      cached_bytes_ -= tile_bytes_;
    }
    throw;
  }
}

void TileCache::read(const Rect& window, const ImageView& out, uint64_t* file_bytes) {
  const int64_t tw = layout_.tile_width, th = layout_.tile_height;
  const size_t px = out.pixel_bytes();
  for (int64_t ty = window.y / th; ty * th < window.y + window.height; ++ty) {
    for (int64_t tx = window.x / tw; tx * tw < window.x + window.width; ++tx) {
      TilePtr tile = get(tx, ty, file_bytes);
      // The part of the tile inside the window, in level coordinates.
      int64_t x0 = std::max(window.x, tx * tw),
              x1 = std::min(window.x + window.width, (tx + 1) * tw);
      int64_t y0 = std::max(window.y, ty * th),
              y1 = std::min(window.y + window.height, (ty + 1) * th);
      const ImageView& src = tile->view();
      size_t bytes = static_cast<size_t>(x1 - x0) * px;
      for (int64_t y = y0; y < y1; ++y) {
        std::memcpy(out.row(y - window.y) + static_cast<size_t>(x0 - window.x) * px,
                    src.row(y - ty * th) + static_cast<size_t>(x0 - tx * tw) * px, bytes);
      }
    }
  }
}

}  // namespace slidestream::pipeline
