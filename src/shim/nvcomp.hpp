// nvCOMP loaded at run time with dlopen (libnvcomp.so.6, from the PyPI wheel
// nvidia-libnvcomp-cu13): the build never links it, and a machine without it decodes deflate
// and zstd tiles on CPU threads. The only file that knows libnvcomp's symbols.
//
// nvCOMP's documentation says a corrupt stream is undefined behaviour for its decompressors
// (and it did decode a damaged checksum-less zstd frame to other pixels than libzstd); callers
// therefore give it only streams whose output can be checked (codec/nvcomp_route.hpp: zlib;
// zstd with a content checksum), and only on request (ReadOptions::gpu_byte_codecs: nvCOMP 6.0
// faulted on damaged zlib and checksummed zstd streams), check every output they keep (status,
// size, that checksum) and hand anything doubtful to the CPU decoder, whose verdict stands.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace slidestream::shim::nvcomp {

enum class Codec { deflate, zstd };  // deflate: raw RFC 1951 streams (no zlib wrapper)

struct Availability {
  bool loaded = false;
  std::string library_path;
  int version_major = -1, version_minor = -1, version_patch = -1;
  std::string why;  // why nvCOMP is not usable
};
// Loads the library once per process; never throws.
const Availability& availability();

// Whether nvCOMP is usable (loaded); *why says why not. Whether a read uses it is the read's
// option (ReadOptions::gpu_byte_codecs, off by default).
bool enabled(std::string* why = nullptr);

struct Alignment {
  size_t input = 1, output = 1, temp = 1;
};
// What `codec` needs of its buffers (at least 16 bytes each, whatever the library says).
Alignment alignment(Codec codec);

// GPU scratch for decompressing `chunks` chunks of at most `chunk_bytes` each.
size_t temp_bytes(Codec codec, size_t chunks, size_t chunk_bytes);

// Enqueues a batched decompression on `stream`. Every array lives in device memory:
// compressed[i] / compressed_bytes[i] in, output[i] of capacity[i] bytes out, actual[i] the
// bytes produced, status[i] 0 on success (nvcompStatus_t). Throws Error(cuda) when the batch
// cannot be launched; per-chunk failures only show in status[] / actual[].
void decompress_async(Codec codec, const void* const* compressed, const size_t* compressed_bytes,
                      const size_t* capacity, size_t* actual, size_t count, void* temp,
                      size_t temp_size, void* const* output, int* status, cudaStream_t stream);

// "nvcomp-deflate" / "nvcomp-zstd": the name reads report.
const char* name(Codec codec) noexcept;

}  // namespace slidestream::shim::nvcomp
