// The CUDA half of describe_system() (src/system/system_info.cpp): GPUs, runtime and driver
// versions, cuFile, nvJPEG, nvCOMP and nvJPEG2000 as this process can load them (through their
// shims). Built only with CUDA.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slidestream::sysinfo {

// {"cuda": {...}, "gpus": [...], "cufile": {...}, "nvjpeg": {...}, "nvcomp": {...},
// "nvjpeg2k": {...}}; never throws: what fails is reported as an "error" or "why_not" member.
nlohmann::json query_system();

// The number of usable CUDA GPUs; 0 (and *why, when given) when the runtime finds none or fails.
int cuda_device_count(std::string* why) noexcept;
// Their names ("NVIDIA H200"), by index; empty with *why when there are none.
std::vector<std::string> cuda_device_names(std::string* why);

}  // namespace slidestream::sysinfo
