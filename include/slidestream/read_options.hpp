#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "slidestream/image.hpp"

namespace slidestream {

// How bytes travel from the file to a GPU. `automatic` uses cuFile when the driver can register
// the file (nvidia-fs present) and POSIX reads into pinned bounce buffers otherwise. The path
// actually taken is reported by ReadReport, never guessed.
enum class IoBackend { automatic, posix, cufile };

std::string_view to_string(IoBackend backend) noexcept;
IoBackend parse_io_backend(std::string_view text);  // "auto" | "posix" | "cufile"

struct ReadOptions {
  Device device = Device::cpu;  // where returned images live; views say where they live themselves
  int threads = 0;              // 0: one per hardware thread
  IoBackend io = IoBackend::automatic;
  size_t task_bytes = 0;  // 0: library default (coalesced read size for GPU reads)
  int cuda_device = 0;
  // Value written for pixels of a region that lie outside the level (every sample of every
  // channel). 0 matches OpenSlide's transparent black and tifffile's tile padding.
  uint8_t fill = 0;
  // GPU reads: let nvJPEG (hardware engines / CUDA cores) decode JPEG tiles alongside the CPU
  // threads. Off by default: measured on an H100 (bench/jpeg_accuracy.py, 2026-11-25) our nvJPEG
  // path lands up to 93 grey levels from libjpeg-turbo on 4:2:0 tiles, far outside the 1-level
  // promise, so the default decodes with libjpeg-turbo only and equals a host read bit for bit.
  bool gpu_jpeg = false;
};

// What a read actually did, for the CLI and benchmarks.
struct ReadReport {
  uint64_t file_bytes = 0;   // bytes read from the file
  uint64_t pixel_bytes = 0;  // bytes of decoded pixels delivered
  std::string io_path;       // e.g. "posix", "posix+pinned", "cufile", "cufile (compat mode)"
  std::string decoder;       // e.g. "none", "libjpeg-turbo", "nvjpeg-hardware"
  std::string io_note;       // why `automatic` took the path it took (e.g. cuFile unusable)
};

}  // namespace slidestream
