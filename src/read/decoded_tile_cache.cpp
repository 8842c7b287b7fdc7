// TileCache (slidestream/regions.hpp, read/decoded_tile_cache.hpp): one mutex around a list in
// recency order and a hash index into it. Lookups and inserts are short (no decoding or copying
// under the lock), so the lock is not where a batched read spends its time.
#include "read/decoded_tile_cache.hpp"

#include <functional>
#include <utility>

namespace slidestream {

size_t TileCache::Impl::KeyHash::operator()(const Key& k) const noexcept {
  size_t h = std::hash<const void*>{}(k.slide);
  auto mix = [&h](size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
  mix(std::hash<std::string>{}(k.path));
  mix(static_cast<size_t>(k.level));
  mix(static_cast<size_t>(k.device));
  mix(static_cast<size_t>(k.tx));
  mix(static_cast<size_t>(k.ty));
  return h;
}

TileCache::Impl::Tile TileCache::Impl::find(const Key& key) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->tile;
}

void TileCache::Impl::insert(const Key& key, Tile tile) {
  if (!tile) return;
  const size_t bytes = tile->size();
  if (bytes > capacity) return;
  std::lock_guard lock(mutex_);
  if (index_.count(key) != 0) return;
  while (used_ + bytes > capacity && !lru_.empty()) {
    used_ -= lru_.back().tile->size();
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++evictions_;
  }
  lru_.push_front(Entry{key, std::move(tile)});
  index_.emplace(key, lru_.begin());
  used_ += bytes;
}

TileCache::Stats TileCache::Impl::stats() const {
  std::lock_guard lock(mutex_);
  return TileCache::Stats{hits_, misses_, evictions_, lru_.size(), used_};
}

void TileCache::Impl::clear() {
  std::lock_guard lock(mutex_);
  lru_.clear();
  index_.clear();
  used_ = 0;
}

TileCache::TileCache(size_t capacity_bytes) : impl_(std::make_unique<Impl>(capacity_bytes)) {}
TileCache::~TileCache() = default;
size_t TileCache::capacity_bytes() const noexcept {
  return impl_->capacity;
}
TileCache::Stats TileCache::stats() const {
  return impl_->stats();
}
void TileCache::clear() {
  impl_->clear();
}

}  // namespace slidestream
