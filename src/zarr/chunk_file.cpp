#include "zarr/chunk_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <string>

#include "io/file.hpp"
#include "slidestream/error.hpp"

namespace slidestream::zarr::detail {
namespace {

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

}  // namespace

void set_chunk_write_hook(std::function<void(const std::filesystem::path&)> hook) {
  std::lock_guard lock(g_hook_mutex);
  g_hook = std::move(hook);
}

void write_chunk_file(const std::filesystem::path& path, const std::byte* data, size_t size,
                      size_t capacity, const ChunkFileOptions& options, ChunkFileStats& stats) {
  auto temp = path.parent_path() / ("." + path.filename().string() + ".partial");
  try {
    run_hook(path);
    const size_t rounded = (size + 4095) / 4096 * 4096;
    const bool aligned = (reinterpret_cast<uintptr_t>(data) % 4096) == 0;
    bool written = false;
    if (options.allow_direct && size >= options.direct_min_bytes && aligned &&
        capacity >= rounded && !stats.direct_refused.load(std::memory_order_relaxed)) {
      io::File f = io::File::open_direct_or_empty(temp, io::File::Mode::write_truncate);
      if (f.is_open()) {
        f.write_exact(std::span(data, rounded), 0);
        if (rounded != size) f.truncate(size);  // drop the block padding
        written = true;
        stats.direct_files.fetch_add(1, std::memory_order_relaxed);
      } else {
        stats.direct_refused.store(true, std::memory_order_relaxed);
      }
    }
    if (!written) {
      io::File f(temp, io::File::Mode::write_truncate);
      f.write_exact(std::span(data, size), 0);
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      int err = errno;
      throw Error(err == ENOSPC ? ErrorKind::disk_full : ErrorKind::io,
                  std::string("cannot rename into place: ") + std::strerror(err),
                  {.file = path.string()});
    }
  } catch (const Error& e) {
    ::unlink(temp.c_str());  // a temporary never outlives a failure
    throw about_chunk(e, path);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  stats.bytes.fetch_add(size, std::memory_order_relaxed);
  stats.files.fetch_add(1, std::memory_order_relaxed);
}

void sync_file_system(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(ErrorKind::io, std::string("cannot open directory: ") + std::strerror(errno),
                {.file = path.string()});
  }
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    throw Error(err == ENOSPC || err == EDQUOT ? ErrorKind::disk_full : ErrorKind::io,
                std::string("syncfs failed: ") + std::strerror(err), {.file = path.string()});
  }
}

}  // namespace slidestream::zarr::detail
