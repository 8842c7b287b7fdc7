// The band executor (pipeline/band.hpp) on a GPU. Three threads: a reader fills the device ring
// with the slide's tile-rows, in order, through the GPU read path; the calling thread gathers
// each band's window from the ring (device-to-device copies) and enqueues the chain on one
// stream; with a host writer, a writer thread waits for each band's copy down and hands it on.
// The reader runs at most ring − (rows one window touches) tile-rows ahead, and never overwrites
// a ring slot before the copies out of it (an event per slot) have finished.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cuda/check.hpp"
#include "cuda/resources.hpp"
#include "pipeline/band.hpp"
#include "pipeline/slot.hpp"
#include "slidestream/error.hpp"

namespace slidestream::pipeline {
namespace {

// The state the three threads share, under one mutex.
struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  int64_t ready = 0;           // tile-rows [0, ready) are in the ring
  int64_t next_row = 0;        // the next tile-row a reader takes
  std::vector<char> row_done;  // per tile-row: read (readers finish out of order)
  int64_t released = 0;        // tile-rows below this are no longer needed
  int64_t written = 0;         // bands [0, written) are written (host writer)
  std::deque<int64_t> to_write;
  bool closed = false;  // no more bands for the writer
  bool stop = false;    // a failure: everyone stops
  std::exception_ptr error;

  void fail(std::exception_ptr e) {
    {
      std::lock_guard lock(mutex);
      if (!error) error = std::move(e);
      stop = true;
    }
    changed.notify_all();
  }
};

// `error` as an Error whose cause says where it happened.
std::exception_ptr located(std::exception_ptr error, const std::string& where) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return std::make_exception_ptr(Error(e.kind(), where + ": " + e.cause(), e.context()));
  } catch (const std::bad_alloc&) {
    return std::make_exception_ptr(Error(ErrorKind::out_of_memory, where + ": out of host memory"));
  } catch (const std::exception& e) {
    return std::make_exception_ptr(Error(ErrorKind::io, where + ": " + e.what()));
  } catch (...) {
    return std::make_exception_ptr(Error(ErrorKind::io, where + ": unknown exception"));
  }
}

// Makes `device` current for the calling thread (the stream and events are created on it).
int selected(int device) {
  cuda::check(cudaSetDevice(device), "cudaSetDevice");
  return device;
}

// Tile-rows read at once. SLIDESTREAM_BAND_READERS overrides, for measuring (bench/uc3.cpp).
int band_readers() {
  static const int readers = [] {
    const char* text = std::getenv("SLIDESTREAM_BAND_READERS");
    int n = text ? std::atoi(text) : 0;
    return n > 0 ? std::min(n, 16) : 2;
  }();
  return readers;
}

// The GPU read path's options for one tile-row: the CPU threads shared by the readers, and
// coalesced ranges small enough that one row is spread over all of them.
ReadOptions row_read_options(const BandJob& job, size_t row_bytes) {
  ReadOptions o = job.read;
  const int threads = std::max(
      1, (o.threads > 0 ? o.threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) /
             band_readers());
  o.threads = threads;
  if (o.task_bytes == 0) {
    constexpr size_t kMiB = size_t{1} << 20;
    size_t per_thread = (row_bytes / static_cast<size_t>(threads) + kMiB - 1) / kMiB * kMiB;
    o.task_bytes = std::clamp(per_thread, kMiB, 8 * kMiB);
  }
  return o;
}

class BandRun {
 public:
  explicit BandRun(const BandJob& job)
      : job_(job),
        level_(job.slide->level(job.level)),
        g_(band_geometry(level_, job)),
        device_(selected(job.read.cuda_device)),
        read_options_(row_read_options(job, static_cast<size_t>(g_.row_height) * g_.in_row_bytes)) {
    slot_bytes_ = static_cast<size_t>(g_.row_height) * g_.in_row_bytes;
    ring_ = cuda::DeviceBuffer(slot_bytes_ * static_cast<size_t>(g_.ring));
    window_ = cuda::DeviceBuffer(static_cast<size_t>(g_.window_rows) * g_.in_row_bytes);
    slot_done_.resize(static_cast<size_t>(g_.ring));
    if (!job.image) {
      band_bytes_ = static_cast<size_t>(job.band) * g_.out_row_bytes;
      for (int i = 0; i < 2; ++i) {
        out_[i] = cuda::DeviceBuffer(band_bytes_);
        host_[i] = cuda::PinnedBuffer(band_bytes_);
      }
    }
  }

  ~BandRun() {
    // Buffers must outlive the work queued on the stream, whatever happened.
    if (stream_.get()) cudaStreamSynchronize(stream_.get());
  }

  BandReport run() {
    shared_.row_done.assign(static_cast<size_t>(g_.tile_rows), 0);
    std::vector<std::thread> readers;
    for (int i = 0; i < band_readers(); ++i) readers.emplace_back([this] { read_rows(); });
    std::optional<std::thread> writer;
    if (!job_.image) writer.emplace([this] { write_bands(); });
    try {
      compute_bands();
    } catch (...) {
      shared_.fail(std::current_exception());
    }
    {
      std::lock_guard lock(shared_.mutex);
      shared_.closed = true;
    }
    shared_.changed.notify_all();
    if (writer) writer->join();
    // Readers may be waiting for slots no band will release: stop it.
    {
      std::lock_guard lock(shared_.mutex);
      shared_.stop = true;
    }
    shared_.changed.notify_all();
    for (auto& reader : readers) reader.join();
    try {
      stream_.synchronize();
    } catch (...) {
      shared_.fail(located(std::current_exception(), "processing"));
    }
    if (shared_.error) std::rethrow_exception(shared_.error);
    return report_;
  }

 private:
  // One of band_readers() threads taking tile-rows in order: while one waits on its read's last
  // copies and placement, the other's preads run, so the file is never idle between rows.
  void read_rows() {
    int64_t row = -1;
    try {
      cuda::check(cudaSetDevice(device_), "cudaSetDevice");
      for (;;) {
        {
          std::unique_lock lock(shared_.mutex);
          shared_.changed.wait(lock, [&] {
            return shared_.stop || shared_.next_row >= g_.tile_rows ||
                   shared_.next_row < shared_.released + g_.ring;
          });
          if (shared_.stop || shared_.next_row >= g_.tile_rows) return;
          row = shared_.next_row++;
        }
        const size_t slot = static_cast<size_t>(row % g_.ring);
        slot_done_[slot].synchronize();  // the copies out of the row that held this slot
        const int64_t y = row * g_.row_height;
        const int64_t rows = std::min(g_.row_height, job_.height - y);
        ImageView view = tight_view(ring_.data() + slot * slot_bytes_, job_.width, rows,
                                    job_.formats.front(), Device::cuda, device_);
        ReadReport report;
        job_.slide->read_region(job_.level, 0, y, job_.width, rows, view, read_options_, &report);
        {
          std::lock_guard lock(shared_.mutex);
          report_.bytes_read += report.file_bytes ? report.file_bytes : view.tight_bytes();
          if (report_.io_path.empty()) report_.io_path = report.io_path;
          shared_.row_done[static_cast<size_t>(row)] = 1;
          while (shared_.ready < g_.tile_rows &&
                 shared_.row_done[static_cast<size_t>(shared_.ready)])
            ++shared_.ready;
        }
        shared_.changed.notify_all();
      }
    } catch (...) {
      shared_.fail(
          located(std::current_exception(), "reading slide tile-row " + std::to_string(row)));
    }
  }

  void compute_bands() {
    cuda::check(cudaSetDevice(device_), "cudaSetDevice");
    cudaStream_t stream = stream_.get();
    const ops::ImageExtent extent{job_.width, job_.height};
    for (int64_t b = 0; b < g_.bands; ++b) {
      BandRows r = band_rows(job_, g_.row_height, b);
      {
        std::unique_lock lock(shared_.mutex);
        // A host writer reuses band b − 2's buffers: wait until that band is written.
        shared_.changed.wait(lock, [&] {
          return shared_.stop ||
                 (shared_.ready >= r.end && (job_.image || shared_.written >= b - 1));
        });
        if (shared_.stop) return;
      }
      try {
        // Gather the window from the ring: each tile-row's part of [in0, in1), full width.
        ImageView window = tight_view(window_.data(), job_.width, r.in1 - r.in0,
                                      job_.formats.front(), Device::cuda, device_);
        for (int64_t row = r.first; row < r.end; ++row) {
          const int64_t top = std::max(r.in0, row * g_.row_height);
          const int64_t bottom = std::min(r.in1, (row + 1) * g_.row_height);
          const size_t slot = static_cast<size_t>(row % g_.ring);
          const std::byte* from = ring_.data() + slot * slot_bytes_ +
                                  static_cast<size_t>(top - row * g_.row_height) * g_.in_row_bytes;
          std::byte* to = window.data + static_cast<size_t>(top - r.in0) * g_.in_row_bytes;
          cuda::check(cudaMemcpyAsync(to, from, static_cast<size_t>(bottom - top) * g_.in_row_bytes,
                                      cudaMemcpyDeviceToDevice, stream),
                      "cudaMemcpyAsync (ring to window)");
          slot_done_[slot].record(stream);
        }
        {
          std::lock_guard lock(shared_.mutex);
          shared_.released =
              b + 1 < g_.bands ? band_rows(job_, g_.row_height, b + 1).first : g_.tile_rows;
        }
        shared_.changed.notify_all();

        const int64_t rows = r.y1 - r.y0;
        const int buffer = static_cast<int>(b % 2);
        ImageView out = job_.image ? job_.image->crop(0, r.y0, job_.width, rows)
                                   : tight_view(out_[buffer].data(), job_.width, rows,
                                                job_.formats.back(), Device::cuda, device_);
        ops::apply_chain(job_.chain, window, {0, r.in0}, out, {0, r.y0}, extent, stream);
        if (!job_.image) {
          cuda::check(cudaMemcpyAsync(host_[buffer].data(), out.data, out.tight_bytes(),
                                      cudaMemcpyDeviceToHost, stream),
                      "cudaMemcpyAsync (band from GPU)");
          band_done_[buffer].record(stream);
          {
            std::lock_guard lock(shared_.mutex);
            shared_.to_write.push_back(b);
          }
          shared_.changed.notify_all();
        } else if (job_.on_band) {
          job_.on_band(b + 1);
        }
      } catch (...) {
        std::rethrow_exception(located(std::current_exception(), "processing band " +
                                                                     std::to_string(b) + " (rows " +
                                                                     std::to_string(r.y0) + " to " +
                                                                     std::to_string(r.y1) + ")"));
      }
    }
  }

  void write_bands() {
    int64_t b = -1;
    try {
      cuda::check(cudaSetDevice(device_), "cudaSetDevice");
      for (;;) {
        {
          std::unique_lock lock(shared_.mutex);
          shared_.changed.wait(
              lock, [&] { return shared_.stop || shared_.closed || !shared_.to_write.empty(); });
          if (shared_.stop || shared_.to_write.empty()) return;
          b = shared_.to_write.front();
          shared_.to_write.pop_front();
        }
        const int buffer = static_cast<int>(b % 2);
        band_done_[buffer].synchronize();
        BandRows r = band_rows(job_, g_.row_height, b);
        ImageView band = tight_view(host_[buffer].data(), job_.width, r.y1 - r.y0,
                                    job_.formats.back(), Device::cpu);
        job_.write(r.y0, band);
        {
          std::lock_guard lock(shared_.mutex);
          shared_.written = b + 1;
        }
        shared_.changed.notify_all();
        if (job_.on_band) job_.on_band(b + 1);
      }
    } catch (...) {
      shared_.fail(located(std::current_exception(), "writing band " + std::to_string(b)));
    }
  }

  const BandJob& job_;
  const Level& level_;
  BandGeometry g_;
  int device_ = 0;
  ReadOptions read_options_;
  size_t slot_bytes_ = 0, band_bytes_ = 0;
  cuda::Stream stream_;
  cuda::DeviceBuffer ring_, window_;
  std::vector<cuda::Event> slot_done_;
  cuda::DeviceBuffer out_[2];
  cuda::PinnedBuffer host_[2];
  cuda::Event band_done_[2];
  Shared shared_;
  BandReport report_;
};

}  // namespace

BandReport run_bands(const BandJob& job) {
  BandRun run(job);
  return run.run();
}

}  // namespace slidestream::pipeline
