// CPU-only builds: GPU views cannot be written or read. The CUDA build compiles
// zarr/cuda/device_staging.cpp instead.
#include "zarr/device_staging.hpp"

#if !SLIDESTREAM_HAVE_CUDA

#include <cstring>

#include "slidestream/error.hpp"

namespace slidestream::zarr::device {

std::unique_ptr<StagingSlot> make_staging_slot(size_t, int) {
  throw Error(ErrorKind::unsupported, "this build of slidestream has no CUDA support");
}

std::unique_ptr<DeviceStage> make_device_stage(size_t, int) {
  throw Error(ErrorKind::unsupported, "this build of slidestream has no CUDA support");
}

std::string cufile_write_problem(const std::filesystem::path&) {
  return "this build of slidestream has no CUDA support";
}

bool cufile_compat_mode() {
  return false;
}

void copy_view(const ImageView& dst, const ImageView& src) {
  if (dst.device == Device::cuda || src.device == Device::cuda) {
    throw Error(ErrorKind::unsupported, "this build of slidestream has no CUDA support");
  }
  for (int64_t y = 0; y < src.height; ++y) std::memcpy(dst.row(y), src.row(y), src.row_bytes());
}

}  // namespace slidestream::zarr::device

#endif
