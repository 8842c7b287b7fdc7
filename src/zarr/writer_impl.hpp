// ArrayWriter's state, shared with OmeZarrWriter (which counts finished levels).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/thread_pool.hpp"
#include "slidestream/zarr.hpp"
#include "zarr/chunk_codec.hpp"
#include "zarr/chunk_file.hpp"
#include "zarr/device_staging.hpp"
#include "zarr/layout.hpp"

namespace slidestream::zarr {

struct ArrayWriter::Impl {
  std::filesystem::path path;
  ArraySpec spec;
  detail::Layout layout;
  WriteOptions options;
  int threads = 1;
  std::unique_ptr<io::ThreadPool> pool;  // threads - 1 workers; the caller is the last one
  detail::ChunkFileOptions file_options;
  detail::ChunkFileStats stats;
  nlohmann::json attributes = nlohmann::json::object();
  std::atomic<bool> failed{false};
  bool finished = false;
  std::mutex note_mutex;
  std::string io_note;  // why the requested backend was not used, for WriteReport.io_path
  std::shared_ptr<std::atomic<int>> finish_counter;  // set by OmeZarrWriter

  // Reused host buffers and pinned slots (one in use per worker at a time).
  std::mutex buffers_mutex;
  std::vector<detail::AlignedBuffer> buffers;
  std::mutex slots_mutex;
  std::vector<std::unique_ptr<device::StagingSlot>> slots;

  detail::AlignedBuffer take_buffer();
  void give_buffer(detail::AlignedBuffer buffer);
  std::unique_ptr<device::StagingSlot> take_slot(int cuda_device);
  void give_slot(std::unique_ptr<device::StagingSlot> slot);
  // Encodes and writes unit (uy, ux) whose pixels inside the array are `region` (host or GPU).
  void write_unit(const ImageView& region, int64_t uy, int64_t ux);
};

}  // namespace slidestream::zarr
