// Where work runs: the CPU or one of the machine's CUDA GPUs. Every option struct that can touch
// a GPU names the GPU by its index (ReadOptions::cuda_device, pipeline::Options::cuda_device;
// the Zarr writer works on the GPU of its source, ImageView::cuda_device); front ends take it as
// text ("cpu", "cuda", "cuda:N").
#pragma once

#include <string>
#include <string_view>

namespace slidestream {

enum class Device { cpu, cuda };

std::string_view to_string(Device device) noexcept;  // "cpu" | "cuda"

// A device and, for CUDA, the index of the GPU (as cudaSetDevice counts them, after
// CUDA_VISIBLE_DEVICES).
struct DeviceSpec {
  Device kind = Device::cpu;
  int index = 0;

  friend bool operator==(const DeviceSpec&, const DeviceSpec&) = default;
};

// "cpu" | "cuda" (= cuda:0) | "cuda:N" with N a decimal index. Anything else is
// Error(invalid_argument) naming the text and the accepted forms. Does not check that the GPU
// exists (require_device does).
DeviceSpec parse_device(std::string_view text);

// "cpu" | "cuda:N" (always with the index).
std::string to_string(const DeviceSpec& spec);

// The CUDA GPUs this process can use: 0 in a build without CUDA, without a driver, or with no
// GPU visible. Never throws.
int cuda_device_count() noexcept;

// Nothing for the CPU or a GPU that exists; otherwise Error(invalid_argument) naming the GPUs
// there are, e.g. "cuda:7 does not exist: this machine has 1 GPU (cuda:0: NVIDIA H200)" or
// "cuda:0 is not usable: no CUDA GPU is usable here (no CUDA-capable device is detected)".
void require_device(const DeviceSpec& spec);

}  // namespace slidestream
