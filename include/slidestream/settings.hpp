// Every tunable of the library in one typed, documented object (kvikio's `defaults` is the
// model): batch sizes, worker counts, reads in flight, memory budgets. The defaults are what the
// benchmarks on the lent H100 chose (bench/RESULTS.md). Each field may be overridden by one
// environment variable, SLIDESTREAM_ + the field's name in capitals (README, "Settings"), read
// once, when the settings are first asked for; set_settings() replaces them from code.
//
// Settings tune how fast work runs, never what it computes: pixels and files are the same for
// every value. Which backend runs (GPU decoders, executor, read path, cuFile) is an option of the
// call (ReadOptions, pipeline::Options, zarr::WriteOptions), never a setting and never an
// environment variable.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace slidestream {

struct Settings {
  // ---- GPU reads (Slide::read_region to a GPU) ----
  // JPEG tiles per nvJPEG batch (8..256).
  int64_t nvjpeg_batch = 64;
  // nvJPEG decoders (each with its feeding thread) per read (1..8). 4 × 64: 0.151 s for the
  // bench JPEG level on the H100; 2 × 64: 0.165 s, 6 × 64: 0.192 s (bench/uc1_sweep.py).
  int64_t nvjpeg_workers = 4;
  // GPU feeders per read for nvCOMP (deflate, zstd) and nvJPEG2000 (1..64; measured,
  // bench/RESULTS.md "GPU codecs").
  int64_t nvcomp_workers = 4;
  int64_t nvjpeg2k_workers = 8;
  // Compressed bytes per nvCOMP batch (4 KiB..1 GiB), and decoded bytes per GPU codec batch
  // (1 MiB..4 GiB): bounds on the pinned and device memory one feeder holds.
  int64_t nvcomp_input_bytes = int64_t{32} << 20;
  int64_t gpu_codec_output_bytes = int64_t{96} << 20;
  // Uncompressed levels: coalesced file ranges read at once into pinned memory, per process
  // (1..64). Read once, when the first GPU read starts.
  int64_t direct_in_flight = 16;
  // Idle pinned staging slots (each 8 MiB by default) kept for reuse (0..1024).
  int64_t staging_idle_slots = 64;
  // Device memory one GPU read's CPU workers share to bring their pinned slots (file ranges,
  // CPU-decoded tiles) to the GPU, MiB (16..1 TiB); at least two slots' worth. The copies take
  // turns on the copy engine, so a few buffers serve many workers (issue 16.4: a read's device
  // memory beyond its output at most 256 MiB).
  int64_t read_device_staging_mib = 64;

  // ---- Tiled pipeline (pipeline::process on a GPU) ----
  // Tile-rows the band executor's row reader reads at once (1..16).
  int64_t band_readers = 2;
  // The streamed band reader's file range size, MiB (1..64): page-cache reads of this size run
  // at full speed, and the ring holds the ranges every reader thread has in flight.
  int64_t band_task_mib = 4;
  // Slide tile-rows the row reader takes per read (0..64); 0: as many as cover a band (per-read
  // fixed costs once a band), 1: one tile-row per read (issue 16.2).
  int64_t band_row_tiles = 0;
  // Device memory the band executor may take (ring, window, output bands), MiB (64..1 TiB). With
  // the read path's staging and the kernels' modules, the whole tiled run stays within 512 MiB
  // of a bare CUDA context (issue 16.4).
  int64_t band_device_budget_mib = 448;
  // Device memory the slot executor's default slot count stays within, MiB (64..1 TiB).
  int64_t slot_device_budget_mib = 384;
  // Host memory for decoded slide tiles kept for the halos of later output tiles, MiB (16..1 TiB).
  int64_t tile_cache_mib = 512;

  // ---- Zarr writes ----
  // Chunk (shard) files written at once when WriteOptions::io_depth is 0 (1..4096): a direct
  // write waits for the disk, so the disk's queue is kept full by many writes in flight (bench
  // uc2 --sweep on the H100 machine's disk).
  int64_t zarr_io_depth = 128;  // = zarr::kDefaultIoDepth
  // Staging memory the units in flight may hold, MiB (64..1 TiB).
  int64_t zarr_staging_mib = 1024;
};

// One field as the environment and the README see it.
struct SettingInfo {
  std::string field;     // "nvjpeg_batch"
  std::string variable;  // "SLIDESTREAM_NVJPEG_BATCH"
  int64_t lowest = 0, highest = 0;
  int64_t Settings::*member = nullptr;
};
const std::vector<SettingInfo>& setting_fields();

// The settings in force: the defaults overridden by the environment when first asked, or what
// set_settings() made them. Throws Error(invalid_argument) naming the variable when one is not
// an integer in its field's range, or when a retired variable that used to choose a backend is
// set (it says which option replaces it); the error repeats on every call until it is fixed.
Settings settings();

// Replaces the settings for the rest of the process (tests, programs that embed the library);
// Error(invalid_argument) naming the field when one is out of range. Reads already running keep
// what they started with; a few values are read once per process (direct_in_flight).
void set_settings(const Settings& settings);

// The defaults overridden by `lookup` (a getenv): what settings() starts from. For tests.
Settings settings_from_environment(const std::function<const char*(const char*)>& lookup);

}  // namespace slidestream
