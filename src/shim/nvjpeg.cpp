#include "shim/nvjpeg.hpp"

#include <library_types.h>
#include <nvjpeg.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "cuda/check.hpp"
#include "shim/library.hpp"
#include "slidestream/error.hpp"

namespace slidestream::shim::nvjpeg {
namespace {

struct Symbols {
  decltype(&::nvjpegGetProperty) get_property = nullptr;
  decltype(&::nvjpegCreateEx) create_ex = nullptr;
  decltype(&::nvjpegDestroy) destroy = nullptr;
  decltype(&::nvjpegJpegStateCreate) state_create = nullptr;
  decltype(&::nvjpegJpegStateDestroy) state_destroy = nullptr;
  decltype(&::nvjpegDecodeBatchedInitialize) batched_initialize = nullptr;
  decltype(&::nvjpegDecodeBatched) batched = nullptr;
};

const char* status_name(nvjpegStatus_t s) {
  switch (s) {
    case NVJPEG_STATUS_SUCCESS:
      return "success";
    case NVJPEG_STATUS_NOT_INITIALIZED:
      return "not initialized";
    case NVJPEG_STATUS_INVALID_PARAMETER:
      return "invalid parameter";
    case NVJPEG_STATUS_BAD_JPEG:
      return "bad JPEG";
    case NVJPEG_STATUS_JPEG_NOT_SUPPORTED:
      return "JPEG not supported";
    case NVJPEG_STATUS_ALLOCATOR_FAILURE:
      return "allocator failure";
    case NVJPEG_STATUS_EXECUTION_FAILED:
      return "execution failed";
    case NVJPEG_STATUS_ARCH_MISMATCH:
      return "architecture mismatch (backend not on this GPU)";
    case NVJPEG_STATUS_INTERNAL_ERROR:
      return "internal error";
    case NVJPEG_STATUS_IMPLEMENTATION_NOT_SUPPORTED:
      return "implementation not supported";
    case NVJPEG_STATUS_INCOMPLETE_BITSTREAM:
      return "incomplete bitstream";
  }
  return "unknown status";
}

struct Loaded {
  Availability availability;
  Symbols symbols;
};

bool probe_backend(const Symbols& s, nvjpegBackend_t backend, std::string* why) {
  nvjpegHandle_t handle = nullptr;
  nvjpegStatus_t status = s.create_ex(backend, nullptr, nullptr, 0, &handle);
  if (status != NVJPEG_STATUS_SUCCESS) {
    *why = status_name(status);
    return false;
  }
  s.destroy(handle);
  return true;
}

Loaded load() {
  Loaded result;
  Availability& a = result.availability;
  Library library("libnvjpeg", {"libnvjpeg.so.13", "libnvjpeg.so"});
  Symbols& s = result.symbols;
  library.bind("nvjpegGetProperty", &s.get_property)
      .bind("nvjpegCreateEx", &s.create_ex)
      .bind("nvjpegDestroy", &s.destroy)
      .bind("nvjpegJpegStateCreate", &s.state_create)
      .bind("nvjpegJpegStateDestroy", &s.state_destroy)
      .bind("nvjpegDecodeBatchedInitialize", &s.batched_initialize)
      .bind("nvjpegDecodeBatched", &s.batched);
  a.library_path = library.path();
  a.why = library.why();
  if (!library.ok()) return result;
  a.loaded = true;
  s.get_property(MAJOR_VERSION, &a.version_major);
  s.get_property(MINOR_VERSION, &a.version_minor);
  s.get_property(PATCH_LEVEL, &a.version_patch);
  std::string hw_why, gpu_why;
  a.hardware_backend = probe_backend(s, NVJPEG_BACKEND_HARDWARE, &hw_why);
  a.gpu_backend = probe_backend(s, NVJPEG_BACKEND_GPU_HYBRID, &gpu_why);
  if (!a.hardware_backend) a.why = "hardware backend: " + hw_why;
  if (!a.gpu_backend) a.why += (a.why.empty() ? "" : "; ") + std::string("GPU backend: ") + gpu_why;
  return result;
}

const Loaded& loaded() {
  static const Loaded instance = load();
  return instance;
}

[[noreturn]] void fail(nvjpegStatus_t status, const char* what) {
  ErrorKind kind = status == NVJPEG_STATUS_BAD_JPEG || status == NVJPEG_STATUS_INCOMPLETE_BITSTREAM
                       ? ErrorKind::corrupt
                   : status == NVJPEG_STATUS_ALLOCATOR_FAILURE  ? ErrorKind::out_of_memory
                   : status == NVJPEG_STATUS_JPEG_NOT_SUPPORTED ? ErrorKind::unsupported
                                                                : ErrorKind::cuda;
  throw Error(kind, std::string(what) + ": " + status_name(status));
}

}  // namespace

const Availability& availability() {
  return loaded().availability;
}

BatchDecoder::BatchDecoder(bool hardware) : hardware_(hardware) {
  const Loaded& l = loaded();
  if (!l.availability.loaded) throw Error(ErrorKind::unsupported, "nvJPEG: " + l.availability.why);
  nvjpegHandle_t handle = nullptr;
  nvjpegStatus_t status = l.symbols.create_ex(
      hardware ? NVJPEG_BACKEND_HARDWARE : NVJPEG_BACKEND_GPU_HYBRID, nullptr, nullptr, 0, &handle);
  if (status != NVJPEG_STATUS_SUCCESS) fail(status, "nvjpegCreateEx");
  handle_ = handle;
  nvjpegJpegState_t state = nullptr;
  status = l.symbols.state_create(handle, &state);
  if (status != NVJPEG_STATUS_SUCCESS) {
    l.symbols.destroy(handle);
    handle_ = nullptr;
    fail(status, "nvjpegJpegStateCreate");
  }
  state_ = state;
}

BatchDecoder::~BatchDecoder() {
  const Loaded& l = loaded();
  if (state_) l.symbols.state_destroy(static_cast<nvjpegJpegState_t>(state_));
  if (handle_) l.symbols.destroy(static_cast<nvjpegHandle_t>(handle_));
}

void BatchDecoder::decode(const std::vector<std::span<const std::byte>>& streams,
                          const std::vector<PlanarOutput>& outputs, cudaStream_t stream) {
  const Symbols& s = loaded().symbols;
  auto handle = static_cast<nvjpegHandle_t>(handle_);
  auto state = static_cast<nvjpegJpegState_t>(state_);
  int n = static_cast<int>(streams.size());
  if (n == 0) return;
  if (n != batch_size_) {
    // Also resets the state after a failed batch (nvJPEG's documented recovery).
    nvjpegStatus_t status = s.batched_initialize(handle, state, n, 1, NVJPEG_OUTPUT_YUV);
    if (status != NVJPEG_STATUS_SUCCESS) fail(status, "nvjpegDecodeBatchedInitialize");
    batch_size_ = n;
  }
  std::vector<const unsigned char*> data(n);
  std::vector<size_t> lengths(n);
  std::vector<nvjpegImage_t> images(n);
  for (int i = 0; i < n; ++i) {
    data[i] = reinterpret_cast<const unsigned char*>(streams[i].data());
    lengths[i] = streams[i].size();
    std::memset(&images[i], 0, sizeof(nvjpegImage_t));
    for (int c = 0; c < 3; ++c) {
      images[i].channel[c] = reinterpret_cast<unsigned char*>(outputs[i].plane[c]);
      images[i].pitch[c] = outputs[i].pitch[c];
    }
  }
  nvjpegStatus_t status =
      s.batched(handle, state, data.data(), lengths.data(), images.data(), stream);
  if (status != NVJPEG_STATUS_SUCCESS) {
    batch_size_ = 0;  // re-initialise before the next batch
    fail(status, "nvjpegDecodeBatched");
  }
}

// Two decoders per GPU: one decodes while the other's batch is read and handed over; the
// hardware backend spreads each batch over all of the GPU's JPEG engines itself.
constexpr int kDecodersPerDevice = 2;

struct DecoderPool::Impl {
  std::mutex mutex;
  std::map<int, std::vector<std::unique_ptr<BatchDecoder>>> idle;  // by CUDA device
  std::map<int, bool> started;                                     // making began for device
  std::map<int, int> asks;                                         // acquire() calls
  std::map<int, std::string> failure;
  std::vector<std::thread> makers;

  void make(int device, int count) {
    std::vector<std::unique_ptr<BatchDecoder>> made;
    std::string error;
    try {
      slidestream::cuda::check(cudaSetDevice(device), "cudaSetDevice");
      for (int i = 0; i < count; ++i) made.push_back(std::make_unique<BatchDecoder>(true));
    } catch (const std::exception& e) {
      error = e.what();
    }
    std::lock_guard lock(mutex);
    for (auto& d : made) idle[device].push_back(std::move(d));
    if (!error.empty()) failure[device] = error;
  }
};

DecoderPool::DecoderPool() : impl_(std::make_unique<Impl>()) {}

// Joins the makers so that no thread is inside nvJPEG while the process tears CUDA down; the
// decoders themselves are left to the OS (destroying them after CUDA's own teardown fails).
DecoderPool::~DecoderPool() {
  for (auto& t : impl_->makers) {
    if (t.joinable()) t.join();
  }
  for (auto& [device, list] : impl_->idle) {
    for (auto& d : list) (void)d.release();
  }
}

DecoderPool& DecoderPool::instance() {
  static DecoderPool pool;
  return pool;
}

std::vector<std::unique_ptr<BatchDecoder>> DecoderPool::acquire(int device, int want, bool wait) {
  std::vector<std::unique_ptr<BatchDecoder>> out;
  const bool sync = wait;
  const Availability& a = availability();
  if (!a.loaded || !a.hardware_backend) return out;
  std::unique_lock lock(impl_->mutex);
  // A process that reads one JPEG level (a one-shot CLI run) never pays for decoders it would
  // not use in time; the second read on starts making them.
  if (!impl_->started[device] && (sync || ++impl_->asks[device] >= 2)) {
    impl_->started[device] = true;
    if (sync) {
      lock.unlock();
      impl_->make(device, std::max(want, kDecodersPerDevice));
      lock.lock();
    } else {
      impl_->makers.emplace_back(
          [this, device, want] { impl_->make(device, std::max(want, kDecodersPerDevice)); });
    }
  }
  auto& list = impl_->idle[device];
  while (!list.empty() && static_cast<int>(out.size()) < want) {
    out.push_back(std::move(list.back()));
    list.pop_back();
  }
  return out;
}

void DecoderPool::release(int device, std::unique_ptr<BatchDecoder> decoder) {
  if (!decoder) return;
  std::lock_guard lock(impl_->mutex);
  impl_->idle[device].push_back(std::move(decoder));
}

void merge_jpeg_tables(std::span<const std::byte> tables, std::span<const std::byte> tile,
                       std::vector<std::byte>* out) {
  out->clear();
  auto is_marker = [](std::span<const std::byte> b, size_t at, unsigned char code) {
    return b.size() >= at + 2 && b[at] == std::byte{0xFF} && b[at + 1] == std::byte{code};
  };
  bool usable_tables = tables.size() >= 4 && is_marker(tables, 0, 0xD8) &&
                       is_marker(tables, tables.size() - 2, 0xD9);
  if (!usable_tables || !is_marker(tile, 0, 0xD8)) {
    out->assign(tile.begin(), tile.end());
    return;
  }
  out->reserve(tables.size() + tile.size());
  out->insert(out->end(), tile.begin(), tile.begin() + 2);        // SOI
  out->insert(out->end(), tables.begin() + 2, tables.end() - 2);  // DQT, DHT...
  out->insert(out->end(), tile.begin() + 2, tile.end());          // frame, scan, EOI
}

}  // namespace slidestream::shim::nvjpeg
