// What this machine offers slidestream: GPUs, CUDA versions, cuFile / nvidia-fs, nvJPEG.
#pragma once

#include <filesystem>
#include <string>

namespace slidestream {

// Human-readable text, or a JSON object when `json` is true.
std::string describe_system(bool json);

// Asks the kernel to drop the file's clean pages from the page cache (posix_fadvise DONTNEED), so
// that the next read of it comes from the disk: for cold-read measurements. Pages still dirty stay
// (sync the file first). Throws Error naming the file when it cannot be opened.
void evict_from_page_cache(const std::filesystem::path& path);

}  // namespace slidestream
