// Device memory owned by shared_ptr, for Image. Built with CUDA, cudaMalloc; without, an
// `unsupported` error. The rest of the CUDA RAII types live in src/cuda/.
#pragma once

#include <cstddef>
#include <memory>

namespace slidestream::cuda {

std::shared_ptr<std::byte> allocate_device_shared(size_t bytes, int device);
bool compiled_with_cuda() noexcept;

}  // namespace slidestream::cuda
