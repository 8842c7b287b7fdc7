#include "zarr/chunk_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <utility>

#include "io/file.hpp"
#include "slidestream/error.hpp"

namespace slidestream::zarr::detail {
namespace {

constexpr size_t kBlock = 4096;

std::mutex g_hook_mutex;
std::function<void(const std::filesystem::path&)> g_hook;

void run_hook(const std::filesystem::path& path) {
  std::function<void(const std::filesystem::path&)> hook;
  {
    std::lock_guard lock(g_hook_mutex);
    hook = g_hook;
  }
  if (hook) hook(path);
}

// The error names the chunk's real path, not the temporary.
Error about_chunk(const Error& e, const std::filesystem::path& path) {
  return Error(e.kind(), e.cause() + " (writing chunk file " + path.string() + ")",
               {.file = path.string(), .offset = e.context().offset});
}

Error write_error(int err, const std::filesystem::path& path, uint64_t offset) {
  return Error(err == ENOSPC || err == EDQUOT ? ErrorKind::disk_full : ErrorKind::io,
               std::string("write failed: ") + std::strerror(err),
               {.file = path.string(), .offset = static_cast<int64_t>(offset)});
}

std::filesystem::path temporary_for(const std::filesystem::path& path) {
  std::string name = ".";  // appended piecewise: GCC 12 warns falsely on "." + string (-Wrestrict)
  name += path.filename().string();
  name += ".partial";
  return path.parent_path() / name;
}

void rename_into_place(const std::filesystem::path& temp, const std::filesystem::path& path) {
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    throw Error(err == ENOSPC ? ErrorKind::disk_full : ErrorKind::io,
                std::string("cannot rename into place: ") + std::strerror(err),
                {.file = path.string()});
  }
}

// Runs `body` on the temporary of `path`; a temporary never outlives a failure.
template <typename Body>
auto with_temporary(const std::filesystem::path& path, Body&& body) {
  const auto temp = temporary_for(path);
  try {
    run_hook(path);
    return body(temp);
  } catch (const Error& e) {
    ::unlink(temp.c_str());
    throw about_chunk(e, path);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

// The aligned body with O_DIRECT, piece by piece as each becomes ready, then the tail through the
// page cache. False when the file system refused O_DIRECT before anything was written (the caller
// then rewrites the file buffered); *ready_upto counts the pieces already waited for.
bool write_direct(const std::filesystem::path& temp, const std::byte* data, size_t size,
                  size_t body, std::span<const size_t> ends,
                  const std::function<void(size_t)>& ready, size_t* ready_upto,
                  ChunkFileStats& stats) {
  io::File f = io::File::open_direct_or_empty(temp, io::File::Mode::write_truncate);
  if (!f.is_open()) return false;
  size_t start = 0;
  for (size_t i = 0; i < ends.size(); ++i) {
    ready(i);
    *ready_upto = i + 1;
    const size_t end = std::min(ends[i], body);
    if (end <= start) continue;
    if (int err = f.try_write_exact(std::span(data + start, end - start), start); err != 0) {
      // EINVAL on the first write: this file system takes O_DIRECT opens but not these writes (a
      // logical block larger than 4 KiB). Any other errno, or EINVAL later, is a real failure.
      if (err == EINVAL && start == 0) return false;
      throw write_error(err, temp, start);
    }
    start = end;
  }
  if (size > body) {
    if (!f.set_direct(false)) f = io::File(temp, io::File::Mode::read_write);
    f.write_exact(std::span(data + body, size - body), body);
  }
  stats.direct_files.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

void set_chunk_write_hook(std::function<void(const std::filesystem::path&)> hook) {
  std::lock_guard lock(g_hook_mutex);
  g_hook = std::move(hook);
}

void write_chunk_file_in_pieces(const std::filesystem::path& path, const std::byte* data,
                                size_t size, std::span<const size_t> ends,
                                const std::function<void(size_t)>& ready,
                                const ChunkFileOptions& options, ChunkFileStats& stats) {
  with_temporary(path, [&](const std::filesystem::path& temp) {
    const size_t body = size / kBlock * kBlock;
    const bool aligned = reinterpret_cast<uintptr_t>(data) % kBlock == 0;
    size_t ready_upto = 0;
    bool written = false;
    if (options.allow_direct && aligned && body > 0 && body >= options.direct_min_bytes &&
        !stats.direct_refused.load(std::memory_order_relaxed)) {
      written = write_direct(temp, data, size, body, ends, ready, &ready_upto, stats);
      if (!written) stats.direct_refused.store(true, std::memory_order_relaxed);
    }
    if (!written) {
      for (size_t i = ready_upto; i < ends.size(); ++i) ready(i);
      io::File f(temp, io::File::Mode::write_truncate);
      f.write_exact(std::span(data, size), 0);
    }
    rename_into_place(temp, path);
  });
  stats.bytes.fetch_add(size, std::memory_order_relaxed);
  stats.files.fetch_add(1, std::memory_order_relaxed);
}

void write_chunk_file(const std::filesystem::path& path, const std::byte* data, size_t size,
                      const ChunkFileOptions& options, ChunkFileStats& stats) {
  const size_t whole[] = {size};
  write_chunk_file_in_pieces(
      path, data, size, whole, [](size_t) {}, options, stats);
}

bool write_chunk_file_by(const std::filesystem::path& path, size_t size, ChunkFileStats& stats,
                         const std::function<bool(const io::File&)>& write) {
  const bool landed = with_temporary(path, [&](const std::filesystem::path& temp) {
    io::File f = io::File::open_direct_or_empty(temp, io::File::Mode::write_truncate);
    if (!f.is_open()) f = io::File(temp, io::File::Mode::write_truncate);
    if (!write(f)) {
      ::unlink(temp.c_str());
      return false;
    }
    rename_into_place(temp, path);
    return true;
  });
  if (landed) {
    stats.bytes.fetch_add(size, std::memory_order_relaxed);
    stats.files.fetch_add(1, std::memory_order_relaxed);
  }
  return landed;
}

FileSystemSync::FileSystemSync(const std::filesystem::path& directory) : directory_(directory) {
  fd_ = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) {
    throw Error(ErrorKind::io, std::string("cannot open directory: ") + std::strerror(errno),
                {.file = directory.string()});
  }
}

FileSystemSync::~FileSystemSync() {
  if (fd_ >= 0) ::close(fd_);
}

FileSystemSync::FileSystemSync(FileSystemSync&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), directory_(std::move(other.directory_)) {}

FileSystemSync& FileSystemSync::operator=(FileSystemSync&& other) noexcept {
  std::swap(fd_, other.fd_);
  std::swap(directory_, other.directory_);
  return *this;
}

void FileSystemSync::sync() const {
  if (fd_ < 0) throw Error(ErrorKind::io, "no file system to sync", {.file = directory_.string()});
  if (::syncfs(fd_) != 0) {
    int err = errno;
    throw Error(err == ENOSPC || err == EDQUOT ? ErrorKind::disk_full : ErrorKind::io,
                std::string("syncfs failed: ") + std::strerror(err), {.file = directory_.string()});
  }
}

}  // namespace slidestream::zarr::detail
