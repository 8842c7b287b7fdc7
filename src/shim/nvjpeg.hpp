// nvJPEG loaded at run time with dlopen (libnvjpeg.so.13 / .so): the build never links it, and a
// machine without it decodes JPEG tiles on CPU threads instead. The only file that knows
// libnvjpeg's symbols.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slidestream::shim::nvjpeg {

struct Availability {
  bool loaded = false;
  std::string library_path;
  int version_major = -1, version_minor = -1, version_patch = -1;
  bool hardware_backend = false;  // nvjpegCreateEx(NVJPEG_BACKEND_HARDWARE) succeeded
  bool gpu_backend = false;       // nvjpegCreateEx(NVJPEG_BACKEND_GPU_HYBRID) succeeded
  std::string why;                // why nvJPEG (or its hardware backend) is not usable
};
// Loads the library and probes the backends once per process (needs a CUDA device); never throws.
const Availability& availability();

// One output of a batched decode: the Y, Cb and Cr planes (device pointers) and their pitches.
struct PlanarOutput {
  std::byte* plane[3] = {};
  size_t pitch[3] = {};
};

// A batched decoder (one nvJPEG handle + state) for 8-bit 3-component streams, decoding into
// their component planes (NVJPEG_OUTPUT_YUV), never into nvJPEG's RGB: nvJPEG upsamples chroma
// by replication, libjpeg-turbo by a triangle filter; codec/cuda/ycc_to_rgb finishes the tiles
// the way libjpeg-turbo does. Use from one thread at a time; make one per worker.
class BatchDecoder {
 public:
  // Throws Error(unsupported) when nvJPEG or the backend is not usable.
  explicit BatchDecoder(bool hardware);
  ~BatchDecoder();
  BatchDecoder(const BatchDecoder&) = delete;
  BatchDecoder& operator=(const BatchDecoder&) = delete;

  // Decodes streams[i] into outputs[i] on `stream` (asynchronous: the caller synchronises the
  // stream before reusing the input bytes). Throws Error(corrupt / cuda) on failure; the caller
  // may then decode the batch another way.
  void decode(const std::vector<std::span<const std::byte>>& streams,
              const std::vector<PlanarOutput>& outputs, cudaStream_t stream);
  const char* name() const noexcept { return hardware_ ? "nvjpeg-hardware" : "nvjpeg-gpu"; }

 private:
  bool hardware_;
  void* handle_ = nullptr;  // nvjpegHandle_t
  void* state_ = nullptr;   // nvjpegJpegState_t
  int batch_size_ = 0;      // the size nvjpegDecodeBatchedInitialize last saw
};

// Decoders kept for the life of the process. Making one (nvjpegCreateEx with the hardware
// backend, its state) costs on the order of a second, far more than decoding a level with
// the CPU threads, so a read never waits for them: the first JPEG read starts making them on a
// background thread and decodes on the CPU; later reads find them ready. A one-shot read (the
// CLI) never starts them: the second read in a process does. A read that asks to `wait`
// (ReadOptions::gpu_jpeg_wait: tests, benchmarks) makes them on its own thread and waits.
class DecoderPool {
 public:
  static DecoderPool& instance();
  ~DecoderPool();
  // Up to `want` idle hardware-backend decoders for `device`; none
  // while they are still being made. Never throws; a failure to make them is remembered.
  // Only the hardware backend is used: its planes equal libjpeg-turbo's IDCT output bit for bit;
  // the CUDA-core (hybrid) backend's differ by 1 here and there, up to 3 grey levels after colour
  // conversion (bench/probes/nvjpeg_planes_probe.cpp), so GPUs without JPEG engines decode on the
  // CPU.
  std::vector<std::unique_ptr<BatchDecoder>> acquire(int device, int want, bool wait = false);
  void release(int device, std::unique_ptr<BatchDecoder> decoder);

 private:
  struct Impl;
  DecoderPool();
  std::unique_ptr<Impl> impl_;
};

// A TIFF JPEG tile made into one self-contained JPEG stream: the level's JPEGTables (quantisation
// and Huffman tables, between their own SOI and EOI) spliced in after the tile's SOI. Tiles
// without tables are returned as they are (empty `tables`).
void merge_jpeg_tables(std::span<const std::byte> tables, std::span<const std::byte> tile,
                       std::vector<std::byte>* out);

}  // namespace slidestream::shim::nvjpeg
