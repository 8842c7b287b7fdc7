// The tiled processing pipeline: read (+ decode) → kernels → encode → write, stages running
// concurrently over a bounded pool of tile slots, output bit-identical to processing the whole
// level at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"
#include "slidestream/zarr.hpp"

namespace slidestream::pipeline {

enum class Mode { tiled, global };

struct Progress {
  int64_t tiles_done = 0;
  int64_t tiles_total = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  double seconds = 0;
};

struct Options {
  Mode mode = Mode::tiled;
  Device device = Device::cpu;
  // The GPU when device is cuda (cudaSetDevice's index); one that does not exist is
  // Error(invalid_argument) naming the GPUs there are (require_device).
  int cuda_device = 0;
  int level = 0;
  int64_t tile = 512;  // tile edge in output pixels (tiled mode); also the Zarr chunk edge
  int slots = 0;       // tiles in flight; 0: library default
  int threads = 0;     // CPU threads for I/O and codecs; 0: hardware threads
  IoBackend io = IoBackend::automatic;
  zarr::Format format = zarr::Format::v3;
  zarr::Codec codec = zarr::Codec::none;
  int64_t shard = 0;     // v3 shard edge in pixels; 0: none
  bool pyramid = false;  // also write 2×-downsampled levels until the smaller side < tile
  bool overwrite = false;
  // With overwrite: replace whatever is at the output, not only a Zarr (zarr::MultiscaleOptions).
  bool overwrite_any = false;
  // Backends of the tiled mode on a GPU (each the measured default; bench/uc3.py compares them):
  // the band executor (whole tile-rows read into a device ring, processed a band at a time)
  // where the ops and the level allow it; false: always the slot executor (tiles in flight).
  bool bands = true;
  // Band executor, uncompressed levels: stream them by file ranges gathered on the GPU (unless
  // cuFile is asked for or may work); false: read each tile-row through the GPU read path.
  bool band_stream = true;
  // Slot executor: read and decode on the CPU into pinned memory, then copy (false), or read
  // through the GPU read path straight into device memory (true).
  bool read_into_device = false;
  std::function<void(const Progress&)> on_progress;  // called from one thread at a time
};

struct Summary {
  double seconds = 0;
  int64_t tiles = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t peak_gpu_bytes = 0;  // device memory the pipeline allocated at its peak
  std::string io_path;
  // Peak of (device memory in use − in use at the start), from cudaMemGetInfo: includes what the
  // read path, the Zarr writer and CUDA libraries allocated, and anything else on the device.
  uint64_t gpu_memory_delta_bytes = 0;
  int slots = 0;              // tiles in flight (tiled mode)
  int levels = 1;             // OME-Zarr levels written (process)
  std::string write_io_path;  // the Zarr writer's I/O path (process)
  // Tiled mode: "slots" (tiles through the staged executor) or "bands" (on a GPU, whole tile-rows
  // read into a device ring and processed a band at a time); empty in global mode.
  std::string executor;
  // "bands" only: the uncompressed level was streamed by file ranges into the GPU (tile layout,
  // gathered on the GPU), not read a tile-row at a time through the GPU read path.
  bool streamed = false;
};

// `chain` with every op that learns from the slide prepared on it (ops::prepare; macenko fits its
// stains on the lowest-resolution level, the whole slide at a glance): one set of parameters for
// all tiles, so tiled equals global. Other ops as given. Errors name the slide and the level.
std::vector<ops::Op> prepare_chain(const Slide& slide, std::vector<ops::Op> chain);
// The name this had when macenko was the only op that learns from the slide.
inline std::vector<ops::Op> fit_stains(const Slide& slide, std::vector<ops::Op> chain) {
  return prepare_chain(slide, std::move(chain));
}

// Slide level → ops → OME-Zarr at `output`.
Summary process(const Slide& slide, const std::vector<ops::Op>& chain,
                const std::filesystem::path& output, const Options& options);

// Slide level → ops → an image in memory (host or GPU per options.device); for tests and for
// callers who keep the result.
Image process_to_image(const Slide& slide, const std::vector<ops::Op>& chain,
                       const Options& options, Summary* summary = nullptr);

}  // namespace slidestream::pipeline
