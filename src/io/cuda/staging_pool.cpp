#include "io/cuda/staging_pool.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "slidestream/settings.hpp"

namespace slidestream::io::cuda {
namespace {

// Idle slots kept for reuse, per GPU; more are freed when returned. 64 × 8 MiB (+ device twins)
// covers two slots for each of 32 threads at the default task size.
// (Settings::staging_idle_slots, read when a slot is handed out: returning one cannot throw.)

struct Pool {
  std::mutex mutex;
  std::map<int, std::vector<StagingSlot*>> idle;  // by CUDA device: a slot serves its GPU only
  size_t max_idle = 0;                            // per device
};

// Deliberately never destroyed: freeing pinned and device memory from a static destructor runs
// after the CUDA runtime has begun tearing down, which fails or crashes. The OS reclaims it.
Pool& pool() {
  static Pool* instance = new Pool;
  return *instance;
}

}  // namespace

StagingSlot::StagingSlot(int device_, size_t capacity_)
    : device(device_),
      capacity(capacity_),
      host(capacity_ + kDescriptorBytes),
      staging(device_, capacity_ + kDescriptorBytes) {}

void StagingSlot::wait_idle() {
  if (busy) {
    idle.synchronize();
    busy = false;
  }
}

void SlotReturn::operator()(StagingSlot* slot) const noexcept {
  if (slot == nullptr) return;
  if (slot->busy) {
    // A lease ended early (an error unwinding): wait, ignoring errors, so no copy still reads it.
    (void)cudaEventSynchronize(slot->idle.get());
    slot->busy = false;
  }
  Pool& p = pool();
  std::lock_guard lock(p.mutex);
  std::vector<StagingSlot*>& idle = p.idle[slot->device];
  if (idle.size() < p.max_idle) {
    idle.push_back(slot);
    return;
  }
  delete slot;
}

SlotLease acquire_slot(int device, size_t capacity) {
  Pool& p = pool();
  const auto max_idle = static_cast<size_t>(settings().staging_idle_slots);
  {
    std::lock_guard lock(p.mutex);
    p.max_idle = max_idle;
    // The smallest idle slot that fits, so big slots stay for big requests.
    std::vector<StagingSlot*>& idle = p.idle[device];
    auto best = idle.end();
    for (auto it = idle.begin(); it != idle.end(); ++it) {
      if ((*it)->capacity >= capacity &&
          (best == idle.end() || (*it)->capacity < (*best)->capacity)) {
        best = it;
      }
    }
    if (best != idle.end()) {
      StagingSlot* slot = *best;
      idle.erase(best);
      return SlotLease(slot);
    }
  }
  // Round up to 1 MiB so that slightly different requests share slots.
  size_t rounded = (capacity + (1u << 20) - 1) / (1u << 20) * (1u << 20);
  return SlotLease(new StagingSlot(device, rounded));
}

}  // namespace slidestream::io::cuda
