// ArrayWriter's state, shared with OmeZarrWriter (which counts finished levels).
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <semaphore>
#include <string>
#include <vector>

#include "core/thread_pool.hpp"
#include "slidestream/zarr.hpp"
#include "zarr/chunk_codec.hpp"
#include "zarr/chunk_file.hpp"
#include "zarr/device_staging.hpp"
#include "zarr/layout.hpp"
#include "zarr/output_dir.hpp"

namespace slidestream::zarr {

struct ArrayWriter::Impl {
  // First, so destroyed last: an unfinished write's files are removed after every other member
  // (pool, descriptors) is gone.
  detail::OutputDir output;
  std::filesystem::path path;  // where chunks go: output.write_dir()
  ArraySpec spec;
  detail::Layout layout;
  WriteOptions options;
  int threads = 1;   // encoders at once
  int io_depth = 1;  // units in flight (before the memory cap)
  // threads + io_depth workers at most; the caller of write_region is one of them.
  std::unique_ptr<ThreadPool> pool;
  // Bounds the CPU work (packing, compression) to `threads` while up to io_depth units wait on
  // the disk.
  std::unique_ptr<std::counting_semaphore<>> encoders;
  detail::ChunkFileOptions file_options;
  detail::ChunkFileStats stats;
  detail::FileSystemSync file_system;  // opened before the first chunk (see chunk_file.hpp)
  nlohmann::json attributes = nlohmann::json::object();
  std::atomic<bool> failed{false};
  bool finished = false;
  bool chunks_finished = false;  // finish_chunks() returned: no more write_region
  std::shared_ptr<std::atomic<int>> finish_counter;  // set by OmeZarrWriter

  // The path of GPU-source writes, chosen at the first one (zarr/write_path.hpp).
  std::mutex path_mutex;
  bool path_chosen = false;
  bool use_cufile = false;
  std::string io_note;               // why the requested backend was not (always) used
  int used_depth = 0;                // largest parallelism a write_region ran with
  detail::AlignedBuffer fill_chunk;  // one chunk of fill samples, uploaded into padded GPU units

  // Reused host buffers, pinned slots and device stages (one in use per worker at a time); slots
  // and stages by CUDA device, as each has its GPU's stream (and a stage its GPU's memory).
  std::mutex buffers_mutex;
  std::vector<detail::AlignedBuffer> buffers;
  std::mutex slots_mutex;
  std::map<int, std::vector<std::unique_ptr<device::StagingSlot>>> slots;
  std::mutex stages_mutex;
  std::map<int, std::vector<std::unique_ptr<device::DeviceStage>>> stages;

  detail::AlignedBuffer take_buffer();
  void give_buffer(detail::AlignedBuffer buffer);
  std::unique_ptr<device::StagingSlot> take_slot(int cuda_device);
  void give_slot(int cuda_device, std::unique_ptr<device::StagingSlot> slot);
  std::unique_ptr<device::DeviceStage> take_stage(int cuda_device);
  void give_stage(int cuda_device, std::unique_ptr<device::DeviceStage> stage);
  void note(const std::string& text);
  // What the writes so far did, with `metadata_bytes` of metadata on top.
  WriteReport report(uint64_t metadata_bytes);
  void choose_gpu_path();
  // Encodes and writes unit (uy, ux) whose pixels inside the array are `region` (host or GPU).
  void write_unit(const ImageView& region, int64_t uy, int64_t ux);
  void write_unit_from_host(const ImageView& region, int64_t uy, int64_t ux);
  bool write_unit_with_cufile(const ImageView& region, int64_t uy, int64_t ux);
  void write_unit_through_pinned(const ImageView& region, int64_t uy, int64_t ux);
};

}  // namespace slidestream::zarr
