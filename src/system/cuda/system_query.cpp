#include "system/cuda/system_query.hpp"

#include <cuda_runtime_api.h>

#include <string>

#include "shim/cufile.hpp"
#include "shim/nvcomp.hpp"
#include "shim/nvjpeg.hpp"
#include "shim/nvjpeg2k.hpp"
#include "slidestream/read_options.hpp"

namespace slidestream::sysinfo {
namespace {

std::string version_text(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace

int cuda_device_count(std::string* why) noexcept {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why) *why = cudaGetErrorString(status);
    (void)cudaGetLastError();
    return 0;
  }
  if (count == 0 && why) *why = "the CUDA runtime sees no GPU";
  return count;
}

std::vector<std::string> cuda_device_names(std::string* why) {
  std::vector<std::string> names;
  const int count = cuda_device_count(why);
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, d) == cudaSuccess) {
      names.emplace_back(p.name);
    } else {
      (void)cudaGetLastError();
      names.emplace_back("(properties unreadable)");
    }
  }
  return names;
}

nlohmann::json query_system() {
  nlohmann::json j;
  int runtime = 0, driver = 0;
  nlohmann::json c;
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) c["runtime_version"] = version_text(runtime);
  if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) {
    c["driver_version"] = version_text(driver);
  }
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  nlohmann::json gpus = nlohmann::json::array();
  if (status != cudaSuccess) {
    c["error"] = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
    (void)cudaGetLastError();
    count = 0;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, d) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    nlohmann::json g;
    g["index"] = d;
    g["name"] = p.name;
    g["compute_capability"] = std::to_string(p.major) + "." + std::to_string(p.minor);
    g["memory_bytes"] = p.totalGlobalMem;
    g["multiprocessors"] = p.multiProcessorCount;
    g["async_engines"] = p.asyncEngineCount;
    char bus[32] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof(bus), d) == cudaSuccess) g["pci_bus_id"] = bus;
    gpus.push_back(g);
  }
  j["cuda"] = c;
  j["gpus"] = gpus;

  const auto& cf = shim::cufile::availability();
  nlohmann::json cufile;
  cufile["library_loaded"] = cf.library_loaded;
  if (!cf.library_path.empty()) cufile["library"] = cf.library_path;
  cufile["driver_open"] = cf.driver_open;
  cufile["nvidia_fs"] = cf.nvidia_fs;
  // GDS proper needs the driver open and nvidia-fs; without nvidia-fs file registration fails
  // (or, where cufile.json allows it, runs in compatibility mode: POSIX underneath).
  cufile["gds_usable"] = cf.driver_open && cf.nvidia_fs;
  if (!cf.why.empty()) cufile["why_not"] = cf.why;
  j["cufile"] = cufile;

  nlohmann::json nv;
  if (count > 0) {
    const auto& a = shim::nvjpeg::availability();
    nv["library_loaded"] = a.loaded;
    if (!a.library_path.empty()) nv["library"] = a.library_path;
    if (a.loaded) {
      nv["version"] = std::to_string(a.version_major) + "." + std::to_string(a.version_minor) +
                      "." + std::to_string(a.version_patch);
    }
    nv["hardware_backend"] = a.hardware_backend;
    nv["gpu_backend"] = a.gpu_backend;
    if (!a.why.empty()) nv["why_not"] = a.why;
  } else {
    nv["library_loaded"] = false;
    nv["why_not"] = "no CUDA device to probe nvJPEG's backends on";
  }
  j["nvjpeg"] = nv;

  // Loading either library needs no device. Whether a read uses it is that read's option
  // (ReadOptions::gpu_byte_codecs, gpu_jpeg2000); "lossy_streams" reports the default.
  auto decoder = [](bool loaded, const std::string& path, int major, int minor, int patch,
                    bool usable, const std::string& why) {
    nlohmann::json d;
    d["library_loaded"] = loaded;
    if (!path.empty()) d["library"] = path;
    if (loaded) {
      d["version"] =
          std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    }
    d["usable"] = usable;
    if (!usable) d["why_not"] = why;
    return d;
  };
  {
    const auto& a = shim::nvcomp::availability();
    std::string why;
    bool usable = shim::nvcomp::enabled(&why);
    if (usable && count == 0) {
      usable = false;
      why = "no CUDA device";
    }
    nlohmann::json d = decoder(a.loaded, a.library_path, a.version_major, a.version_minor,
                               a.version_patch, usable, why);
    d["codecs"] = {"deflate", "zstd"};
    j["nvcomp"] = d;
  }
  {
    const auto& a = shim::nvjpeg2k::availability();
    std::string why;
    bool usable = shim::nvjpeg2k::enabled(&why);
    if (usable && count == 0) {
      usable = false;
      why = "no CUDA device";
    }
    nlohmann::json d = decoder(a.loaded, a.library_path, a.version_major, a.version_minor,
                               a.version_patch, usable, why);
    d["lossy_streams"] = ReadOptions{}.gpu_jpeg2000 == GpuJpeg2000::all;
    j["nvjpeg2k"] = d;
  }
  return j;
}

}  // namespace slidestream::sysinfo
