// nvJPEG2000 loaded at run time with dlopen (libnvjpeg2k.so.0, from the PyPI wheel
// nvidia-nvjpeg2k-cu13): the build never links it, and a machine without it decodes JPEG 2000
// tiles with OpenJPEG on CPU threads. The only file that knows libnvjpeg2k's symbols.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slidestream::shim::nvjpeg2k {

struct Availability {
  bool loaded = false;
  std::string library_path;
  int version_major = -1, version_minor = -1, version_patch = -1;
  std::string why;  // why nvJPEG2000 is not usable
};
// Loads the library once per process; never throws.
const Availability& availability();

// Whether nvJPEG2000 is usable (loaded); *why says why not. Whether a read uses it is the
// read's option (ReadOptions::gpu_jpeg2000).
bool enabled(std::string* why = nullptr);

struct Component {
  uint32_t width = 0, height = 0;
  int precision = 0;
  bool is_signed = false;
};

// One nvJPEG2000 handle, decode state, stream handle and parameters. Use from one thread at a
// time; make one per worker (or take them from DecoderPool).
class Decoder {
 public:
  Decoder();  // throws Error(unsupported) when nvJPEG2000 is not usable, Error(cuda) on failure
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Parses a codestream or JP2 file held in host memory (kept alive by the caller until the
  // decode is complete). False, with *why, when nvJPEG2000 refuses it.
  bool parse(std::span<const std::byte> bytes, std::vector<Component>* components,
             std::string* why);
  // Decodes the parsed stream into one plane per component (device pointers and pitches), as
  // 8- or 16-bit unsigned samples, on `stream` (asynchronous). False, with *why, on failure;
  // execution errors may also surface only when the stream is synchronised.
  bool decode(void* const* planes, const size_t* pitches, int count, bool sixteen,
              cudaStream_t stream, std::string* why);

 private:
  void* handle_ = nullptr;
  void* state_ = nullptr;
  void* stream_ = nullptr;
  void* params_ = nullptr;
};

// Decoders kept for the life of the process, per CUDA device: making one costs far more than
// decoding a tile.
std::unique_ptr<Decoder> acquire_decoder(int device);
void release_decoder(int device, std::unique_ptr<Decoder> decoder);

}  // namespace slidestream::shim::nvjpeg2k
