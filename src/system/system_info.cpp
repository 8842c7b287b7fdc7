// describe_system(): what this machine offers slidestream. The system room sits above core, cuda,
// io, codec and the shims, and gathers what each can say about the machine, so that none of them
// reaches up. The CUDA queries live in system/cuda/system_query.cpp; a build without CUDA still
// reports what it can see from the host (nvidia-fs, whether libcufile/libnvjpeg/libnvcomp/
// libnvjpeg2k exist) so that `info --system` explains itself.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "slidestream/system.hpp"
#include "slidestream/version.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include "system/cuda/system_query.hpp"
#else
#include "shim/library.hpp"
#endif

namespace slidestream {
namespace {

#if !SLIDESTREAM_HAVE_CUDA
bool nvidia_fs_visible() {
  std::error_code ec;
  if (std::filesystem::exists("/proc/driver/nvidia-fs", ec)) return true;
  for (const auto& entry : std::filesystem::directory_iterator("/dev", ec)) {
    if (entry.path().filename().string().starts_with("nvidia-fs")) return true;
  }
  return false;
}

nlohmann::json host_only() {
  nlohmann::json j;
  j["cuda"] = {{"error", "this build of slidestream has no CUDA support (SLIDESTREAM_CUDA=OFF)"}};
  j["gpus"] = nlohmann::json::array();
  j["cufile"] = {{"library_loaded", shim::loadable({"libcufile.so.0"})},
                 {"nvidia_fs", nvidia_fs_visible()},
                 {"gds_usable", false},
                 {"why_not", "built without CUDA"}};
  j["nvjpeg"] = {{"library_loaded", shim::loadable({"libnvjpeg.so.13", "libnvjpeg.so"})},
                 {"hardware_backend", false},
                 {"why_not", "built without CUDA"}};
  j["nvcomp"] = {{"library_loaded", shim::loadable({"libnvcomp.so.6"})},
                 {"usable", false},
                 {"why_not", "built without CUDA"}};
  j["nvjpeg2k"] = {{"library_loaded", shim::loadable({"libnvjpeg2k.so.0"})},
                   {"usable", false},
                   {"why_not", "built without CUDA"}};
  return j;
}
#endif

std::string yes_no(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_boolean() && j[key].get<bool>() ? "yes" : "no";
}

std::string text_of(const nlohmann::json& j) {
  std::string t;
  t += "slidestream " + j["slidestream"]["version"].get<std::string>() +
       " (CUDA build: " + (j["slidestream"]["cuda_build"].get<bool>() ? "yes" : "no") + ")\n";
  t += "CPU threads: " + std::to_string(j["cpu_threads"].get<unsigned>()) + "\n";
  const auto& c = j["cuda"];
  t += "CUDA runtime: " + c.value("runtime_version", std::string("-")) +
       ", driver: " + c.value("driver_version", std::string("-"));
  if (c.contains("error")) t += " (" + c["error"].get<std::string>() + ")";
  t += "\n";
  for (const auto& g : j["gpus"]) {
    t += "GPU " + std::to_string(g["index"].get<int>()) + ": " + g["name"].get<std::string>() +
         ", compute " + g["compute_capability"].get<std::string>() + ", " +
         std::to_string(g["memory_bytes"].get<uint64_t>() >> 20) + " MiB, " +
         std::to_string(g["multiprocessors"].get<int>()) + " SMs\n";
  }
  if (j["gpus"].empty()) t += "GPUs: none\n";
  const auto& f = j["cufile"];
  t += "cuFile: library " + yes_no(f, "library_loaded") + ", driver open " +
       yes_no(f, "driver_open") + ", nvidia-fs " + yes_no(f, "nvidia_fs") + ", GDS usable " +
       yes_no(f, "gds_usable");
  if (f.contains("why_not")) t += " (" + f["why_not"].get<std::string>() + ")";
  t += "\n";
  const auto& n = j["nvjpeg"];
  t += "nvJPEG: library " + yes_no(n, "library_loaded");
  if (n.contains("version")) t += " " + n["version"].get<std::string>();
  t += ", hardware backend " + yes_no(n, "hardware_backend") + ", GPU backend " +
       yes_no(n, "gpu_backend");
  if (n.contains("why_not")) t += " (" + n["why_not"].get<std::string>() + ")";
  t += "\n";
  // The GPU decoders of the other codecs: whether a GPU read uses them, and why not.
  auto decoder_line = [&t, &j](const char* key, const char* label, const char* what) {
    if (!j.contains(key)) return;
    const auto& d = j[key];
    t += std::string(label) + " (" + what + "): library " + yes_no(d, "library_loaded");
    if (d.contains("version")) t += " " + d["version"].get<std::string>();
    t += ", used by GPU reads " + yes_no(d, "usable");
    if (d.contains("why_not")) t += " (" + d["why_not"].get<std::string>() + ")";
    t += "\n";
  };
  decoder_line("nvcomp", "nvCOMP", "deflate, zstd tiles");
  decoder_line("nvjpeg2k", "nvJPEG2000", "JPEG 2000 tiles");
  return t;
}

}  // namespace

std::string describe_system(bool json) {
#if SLIDESTREAM_HAVE_CUDA
  nlohmann::json j = sysinfo::query_system();
#else
  nlohmann::json j = host_only();
#endif
  j["slidestream"] = {{"version", std::string(version)},
                      {"cuda_build", bool(SLIDESTREAM_HAVE_CUDA)}};
  j["cpu_threads"] = std::thread::hardware_concurrency();
  return json ? j.dump(2) + "\n" : text_of(j);
}

}  // namespace slidestream
