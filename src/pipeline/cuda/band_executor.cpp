// The band executor (pipeline/band.hpp) on a GPU. Readers fill a device ring with the slide's
// tile-rows; the calling thread gathers each band's window from the ring and enqueues the chain
// on one compute stream; with a writer, writer threads take finished bands, several at once.
//
// The stages meet on the GPU through events, never through device-wide syncs:
//  - streamed levels: each reader thread preads a range into one of its two pinned buffers,
//    makes its own stream wait until the gathers that last read the ring slot have run
//    (slot_free_), copies the range's tiles up and records range_done_; the compute stream waits
//    on the range_done_ events of a band's rows, so band k's gather and kernel run while the
//    ranges of rows k + 2, k + 3, ... are read and copied on the readers' streams. The host only
//    keeps count: a range is "in" once its copies are enqueued.
//  - tile-rows read through the GPU read path: that call returns once the row has landed; its
//    reader waits (host side) for slot_free_ before reusing a slot.
// Readers stay at most ring − (rows one window touches) tile-rows ahead of the compute; the
// compute stays at most out_bands bands ahead of the writers.
#include <cuda_runtime_api.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "cuda/check.hpp"
#include "cuda/resources.hpp"
#include "io/cuda/staging_pool.hpp"
#include "io/file.hpp"
#include "pipeline/band.hpp"
#include "pipeline/cuda/band_gather.hpp"
#include "pipeline/slot.hpp"
#include "slidestream/error.hpp"
#include "slidestream/settings.hpp"

namespace slidestream::pipeline {
namespace {

constexpr uint64_t kPage = 4096;

// The state the threads share, under one mutex.
struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  int64_t ready = 0;              // tile-rows [0, ready) are in the ring (or enqueued to it)
  std::vector<int> missing;       // per tile-row: ranges not yet enqueued (streamed), or 1 unread
  size_t next_range = 0;          // streamed: the next range a reader takes
  int64_t next_row = 0;           // row at a time: the next tile-row a reader takes
  int64_t released = 0;           // tile-rows below this are no longer needed
  std::vector<char> buffer_free;  // per output band buffer: no band in it waits to be written
  std::deque<int64_t> to_write;
  int64_t bands_written = 0;
  bool closed = false;  // no more bands for the writers
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
  // Called under the mutex: one more piece of tile-row `row` is in; `ready` moves past every
  // leading row with none missing (rows complete out of order).
  void arrived(int64_t row) {
    --missing[static_cast<size_t>(row)];
    while (ready < static_cast<int64_t>(missing.size()) &&
           missing[static_cast<size_t>(ready)] == 0) {
      ++ready;
    }
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

// Tile-rows read at once by the row-at-a-time reader (Settings::band_readers; measured with
// bench/uc3_band_sweep.sh).
int band_readers() {
  return static_cast<int>(settings().band_readers);
}

int hardware_threads(const ReadOptions& o) {
  return o.threads > 0 ? o.threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// The GPU read path's options for one tile-row: the CPU threads shared by the readers, and
// coalesced ranges small enough that one row is spread over all of them.
ReadOptions row_read_options(const BandJob& job, size_t row_bytes) {
  ReadOptions o = job.read;
  const int threads = std::max(1, hardware_threads(o) / band_readers());
  o.threads = threads;
  if (o.task_bytes == 0) {
    constexpr size_t kMiB = size_t{1} << 20;
    size_t per_thread = (row_bytes / static_cast<size_t>(threads) + kMiB - 1) / kMiB * kMiB;
    o.task_bytes = std::clamp(per_thread, kMiB, 8 * kMiB);
  }
  return o;
}

// A read-only mapping of the slide, for asking which pages are in the page cache (mincore).
class Mapping {
 public:
  Mapping(int fd, uint64_t size) : size_(size) {
    if (size == 0) return;
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED) data_ = static_cast<unsigned char*>(m);
  }
  ~Mapping() {
    if (data_) ::munmap(data_, size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  // True when fewer than a quarter of [begin, end)'s pages are cached: O_DIRECT then reads it
  // faster (large requests straight to the disk); otherwise the page cache is the fastest source.
  bool mostly_uncached(uint64_t begin, uint64_t end) const {
    if (data_ == nullptr || begin >= size_) return false;
    end = std::min(end, (size_ + kPage - 1) / kPage * kPage);
    const size_t pages = static_cast<size_t>((end - begin) / kPage);
    if (pages == 0) return false;
    std::vector<unsigned char> resident(pages);
    if (::mincore(data_ + begin, end - begin, resident.data()) != 0) return false;
    size_t in = 0;
    for (unsigned char r : resident) in += r & 1;
    return in * 4 < pages;
  }

 private:
  unsigned char* data_ = nullptr;
  uint64_t size_ = 0;
};

class BandRun {
 public:
  explicit BandRun(const BandJob& job)
      : job_(job),
        level_(job.slide->level(job.level)),
        g_(band_geometry(level_, job, job.device_budget)),
        device_(selected(job.read.cuda_device)),
        streamed_(!job.stream.ranges.empty()),
        row_options_(row_read_options(job, static_cast<size_t>(g_.row_height) * g_.in_row_bytes)) {
    ring_ = cuda::DeviceBuffer(g_.slot_bytes * static_cast<size_t>(g_.ring));
    window_ = cuda::DeviceBuffer(static_cast<size_t>(g_.window_rows) * g_.window_pitch);
    slot_free_.resize(static_cast<size_t>(g_.ring));
    if (streamed_) {
      per_row_ = static_cast<size_t>(job.stream.max_ranges_per_row);
      range_done_.resize(static_cast<size_t>(g_.ring) * per_row_);
      layout_.tile_height = level_.tile_height;
      layout_.tile_row_bytes = job.stream.tile_bytes / level_.tile_height;
      layout_.tile_bytes = job.stream.tile_bytes;
      layout_.slot_bytes = g_.slot_bytes;
      layout_.ring = g_.ring;
    }
    if (!job.image) {
      band_bytes_ = static_cast<size_t>(job.band) * g_.out_row_bytes;
      for (int i = 0; i < g_.device_out_bands; ++i) out_.emplace_back(band_bytes_);
      for (int i = 0; i < g_.out_bands; ++i) {
        if (g_.host_out) host_.emplace_back(band_bytes_);
        band_done_.emplace_back();
      }
    }
  }

  ~BandRun() {
    // Buffers must outlive the work queued on the stream, whatever happened.
    if (stream_.get()) cudaStreamSynchronize(stream_.get());
  }

  BandReport run() {
    shared_.missing.assign(static_cast<size_t>(g_.tile_rows), 1);
    if (streamed_) shared_.missing = job_.stream.ranges_in_row;
    shared_.buffer_free.assign(static_cast<size_t>(g_.out_bands), 1);
    std::optional<io::File> direct;
    std::optional<Mapping> mapping;
    std::vector<std::thread> readers;
    if (streamed_) {
      // The plan's file is the level source's only store (plan_raw_rows checked).
      const io::File& file = *job_.stream.file;
      direct.emplace(io::File::open_direct_or_empty(file.path(), io::File::Mode::read));
      mapping.emplace(file.fd(), file.size());
      direct_ = direct->is_open() ? &*direct : nullptr;
      mapping_ = &*mapping;
      const int threads =
          std::min<int>(hardware_threads(job_.read), static_cast<int>(job_.stream.ranges.size()));
      for (int i = 0; i < threads; ++i) readers.emplace_back([this] { stream_ranges(); });
    } else {
      for (int i = 0; i < band_readers(); ++i) readers.emplace_back([this] { read_rows(); });
    }
    std::vector<std::thread> writers;
    if (!job_.image) {
      for (int i = 0; i < std::max(1, g_.out_bands - 1); ++i) {
        writers.emplace_back([this] { write_bands(); });
      }
    }
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
    for (auto& writer : writers) writer.join();
    // Readers may be waiting for slots no band will release: stop them.
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
    report_.bytes_read = bytes_read_;
    report_.streamed = streamed_;
    if (streamed_) {
      report_.io_path = "posix+pinned, streamed by file ranges";
      if (direct_bytes_ > 0) report_.io_path += " (O_DIRECT for uncached ranges)";
    }
    return report_;
  }

 private:
  // One of the streaming readers: takes ranges in file order, as the ring allows, and never
  // waits for a whole row; two pinned buffers, so one is read into while the other goes up.
  void stream_ranges() {
    int64_t row = -1;
    uint64_t at = 0;
    try {
      cuda::check(cudaSetDevice(device_), "cudaSetDevice");
      const auto& ranges = job_.stream.ranges;
      io::cuda::SlotLease staging[2] = {
          io::cuda::acquire_slot(device_, job_.stream.max_range_bytes),
          io::cuda::acquire_slot(device_, job_.stream.max_range_bytes)};
      int turn = 0;
      for (;;) {
        size_t i = 0;
        {
          std::unique_lock lock(shared_.mutex);
          shared_.changed.wait(lock, [&] {
            return shared_.stop || shared_.next_range >= ranges.size() ||
                   ranges[shared_.next_range].row < shared_.released + g_.ring;
          });
          if (shared_.stop || shared_.next_range >= ranges.size()) break;
          i = shared_.next_range++;
        }
        const RowRange& r = ranges[i];
        row = r.row;
        at = r.begin;
        io::cuda::StagingSlot& buffer = *staging[turn];
        turn ^= 1;
        buffer.wait_idle();
        const uint64_t got = read_range(r, buffer.host.data());
        if (got < r.needed) {
          throw Error(ErrorKind::format,
                      "file is truncated: tile data ends at " + std::to_string(r.begin + r.needed) +
                          ", the file at " + std::to_string(r.begin + got),
                      {job_.slide->path().string(), job_.level, -1, static_cast<int64_t>(r.begin)});
        }
        const size_t slot = static_cast<size_t>(r.row % g_.ring);
        cudaStream_t stream = buffer.stream.get();
        cuda::check(cudaStreamWaitEvent(stream, slot_free_[slot].get(), 0),
                    "cudaStreamWaitEvent (ring slot free)");
        std::byte* base = ring_.data() + slot * g_.slot_bytes;
        for (const RowCopy& c : r.copies) {
          cuda::check(cudaMemcpyAsync(base + c.to, buffer.host.data() + c.from, c.bytes,
                                      cudaMemcpyHostToDevice, stream),
                      "cudaMemcpyAsync (range to ring)");
        }
        range_done_[slot * per_row_ + static_cast<size_t>(r.index)].record(stream);
        buffer.idle.record(stream);
        buffer.busy = true;
        bytes_read_ += r.end - r.begin;
        {
          std::lock_guard lock(shared_.mutex);
          shared_.arrived(r.row);
        }
        shared_.changed.notify_all();
      }
      staging[0]->wait_idle();
      staging[1]->wait_idle();
    } catch (...) {
      shared_.fail(located(
          std::current_exception(),
          "reading slide tile-row " + std::to_string(row) + " at byte " + std::to_string(at)));
    }
  }

  // A range into pinned memory: from the page cache, or with O_DIRECT where it is not cached.
  uint64_t read_range(const RowRange& r, std::byte* into) {
    std::span<std::byte> buffer{into, static_cast<size_t>(r.end - r.begin)};
    if (direct_ && mapping_->mostly_uncached(r.begin, r.end)) {
      // The disk, not the threads, is the limit there: a few large requests at once.
      direct_turns_.acquire();
      struct Release {
        std::counting_semaphore<8>& s;
        ~Release() { s.release(); }
      } release{direct_turns_};
      const size_t got = direct_->read_some(buffer, r.begin);
      direct_bytes_ += got;
      return got;
    }
    return job_.stream.file->read_some(buffer, r.begin);
  }

  // One of band_readers() threads taking tile-rows in order through the GPU read path: while
  // one waits on its read's last copies and placement, the other's preads run.
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
        slot_free_[slot].synchronize();  // the gathers out of the row that held this slot
        const int64_t y = row * g_.row_height;
        const int64_t rows = std::min(g_.row_height, job_.height - y);
        ImageView view = tight_view(ring_.data() + slot * g_.slot_bytes, job_.width, rows,
                                    job_.formats.front(), Device::cuda, device_);
        ReadReport report;
        job_.slide->read_region(job_.level, 0, y, job_.width, rows, view, row_options_, &report);
        bytes_read_ += report.file_bytes ? report.file_bytes : view.tight_bytes();
        {
          std::lock_guard lock(shared_.mutex);
          if (report_.io_path.empty()) report_.io_path = report.io_path;
          shared_.arrived(row);
        }
        shared_.changed.notify_all();
      }
    } catch (...) {
      shared_.fail(
          located(std::current_exception(), "reading slide tile-row " + std::to_string(row)));
    }
  }

  // The band's window [in0, in1) from the ring, on the compute stream, after the rows' copies.
  void gather(const BandRows& r, cudaStream_t stream) {
    if (streamed_) {
      for (int64_t row = r.first; row < r.end; ++row) {
        const size_t slot = static_cast<size_t>(row % g_.ring);
        const int n = job_.stream.ranges_in_row[static_cast<size_t>(row)];
        for (int k = 0; k < n; ++k) {
          cuda::check(cudaStreamWaitEvent(stream, range_done_[slot * per_row_ + k].get(), 0),
                      "cudaStreamWaitEvent (range in ring)");
        }
      }
      gather_tile_rows(ring_.data(), layout_, r.in0, r.in1 - r.in0, g_.in_row_bytes, window_.data(),
                       g_.window_pitch, stream);
    } else {
      for (int64_t row = r.first; row < r.end; ++row) {
        const int64_t top = std::max(r.in0, row * g_.row_height);
        const int64_t bottom = std::min(r.in1, (row + 1) * g_.row_height);
        const size_t slot = static_cast<size_t>(row % g_.ring);
        const std::byte* from = ring_.data() + slot * g_.slot_bytes +
                                static_cast<size_t>(top - row * g_.row_height) * g_.in_row_bytes;
        std::byte* to = window_.data() + static_cast<size_t>(top - r.in0) * g_.window_pitch;
        cuda::check(
            cudaMemcpy2DAsync(to, g_.window_pitch, from, g_.in_row_bytes, g_.in_row_bytes,
                              static_cast<size_t>(bottom - top), cudaMemcpyDeviceToDevice, stream),
            "cudaMemcpy2DAsync (ring to window)");
      }
    }
    for (int64_t row = r.first; row < r.end; ++row) {
      slot_free_[static_cast<size_t>(row % g_.ring)].record(stream);
    }
  }

  void compute_bands() {
    cuda::check(cudaSetDevice(device_), "cudaSetDevice");
    cudaStream_t stream = stream_.get();
    const ops::ImageExtent extent{job_.width, job_.height};
    for (int64_t b = 0; b < g_.bands; ++b) {
      BandRows r = band_rows(job_, g_.row_height, b);
      const size_t buffer = job_.image ? 0 : static_cast<size_t>(b % g_.out_bands);
      {
        std::unique_lock lock(shared_.mutex);
        shared_.changed.wait(lock, [&] {
          return shared_.stop ||
                 (shared_.ready >= r.end && (job_.image || shared_.buffer_free[buffer]));
        });
        if (shared_.stop) return;
        if (!job_.image) shared_.buffer_free[buffer] = 0;
      }
      try {
        gather(r, stream);
        {
          std::lock_guard lock(shared_.mutex);
          shared_.released =
              b + 1 < g_.bands ? band_rows(job_, g_.row_height, b + 1).first : g_.tile_rows;
        }
        shared_.changed.notify_all();

        ImageView window;
        window.data = window_.data();
        window.width = job_.width;
        window.height = r.in1 - r.in0;
        window.channels = job_.formats.front().channels;
        window.dtype = job_.formats.front().dtype;
        window.row_pitch = g_.window_pitch;
        window.device = Device::cuda;
        window.cuda_device = device_;
        const int64_t rows = r.y1 - r.y0;
        // With host bands the one device band is reused: the next band is computed into it
        // after this one's copy down, in stream order.
        const size_t device_buffer = g_.host_out ? 0 : buffer;
        ImageView out = job_.image ? job_.image->crop(0, r.y0, job_.width, rows)
                                   : tight_view(out_[device_buffer].data(), job_.width, rows,
                                                job_.formats.back(), Device::cuda, device_);
        ops::apply_chain(job_.chain, window, {0, r.in0}, out, {0, r.y0}, extent, stream);
        if (!job_.image) {
          if (g_.host_out) {
            cuda::check(cudaMemcpyAsync(host_[buffer].data(), out.data, out.tight_bytes(),
                                        cudaMemcpyDeviceToHost, stream),
                        "cudaMemcpyAsync (band from GPU)");
          }
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

  // One of out_bands − 1 writer threads: each takes the next finished band, so the next band's
  // chunks start while this one's last chunks are still going to disk.
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
        const size_t buffer = static_cast<size_t>(b % g_.out_bands);
        band_done_[buffer].synchronize();
        BandRows r = band_rows(job_, g_.row_height, b);
        ImageView band = g_.host_out ? tight_view(host_[buffer].data(), job_.width, r.y1 - r.y0,
                                                  job_.formats.back(), Device::cpu)
                                     : tight_view(out_[buffer].data(), job_.width, r.y1 - r.y0,
                                                  job_.formats.back(), Device::cuda, device_);
        job_.write(r.y0, band);
        int64_t done = 0;
        {
          std::lock_guard lock(shared_.mutex);
          shared_.buffer_free[buffer] = 1;
          done = ++shared_.bands_written;
        }
        shared_.changed.notify_all();
        if (job_.on_band) {
          std::lock_guard lock(callback_mutex_);
          job_.on_band(done);
        }
      }
    } catch (...) {
      shared_.fail(located(std::current_exception(), "writing band " + std::to_string(b)));
    }
  }

  const BandJob& job_;
  const Level& level_;
  BandGeometry g_;
  int device_ = 0;
  bool streamed_ = false;
  ReadOptions row_options_;
  size_t band_bytes_ = 0;
  size_t per_row_ = 0;  // range_done_ events per ring slot
  TileRingLayout layout_;
  cuda::Stream stream_;
  cuda::DeviceBuffer ring_, window_;
  std::vector<cuda::Event> slot_free_;   // per ring slot: the gathers out of it have run
  std::vector<cuda::Event> range_done_;  // per ring slot and range of its row: copied up
  std::vector<cuda::DeviceBuffer> out_;
  std::vector<cuda::PinnedBuffer> host_;
  std::vector<cuda::Event> band_done_;
  const io::File* direct_ = nullptr;
  const Mapping* mapping_ = nullptr;
  std::counting_semaphore<8> direct_turns_{8};
  std::atomic<uint64_t> bytes_read_{0}, direct_bytes_{0};
  std::mutex callback_mutex_;
  Shared shared_;
  BandReport report_;
};

}  // namespace

BandReport run_bands(const BandJob& job) {
  BandRun run(job);
  return run.run();
}

}  // namespace slidestream::pipeline
