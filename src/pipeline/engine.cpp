#include "pipeline/engine.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include "slidestream/error.hpp"

namespace slidestream::pipeline {
namespace {

// A queue between two stages. close() lets consumers drain what is left and then stop;
// cancel() drops what is left and wakes everyone at once.
template <typename T>
class Channel {
 public:
  void push(T value) {
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) return;
      items_.push_back(std::move(value));
    }
    ready_.notify_one();
  }
  // False once the channel is closed and empty, or cancelled.
  bool pop(T& value) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return cancelled_ || closed_ || !items_.empty(); });
    if (cancelled_ || items_.empty()) return false;
    value = std::move(items_.front());
    items_.pop_front();
    return true;
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }
  void cancel() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
      items_.clear();
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
  bool cancelled_ = false;
};

struct Work {
  int slot = -1;
  int64_t tile = -1;
};

class Run {
 public:
  Run(const StageThreads& threads, const StageFunctions& stages)
      : threads_(threads), stages_(stages) {}

  void execute(const std::vector<int64_t>& tiles) {
    for (int s = 0; s < threads_.slots; ++s) free_.push(s);
    std::vector<std::thread> workers;
    auto start_stage = [&](int count, Channel<Work>& in, Channel<Work>* out,
                           const std::function<void(int, int64_t)>& body, const char* name,
                           std::atomic<int>& alive, bool last) {
      alive = count;
      for (int i = 0; i < count; ++i) {
        workers.emplace_back([this, &in, out, &body, name, &alive, last] {
          stage_loop(in, out, body, name, last);
          // The last thread of a stage to finish tells the next stage no more work comes.
          if (--alive == 0 && out != nullptr) out->close();
        });
      }
    };
    start_stage(threads_.read, to_read_, &to_compute_, stages_.read, "reading", read_alive_, false);
    start_stage(threads_.compute, to_compute_, &to_write_, stages_.compute, "processing",
                compute_alive_, false);
    start_stage(threads_.write, to_write_, nullptr, stages_.write, "writing", write_alive_, true);

    for (int64_t tile : tiles) {
      Work work;
      work.tile = tile;
      if (!free_.pop(work.slot)) break;  // cancelled
      to_read_.push(work);
    }
    to_read_.close();
    for (auto& worker : workers) worker.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void stage_loop(Channel<Work>& in, Channel<Work>* out,
                  const std::function<void(int, int64_t)>& body, const char* name, bool last) {
    Work work;
    while (in.pop(work)) {
      if (failed_.load()) return;
      try {
        if (body) body(work.slot, work.tile);
        if (last) {
          if (stages_.on_done) {
            std::lock_guard lock(done_mutex_);
            stages_.on_done(work.tile, ++done_);
          }
          free_.push(work.slot);  // only now may the slot's buffers take another tile
        } else {
          out->push(work);
        }
      } catch (...) {
        fail(std::current_exception(), name, work.tile);
        return;
      }
    }
  }

  void fail(std::exception_ptr error, const char* stage, int64_t tile) {
    {
      std::lock_guard lock(error_mutex_);
      if (!error_) error_ = with_stage(error, stage, tile);
    }
    failed_ = true;
    free_.cancel();
    to_read_.cancel();
    to_compute_.cancel();
    to_write_.cancel();
  }

  // The first failure as an Error whose cause says which stage of which tile failed.
  static std::exception_ptr with_stage(std::exception_ptr error, const char* stage, int64_t tile) {
    std::string where = std::string(stage) + " output tile " + std::to_string(tile) + ": ";
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      return std::make_exception_ptr(Error(e.kind(), where + e.cause(), e.context()));
    } catch (const std::bad_alloc&) {
      return std::make_exception_ptr(Error(ErrorKind::out_of_memory, where + "out of host memory"));
    } catch (const std::exception& e) {
      return std::make_exception_ptr(Error(ErrorKind::io, where + e.what()));
    } catch (...) {
      return std::make_exception_ptr(Error(ErrorKind::io, where + "unknown exception"));
    }
  }

  StageThreads threads_;
  const StageFunctions& stages_;
  Channel<int> free_;
  Channel<Work> to_read_, to_compute_, to_write_;
  std::atomic<int> read_alive_{0}, compute_alive_{0}, write_alive_{0};
  std::atomic<bool> failed_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::mutex done_mutex_;
  int64_t done_ = 0;
};

}  // namespace

void run_stages(const std::vector<int64_t>& tiles, const StageThreads& threads,
                const StageFunctions& stages) {
  StageThreads t = threads;
  t.slots = std::max(1, t.slots);
  t.read = std::max(1, t.read);
  t.compute = std::max(1, t.compute);
  t.write = std::max(1, t.write);
  Run run(t, stages);
  run.execute(tiles);
}

}  // namespace slidestream::pipeline
