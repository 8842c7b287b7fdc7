// Which CUDA GPUs exist, and the clear error for one that does not. Asked of the CUDA runtime in
// system/cuda/system_query.cpp; a build without CUDA has none.
#include <string>
#include <vector>

#include "slidestream/device.hpp"
#include "slidestream/error.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include "system/cuda/system_query.hpp"
#endif

namespace slidestream {
namespace {

// The names of the usable GPUs, by index; empty with *why when there are none.
std::vector<std::string> gpu_names(std::string* why) {
#if SLIDESTREAM_HAVE_CUDA
  return sysinfo::cuda_device_names(why);
#else
  *why = "this build of slidestream has no CUDA support";
  return {};
#endif
}

}  // namespace

int cuda_device_count() noexcept {
#if SLIDESTREAM_HAVE_CUDA
  return sysinfo::cuda_device_count(nullptr);
#else
  return 0;
#endif
}

void require_device(const DeviceSpec& spec) {
  if (spec.kind == Device::cpu) return;
  const std::string name = to_string(spec);
  if (spec.index < 0) {
    throw Error(ErrorKind::invalid_argument, name + " does not exist: GPU indices start at 0");
  }
  if (spec.index < cuda_device_count()) return;
  std::string why;
  const std::vector<std::string> names = gpu_names(&why);
  if (names.empty()) {
    throw Error(ErrorKind::invalid_argument,
                name + " is not usable: no CUDA GPU is usable here (" + why + ")");
  }
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) {
    list += (i ? ", cuda:" : "cuda:") + std::to_string(i) + ": " + names[i];
  }
  throw Error(ErrorKind::invalid_argument,
              name + " does not exist: this machine has " + std::to_string(names.size()) +
                  (names.size() == 1 ? " GPU (" : " GPUs (") + list + ")");
}

}  // namespace slidestream
