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
  TileCache::Stats s{hits_, misses_, evictions_, lru_.size(), used_};
  s.device_hits = device_hits_;
  s.device_misses = device_misses_;
  for (const auto& [device, d] : devices_) {
    s.device_entries += d.lru.size();
    s.device_used_bytes += d.lru.size() * d.slot_bytes;
  }
  return s;
}

void TileCache::Impl::clear() {
  std::lock_guard lock(mutex_);
  lru_.clear();
  index_.clear();
  used_ = 0;
  for (auto& [device, d] : devices_) {
    // Findable, unpinned slots go back to the free list; pinned ones belong to a batch.
    for (auto it = d.lru.begin(); it != d.lru.end();) {
      const int64_t slot = *it;
      if (d.pins[slot] > 0) {
        ++it;
        continue;
      }
      d.index.erase(*d.owner[slot]);
      d.owner[slot].reset();
      d.findable[slot] = 0;
      d.free.push_back(slot);
      it = d.lru.erase(it);
    }
  }
}

std::byte* TileCache::Impl::device_memory(int device, size_t slot_bytes, const Allocate& allocate) {
  std::lock_guard lock(mutex_);
  auto it = devices_.find(device);
  if (it == devices_.end()) {
    const size_t count = slot_bytes > 0 ? capacity / slot_bytes : 0;
    if (count == 0) return nullptr;
    DeviceSlots d;
    d.memory = allocate(count * slot_bytes);
    d.slot_bytes = slot_bytes;
    d.pins.assign(count, 0);
    d.owner.resize(count);
    d.findable.assign(count, 0);
    d.lru_at.resize(count);
    for (size_t i = count; i-- > 0;) d.free.push_back(static_cast<int64_t>(i));
    it = devices_.emplace(device, std::move(d)).first;
  }
  return it->second.slot_bytes == slot_bytes ? it->second.memory.get() : nullptr;
}

int64_t TileCache::Impl::take_device_slot(DeviceSlots& d) {
  if (!d.free.empty()) {
    const int64_t slot = d.free.back();
    d.free.pop_back();
    return slot;
  }
  for (auto it = d.lru.rbegin(); it != d.lru.rend(); ++it) {
    const int64_t slot = *it;
    if (d.pins[slot] > 0) continue;
    d.index.erase(*d.owner[slot]);
    d.owner[slot].reset();
    d.findable[slot] = 0;
    d.lru.erase(std::next(it).base());
    ++evictions_;
    return slot;
  }
  return -1;
}

TileCache::Impl::DeviceBatch TileCache::Impl::acquire_device(int device,
                                                             const std::vector<Key>& keys) {
  std::lock_guard lock(mutex_);
  DeviceBatch batch;
  batch.slot.assign(keys.size(), -1);
  batch.hit.assign(keys.size(), 0);
  auto it = devices_.find(device);
  if (it == devices_.end()) return batch;
  DeviceSlots& d = it->second;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (auto found = d.index.find(keys[i]); found != d.index.end()) {
      const int64_t slot = found->second;
      batch.slot[i] = slot;
      batch.hit[i] = 1;
      ++d.pins[slot];
      d.lru.splice(d.lru.begin(), d.lru, d.lru_at[slot]);
      ++device_hits_;
      continue;
    }
    ++device_misses_;
    const int64_t slot = take_device_slot(d);
    if (slot < 0) continue;
    batch.slot[i] = slot;
    d.owner[slot] = keys[i];
    ++d.pins[slot];
  }
  return batch;
}

void TileCache::Impl::commit_device(int device, const std::vector<Key>& keys,
                                    const DeviceBatch& batch) {
  std::lock_guard lock(mutex_);
  DeviceSlots& d = devices_.at(device);
  for (size_t i = 0; i < keys.size(); ++i) {
    const int64_t slot = batch.slot[i];
    if (slot < 0) continue;
    --d.pins[slot];
    if (batch.hit[i]) continue;
    if (d.index.count(keys[i]) != 0) {  // another batch put it first
      d.owner[slot].reset();
      if (d.pins[slot] == 0) d.free.push_back(slot);
      continue;
    }
    d.index.emplace(keys[i], slot);
    d.findable[slot] = 1;
    d.lru.push_front(slot);
    d.lru_at[slot] = d.lru.begin();
  }
}

void TileCache::Impl::release_device(int device, const DeviceBatch& batch) {
  std::lock_guard lock(mutex_);
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  DeviceSlots& d = it->second;
  for (size_t i = 0; i < batch.slot.size(); ++i) {
    const int64_t slot = batch.slot[i];
    if (slot < 0) continue;
    --d.pins[slot];
    if (!batch.hit[i]) {
      d.owner[slot].reset();
      d.free.push_back(slot);
    }
  }
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
