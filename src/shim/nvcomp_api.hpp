// The part of nvCOMP's C API that nvcomp_shim.cpp calls, declared here rather than included, so
// that no build (CI, the GPU machine) needs nvCOMP's headers: the library itself is dlopen'ed.
// Copied from nvCOMP 6.0.0.12 (PyPI nvidia-libnvcomp-cu13 6.0.0.12: include/nvcomp/
// shared_types.h, deflate.h, zstd.h, nvcomp.h). The ABI is that of the soname we open,
// libnvcomp.so.6; nvcomp_shim.cpp checks the version the library reports.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace slidestream::shim::nvcomp::api {

enum Status : int {  // nvcompStatus_t
  success = 0,
  error_invalid_value = 10,
  error_not_supported = 11,
  error_cannot_decompress = 12,
  error_bad_checksum = 13,
  error_cannot_verify_checksums = 14,
  error_output_buffer_too_small = 15,
  error_wrong_header_length = 16,
  error_alignment = 17,
  error_chunk_size_too_large = 18,
  error_cannot_compress = 19,
  error_wrong_input_length = 20,
  error_batch_size_too_large = 21,
  error_cuda = 1000,
  error_internal = 10000,
};
static_assert(sizeof(Status) == sizeof(int));

enum DecompressBackend : int {  // nvcompDecompressBackend_t
  backend_default = 0,
  backend_hardware = 1,
  backend_cuda = 2,
};

struct Properties {  // nvcompProperties_t
  uint32_t version;  // major * 1000 + minor * 100 + patch
  uint32_t cudart_version;
};

struct AlignmentRequirements {  // nvcompAlignmentRequirements_t
  size_t input;
  size_t output;
  size_t temp;
};

struct DeflateDecompressOpts {  // nvcompBatchedDeflateDecompressOpts_t
  DecompressBackend backend;
  int sort_before_hw_decompress;
  char reserved[56];
};
struct ZstdDecompressOpts {  // nvcompBatchedZstdDecompressOpts_t
  DecompressBackend backend;
  char reserved[60];
};
static_assert(sizeof(DeflateDecompressOpts) == 64 && sizeof(ZstdDecompressOpts) == 64);

using GetProperties = Status (*)(Properties*);
using GetStatusString = const char* (*)(Status);

// nvcompBatched{Deflate,Zstd}DecompressGetRequiredAlignments
template <typename Opts>
using GetRequiredAlignments = Status (*)(Opts, AlignmentRequirements*);
// nvcompBatched{Deflate,Zstd}DecompressGetTempSize(num_chunks, max_uncompressed_chunk_bytes,
// opts, temp_bytes, max_total_uncompressed_bytes, stream)
template <typename Opts>
using GetTempSize = Status (*)(size_t, size_t, Opts, size_t*, size_t, cudaStream_t);
// nvcompBatched{Deflate,Zstd}DecompressAsync(compressed_ptrs, compressed_bytes,
// uncompressed_buffer_bytes, uncompressed_bytes (out), num_chunks, temp, temp_bytes,
// uncompressed_ptrs, opts, statuses (out), stream); every array is in device memory.
template <typename Opts>
using DecompressAsync = Status (*)(const void* const*, const size_t*, const size_t*, size_t*,
                                   size_t, void* const, size_t, void* const*, Opts, Status*,
                                   cudaStream_t);

}  // namespace slidestream::shim::nvcomp::api
