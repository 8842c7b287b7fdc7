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

// Which JPEG 2000 streams a GPU read hands to nvJPEG2000: none; reversible (5/3) ones, where it
// equals OpenJPEG bit for bit; or all, irreversible (9/7) ones too, whose samples then depend on
// nvJPEG2000's floating-point arithmetic (within a grey level or two of OpenJPEG's).
enum class GpuJpeg2000 { off, reversible, all };

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
  // GPU reads: let nvJPEG's hardware JPEG engines decode YCbCr JPEG tiles alongside the CPU
  // threads. The engines' component planes equal libjpeg-turbo's, and our kernel upsamples and
  // converts them as libjpeg-turbo does, so the pixels equal a host read bit for bit (tested);
  // GPUs without JPEG engines, and streams the engines cannot take, decode on the CPU threads.
  bool gpu_jpeg = true;
  // GPU reads: let nvCOMP decode deflate (zlib) tiles, and zstd tiles whose frames carry a
  // content checksum, each checked on the GPU (Adler-32 / XXH64) against the CPU decoder's
  // result. Off by default: on the H200 nvCOMP 6.0 faulted with an illegal memory access on
  // damaged streams (a zlib tile cut short, a zstd frame with one bit flipped; 2026-12-04,
  // tests/test_gpu_codecs_corrupt.cpp), and such a fault ends the process's CUDA context where
  // libdeflate and libzstd report an error. So by default these tiles decode on the CPU threads
  // and the GPU read gives the CPU read's pixels or error on every input; ask for nvCOMP only
  // for slides you trust (about 1.7x faster deflate/zstd GPU reads, bench/RESULTS.md).
  bool gpu_byte_codecs = false;
  // nvJPEG's decoders cost about a second to make, so by default a process's first JPEG read
  // decodes on the CPU while they are made in the background, and later reads use them. true:
  // make them now and wait (tests and benchmarks that measure the GPU decoders).
  bool gpu_jpeg_wait = false;
  // GPU reads: which JPEG 2000 streams nvJPEG2000 decodes (GpuJpeg2000 above); the others decode
  // with OpenJPEG on the CPU threads.
  GpuJpeg2000 gpu_jpeg2000 = GpuJpeg2000::reversible;
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
