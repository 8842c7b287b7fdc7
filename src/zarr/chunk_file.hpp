// Landing one encoded chunk (or shard) as a file: written under a temporary name and renamed into
// place, so that a chunk file either holds a whole chunk or does not exist. Large buffers that are
// 4 KiB-aligned go out with O_DIRECT (the only way to the disk's durable-write limit, see
// BENCH-ANCHORS.md), the rest through the page cache.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <functional>

namespace slidestream::zarr::detail {

struct ChunkFileOptions {
  bool allow_direct = true;
  size_t direct_min_bytes = 128 * 1024;  // smaller files gain nothing from bypassing the cache
};

// Outcome flags shared by all writes of one array.
struct ChunkFileStats {
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> direct_files{0};
  std::atomic<bool> direct_refused{false};  // the file system has no O_DIRECT
};

// Writes `size` bytes at `data` to `path`. `capacity` is how many bytes at `data` may be read
// (O_DIRECT writes whole 4 KiB blocks and then truncates); bytes in [size, capacity) are ignored.
// Test hook: a non-null fail_hook is called before each write and may throw.
void write_chunk_file(const std::filesystem::path& path, const std::byte* data, size_t size,
                      size_t capacity, const ChunkFileOptions& options, ChunkFileStats& stats);

// syncfs() on the file system holding `path`: one call that makes every file written there durable
// (their data and their directory entries), instead of one fsync per chunk file.
void sync_file_system(const std::filesystem::path& path);

// For tests: a function called before every chunk file write (thread-safe; may throw).
void set_chunk_write_hook(std::function<void(const std::filesystem::path&)> hook);

}  // namespace slidestream::zarr::detail
