// Parallel loops for the Zarr writer and reader. Errors stay on the thread that raised them: the
// first one is copied (as an Error) under a lock, the remaining items are skipped, and the copy is
// thrown on the calling thread. No exception object is shared between threads, which keeps
// ThreadSanitizer (that cannot see libstdc++'s exception reference counts) quiet and exact.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <optional>

#include "core/thread_pool.hpp"
#include "slidestream/error.hpp"

namespace slidestream::zarr::detail {

inline void run_parallel(ThreadPool* pool, size_t n, int parallelism,
                         const std::function<void(size_t)>& body) {
  std::mutex mutex;
  std::optional<Error> first;
  std::atomic<bool> failed{false};
  auto guarded = [&](size_t i) {
    if (failed.load(std::memory_order_relaxed)) return;
    try {
      body(i);
    } catch (const Error& e) {
      std::lock_guard lock(mutex);
      if (!first) first.emplace(e);
      failed = true;
    } catch (const std::bad_alloc&) {
      std::lock_guard lock(mutex);
      if (!first) first.emplace(ErrorKind::out_of_memory, "out of host memory");
      failed = true;
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex);
      if (!first) first.emplace(ErrorKind::io, e.what());
      failed = true;
    }
  };
  if (pool && parallelism > 1 && n > 1) {
    pool->parallel_for(n, guarded, parallelism);
  } else {
    for (size_t i = 0; i < n; ++i) guarded(i);
  }
  if (first) throw Error(*first);
}

}  // namespace slidestream::zarr::detail
