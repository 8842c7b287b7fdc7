// A fixed pool of worker threads. parallel_for runs a body over [0, n) and rethrows the first
// exception after the remaining items are skipped (cancellation on error).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace slidestream {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads <= 0: hardware concurrency
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()); }
  void post(std::function<void()> task);

  // Runs body(i) for i in [0, n) on up to `parallelism` threads (this one included). Rethrows the
  // first exception thrown by any body once all started bodies have finished.
  void parallel_for(size_t n, const std::function<void(size_t)>& body, int parallelism = 0);

  // A process-wide pool sized to the machine, created on first use; a process forked after the
  // pool started gets a fresh one on its first use (threads do not survive fork()).
  static ThreadPool& shared();

 private:
  void worker_loop();

  std::vector<std::thread> workers_;
  std::queue<std::function<void()>> tasks_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

int hardware_threads() noexcept;

}  // namespace slidestream
