// The CUDA half of describe_system() (src/system/system_info.cpp): GPUs, runtime and driver
// versions, cuFile, nvJPEG, nvCOMP and nvJPEG2000 as this process can load them (through their
// shims). Built only with CUDA.
#pragma once

#include <nlohmann/json.hpp>

namespace slidestream::sysinfo {

// {"cuda": {...}, "gpus": [...], "cufile": {...}, "nvjpeg": {...}, "nvcomp": {...},
// "nvjpeg2k": {...}}; never throws: what fails is reported as an "error" or "why_not" member.
nlohmann::json query_system();

}  // namespace slidestream::sysinfo
