// Compiled only when the library is built without CUDA (SLIDESTREAM_CUDA=OFF).
#include "core/cuda_memory.hpp"
#include "slidestream/error.hpp"

namespace slidestream::cuda {

std::shared_ptr<std::byte> allocate_device_shared(size_t, int) {
  throw Error(ErrorKind::unsupported, "this build of slidestream has no CUDA support");
}

bool compiled_with_cuda() noexcept { return false; }

}  // namespace slidestream::cuda
