// One checker for CUDA runtime return codes: every call is checked, failures become Error
// (out_of_memory for allocation failures, cuda otherwise) carrying the call that failed.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "slidestream/error.hpp"

namespace slidestream::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* what);

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw_cuda_error(status, what);
}

}  // namespace slidestream::cuda
