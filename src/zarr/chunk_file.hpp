// Landing one encoded chunk (or shard) as a file: written under a temporary name and renamed into
// place, so that a chunk file either holds a whole chunk or does not exist.
//
// The 4 KiB-aligned body of a large buffer goes out with O_DIRECT (large aligned direct writes are
// the only way to the disk's durable-write limit, see BENCH-ANCHORS.md); the unaligned tail (a
// shard index, an odd chunk size, the end of a compressed chunk) follows through the page cache.
// The tail starts on a block boundary past the end of the file, so the page cache never reads a
// block back to complete it (writing a padded block and truncating, as before, made the file system
// read the last block back to zero its end).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>

#include "io/file.hpp"

namespace slidestream::zarr::detail {

struct ChunkFileOptions {
  bool allow_direct = true;
  size_t direct_min_bytes = 128 * 1024;  // smaller files gain nothing from bypassing the cache
};

// Outcome counters shared by all writes of one array.
struct ChunkFileStats {
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> direct_files{0};    // body written with O_DIRECT
  std::atomic<uint64_t> cufile_files{0};    // written with cuFileWrite from device memory
  std::atomic<bool> direct_refused{false};  // the file system has no O_DIRECT (tmpfs)
};

// Writes `size` bytes at `data` to `path` (the O_DIRECT body needs `data` 4 KiB-aligned; otherwise
// everything goes through the page cache).
void write_chunk_file(const std::filesystem::path& path, const std::byte* data, size_t size,
                      const ChunkFileOptions& options, ChunkFileStats& stats);

// The same for bytes that become ready in pieces (copies from a GPU still landing): ends[i] is
// where piece i ends (ascending, 4 KiB-aligned except the last, which is `size`), and ready(i)
// returns once piece i is in memory (it may throw). Each piece is written as soon as it is ready,
// so the disk starts on a large unit while the rest of it is still being copied.
void write_chunk_file_in_pieces(const std::filesystem::path& path, const std::byte* data,
                                size_t size, std::span<const size_t> ends,
                                const std::function<void(size_t)>& ready,
                                const ChunkFileOptions& options, ChunkFileStats& stats);

// The same landing (temporary, rename, cleanup, errors naming `path`) for bytes that do not come
// from host memory: `write` gets the temporary file, opened with O_DIRECT where the file system
// allows, and writes all `size` bytes itself (cuFileWrite). When it returns false nothing is
// landed (the temporary is removed) and the caller takes another path.
bool write_chunk_file_by(const std::filesystem::path& path, size_t size, ChunkFileStats& stats,
                         const std::function<bool(const io::File&)>& write);

// A descriptor on the file system of an output directory, opened before its first chunk is
// written. sync() is one syncfs(): it flushes every chunk file there (their buffered tails, and the
// file system's journal: sizes, extents, directory entries), then the disk's write cache, instead
// of one fsync (one journal commit and cache flush) per chunk file. syncfs reports the writeback
// errors of the whole file system since this descriptor was opened (Linux >= 5.8), which is why it
// is opened up front and not at the end: an error in the background writeback of a tail before
// finish() still fails the write.
class FileSystemSync {
 public:
  FileSystemSync() = default;
  explicit FileSystemSync(const std::filesystem::path& directory);
  ~FileSystemSync();
  FileSystemSync(FileSystemSync&& other) noexcept;
  FileSystemSync& operator=(FileSystemSync&& other) noexcept;
  FileSystemSync(const FileSystemSync&) = delete;
  FileSystemSync& operator=(const FileSystemSync&) = delete;
  void sync() const;  // throws Error(disk_full or io) naming the directory

 private:
  int fd_ = -1;
  std::filesystem::path directory_;
};

// For tests: a function called before every chunk file write (thread-safe; may throw).
void set_chunk_write_hook(std::function<void(const std::filesystem::path&)> hook);

}  // namespace slidestream::zarr::detail
