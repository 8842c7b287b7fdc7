// What this machine offers slidestream: GPUs, CUDA versions, cuFile / nvidia-fs, nvJPEG.
#pragma once

#include <string>

namespace slidestream {

// Human-readable text, or a JSON object when `json` is true.
std::string describe_system(bool json);

}  // namespace slidestream
