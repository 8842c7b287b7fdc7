#include "core/thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>

namespace slidestream {

int hardware_threads() noexcept {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads) {
  int n = threads > 0 ? threads : hardware_threads();
  workers_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push(std::move(task));
  }
  wake_.notify_one();
}

void ThreadPool::worker_loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop();
    }
    task();
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& body, int parallelism) {
  if (n == 0) return;
  int limit = parallelism > 0 ? parallelism : size() + 1;
  size_t helpers = std::min<size_t>(n, static_cast<size_t>(std::max(limit, 1))) - 1;
  helpers = std::min(helpers, static_cast<size_t>(size()));

  // Helpers that start after the caller has finished draining do nothing, so a parallel_for
  // nested inside a pool task never waits on helpers queued behind blocked workers.
  struct Shared {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex mutex;
    std::condition_variable done;
    size_t active = 0;
    bool closed = false;
  };
  auto shared = std::make_shared<Shared>();
  const auto* body_ptr = &body;
  auto drain = [n, body_ptr](Shared& s) {
    for (;;) {
      if (s.failed.load(std::memory_order_relaxed)) return;
      size_t i = s.next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      try {
        (*body_ptr)(i);
      } catch (...) {
        std::lock_guard lock(s.mutex);
        if (!s.error) s.error = std::current_exception();
        s.failed = true;
      }
    }
  };
  for (size_t h = 0; h < helpers; ++h) {
    post([shared, drain] {
      {
        std::lock_guard lock(shared->mutex);
        if (shared->closed) return;
        ++shared->active;
      }
      drain(*shared);
      std::lock_guard lock(shared->mutex);
      if (--shared->active == 0) shared->done.notify_all();
    });
  }
  drain(*shared);
  std::unique_lock lock(shared->mutex);
  shared->closed = true;
  shared->done.wait(lock, [&] { return shared->active == 0; });
  // The error leaves the shared state here, so that the exception object ends on this thread: a
  // helper's task may hold the last reference to `shared` and free it later, and the exception's
  // reference count lives in the (uninstrumented) C++ runtime, where ThreadSanitizer cannot see
  // that the caller was done with it.
  std::exception_ptr error = std::move(shared->error);
  lock.unlock();
  if (error) std::rethrow_exception(error);
}

namespace {

// The shared pool, made on first use. Its threads do not survive fork(): in a child the parent's
// pool is abandoned (its mutex and condition variable hold whatever state the parent's threads
// left them in, so touching them can deadlock, as a DataLoader worker did) and the child's first
// use makes a fresh pool. Never destroyed: at exit its idle threads go with the process.
std::atomic<ThreadPool*> g_shared{nullptr};

void forget_shared_pool_in_child() {
  g_shared.store(nullptr, std::memory_order_relaxed);
}

}  // namespace

ThreadPool& ThreadPool::shared() {
  ThreadPool* pool = g_shared.load(std::memory_order_acquire);
  if (pool) return *pool;
  static const int registered = pthread_atfork(nullptr, nullptr, forget_shared_pool_in_child);
  (void)registered;
  auto fresh = std::make_unique<ThreadPool>(hardware_threads());
  if (g_shared.compare_exchange_strong(pool, fresh.get(), std::memory_order_acq_rel)) {
    return *fresh.release();
  }
  return *pool;  // another thread made it first; ours joins its threads and goes
}

}  // namespace slidestream
