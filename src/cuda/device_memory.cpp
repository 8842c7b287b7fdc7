#include <cuda_runtime_api.h>

#include <string>

#include "core/cuda_memory.hpp"
#include "cuda/check.hpp"

namespace slidestream::cuda {

void throw_cuda_error(cudaError_t status, const char* what) {
  (void)cudaGetLastError();  // clear the sticky-free error state so later calls can proceed
  ErrorKind kind = status == cudaErrorMemoryAllocation ? ErrorKind::out_of_memory : ErrorKind::cuda;
  throw Error(kind, std::string(what) + ": " + cudaGetErrorName(status) + " (" +
                        cudaGetErrorString(status) + ")");
}

std::shared_ptr<std::byte> allocate_device_shared(size_t bytes, int device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  void* p = nullptr;
  cudaError_t status = cudaMalloc(&p, bytes);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error(status == cudaErrorMemoryAllocation ? ErrorKind::out_of_memory : ErrorKind::cuda,
                "cannot allocate " + std::to_string(bytes) + " bytes on GPU " +
                    std::to_string(device) + ": " + cudaGetErrorString(status));
  }
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { cudaFree(q); });
}

bool compiled_with_cuda() noexcept { return true; }

}  // namespace slidestream::cuda
