// cuFile writes for Zarr: device stages (device memory registered with cuFile, plus a stream) into
// which a unit is gathered from the caller's pitched GPU view, then written with cuFileWrite; and
// the probe that tells whether cuFile can write files in a directory at all.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/check.hpp"
#include "cuda/resources.hpp"
#include "shim/cufile.hpp"
#include "slidestream/error.hpp"
#include "zarr/cuda/stage_cache.hpp"
#include "zarr/device_staging.hpp"

namespace slidestream::zarr::device {
namespace {

// Device memory, its cuFile registration and a stream, kept across writers: cudaMalloc and
// cuFileBufRegister of tens of MiB cost more than writing them. Bounded like the pinned stages.
struct Stage {
  int device = 0;
  cuda::DeviceBuffer buffer;
  shim::cufile::BufferRegistration registration;  // empty where cuFile refused (still writable)
  cuda::Stream stream;
};

constexpr size_t kCacheLimit = size_t{1} << 30;

StageCache<Stage>& cache() {
  // Leaked on purpose: device memory and cuFile registrations must not be released after the
  // CUDA runtime and cuFile's driver have shut down at exit.
  static auto* instance = new StageCache<Stage>(kCacheLimit);
  return *instance;
}

std::unique_ptr<Stage> take_stage(size_t bytes, int device) {
  if (auto stage = cache().take_cached(bytes, device)) return stage;
  cuda::check(cudaSetDevice(device), "cudaSetDevice");
  auto stage = std::make_unique<Stage>();
  stage->device = device;
  stage->buffer = cuda::DeviceBuffer((bytes + 4095) / 4096 * 4096);
  // Registered buffers go to the disk by DMA without cuFile's internal bounce buffers.
  stage->registration =
      shim::cufile::BufferRegistration(stage->buffer.data(), stage->buffer.size());
  return stage;
}

class CufileDeviceStage final : public DeviceStage {
 public:
  CufileDeviceStage(size_t bytes, int cuda_device) : stage_(take_stage(bytes, cuda_device)) {}
  ~CufileDeviceStage() override {
    // Copies may be in flight after an exception: the memory is reused only once they landed.
    cache().give_when_idle(std::move(stage_));
  }
  size_t size() const noexcept override { return stage_->buffer.size(); }

  void copy_async(const ImageView& src, size_t dst_offset, size_t dst_pitch) override {
    cuda::check(cudaSetDevice(stage_->device), "cudaSetDevice");
    cuda::check(cudaMemcpy2DAsync(stage_->buffer.data() + dst_offset, dst_pitch, src.data,
                                  src.row_pitch, src.row_bytes(), static_cast<size_t>(src.height),
                                  cudaMemcpyDeviceToDevice, stage_->stream.get()),
                "cudaMemcpy2DAsync (GPU view to cuFile stage)");
  }
  void upload_async(const std::byte* host, size_t bytes, size_t dst_offset) override {
    cuda::check(cudaSetDevice(stage_->device), "cudaSetDevice");
    cuda::check(cudaMemcpyAsync(stage_->buffer.data() + dst_offset, host, bytes,
                                cudaMemcpyHostToDevice, stage_->stream.get()),
                "cudaMemcpyAsync (host to cuFile stage)");
  }
  void wait() override { stage_->stream.synchronize(); }

  bool write_file(int fd, size_t bytes, std::string* why) override {
    shim::cufile::FileHandle handle = shim::cufile::FileHandle::try_register(fd, why);
    if (!handle) return false;
    handle.write_exact(stage_->buffer.data(), bytes, 0, 0);
    return true;
  }

 private:
  std::unique_ptr<Stage> stage_;
};

}  // namespace

std::unique_ptr<DeviceStage> make_device_stage(size_t bytes, int cuda_device) {
  return std::make_unique<CufileDeviceStage>(bytes, cuda_device);
}

std::string cufile_write_problem(const std::filesystem::path& directory) {
  const auto& a = shim::cufile::availability();
  if (!a.driver_open) return a.why.empty() ? std::string("cuFile driver not opened") : a.why;
  static std::mutex mutex;
  static std::string remembered;  // why registration cannot work on this machine
  {
    std::lock_guard lock(mutex);
    if (!remembered.empty()) return remembered;
  }
  static std::atomic<unsigned> counter{0};
  const auto probe = directory / (".slidestream-cufile-probe-" + std::to_string(::getpid()) + "-" +
                                  std::to_string(counter.fetch_add(1)));
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0644);
  if (fd < 0 && errno == EINVAL) {
    fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  }
  if (fd < 0) {
    return "cannot create a probe file in " + directory.string() + ": " + std::strerror(errno);
  }
  std::string why;
  bool registered = false;
  {
    shim::cufile::FileHandle handle = shim::cufile::FileHandle::try_register(fd, &why);
    registered = static_cast<bool>(handle);
  }  // deregistered before the descriptor closes
  ::close(fd);
  ::unlink(probe.c_str());
  if (registered) return {};
  if (!a.nvidia_fs) {
    std::lock_guard lock(mutex);
    remembered = why;
  }
  return why;
}

bool cufile_compat_mode() {
  // The kernel module alone decides it: asking cuFile would open its driver.
  return !shim::cufile::nvidia_fs_present();
}

}  // namespace slidestream::zarr::device
