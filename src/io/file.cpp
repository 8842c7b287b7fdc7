#include "io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "slidestream/error.hpp"
#include "slidestream/system.hpp"

namespace slidestream::io {
namespace {

Error errno_error(int err, const std::string& what, const std::filesystem::path& path,
                  int64_t offset = -1) {
  ErrorKind kind = ErrorKind::io;
  if (err == ENOENT) kind = ErrorKind::not_found;
  if (err == ENOSPC || err == EDQUOT) kind = ErrorKind::disk_full;
  if (err == EEXIST) kind = ErrorKind::already_exists;
  return Error(kind, what + ": " + std::strerror(err), {.file = path.string(), .offset = offset});
}

int open_flags(File::Mode mode) {
  switch (mode) {
    case File::Mode::read:
      return O_RDONLY;
    case File::Mode::write_new:
      return O_WRONLY | O_CREAT | O_EXCL;
    case File::Mode::write_truncate:
      return O_WRONLY | O_CREAT | O_TRUNC;
    case File::Mode::read_write:
      return O_RDWR | O_CREAT;
  }
  return O_RDONLY;
}

// What a path that is not a regular file is, for the error that refuses it.
const char* not_a_file(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory, not a file";
  if (S_ISFIFO(mode)) return "is a FIFO (named pipe), not a regular file";
  if (S_ISSOCK(mode)) return "is a socket, not a regular file";
  if (S_ISCHR(mode)) return "is a character device, not a regular file";
  if (S_ISBLK(mode)) return "is a block device, not a regular file";
  return "is not a regular file";
}

}  // namespace

File::File(const std::filesystem::path& path, Mode mode, bool direct) : path_(path) {
  // Reads open non-blocking: opening a FIFO for reading would otherwise wait for a writer
  // forever. Anything but a regular file is refused before a byte is read (a FIFO or device would
  // hang or stream forever); for a regular file O_NONBLOCK changes nothing, and it is cleared.
  const int nonblock = mode == Mode::read ? O_NONBLOCK : 0;
  int flags = open_flags(mode) | O_CLOEXEC | nonblock | (direct ? O_DIRECT : 0);
  fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0) throw errno_error(errno, "cannot open", path);
  if (mode == Mode::read) {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      throw errno_error(err, "cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      fd_ = -1;
      throw Error(S_ISDIR(st.st_mode) ? ErrorKind::format : ErrorKind::invalid_argument,
                  not_a_file(st.st_mode), {.file = path.string()});
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  }
}

File File::open_direct_or_empty(const std::filesystem::path& path, Mode mode) {
  File file;
  int fd = ::open(path.c_str(), open_flags(mode) | O_CLOEXEC | O_DIRECT, 0644);
  if (fd < 0) {
    if (errno == EINVAL) return file;  // the file system has no O_DIRECT (tmpfs)
    throw errno_error(errno, "cannot open (O_DIRECT)", path);
  }
  file.fd_ = fd;
  file.path_ = path;
  return file;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

uint64_t File::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw errno_error(errno, "cannot stat", path_);
  return static_cast<uint64_t>(st.st_size);
}

size_t File::read_some(std::span<std::byte> buffer, uint64_t offset) const {
  size_t done = 0;
  while (done < buffer.size()) {
    ssize_t n =
        ::pread(fd_, buffer.data() + done, buffer.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error(errno, "read failed", path_, static_cast<int64_t>(offset + done));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

void File::read_exact(std::span<std::byte> buffer, uint64_t offset) const {
  size_t got = read_some(buffer, offset);
  if (got != buffer.size()) {
    throw Error(ErrorKind::format,
                "file is truncated: wanted " + std::to_string(buffer.size()) + " bytes, got " +
                    std::to_string(got),
                {.file = path_.string(), .offset = static_cast<int64_t>(offset)});
  }
}

namespace {

// pwrite until every byte landed: 0, or the errno with *done the bytes that did (ENOSPC when the
// kernel accepts nothing, which is what a full disk looks like to a short write).
int write_all(int fd, std::span<const std::byte> buffer, uint64_t offset, size_t* done) noexcept {
  *done = 0;
  while (*done < buffer.size()) {
    ssize_t n = ::pwrite(fd, buffer.data() + *done, buffer.size() - *done,
                         static_cast<off_t>(offset + *done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return ENOSPC;
    *done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

int File::try_write_exact(std::span<const std::byte> buffer, uint64_t offset) const noexcept {
  size_t done = 0;
  return write_all(fd_, buffer, offset, &done);
}

void File::write_exact(std::span<const std::byte> buffer, uint64_t offset) const {
  size_t done = 0;
  if (int err = write_all(fd_, buffer, offset, &done); err != 0) {
    throw errno_error(err, "write failed", path_, static_cast<int64_t>(offset + done));
  }
}

bool File::set_direct(bool direct) const noexcept {
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0) return false;
  flags = direct ? (flags | O_DIRECT) : (flags & ~O_DIRECT);
  return ::fcntl(fd_, F_SETFL, flags) == 0;
}

void File::sync() const {
  if (::fsync(fd_) != 0) throw errno_error(errno, "fsync failed", path_);
}

void File::truncate(uint64_t size) const {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
    throw errno_error(errno, "ftruncate failed", path_);
}

void File::advise_dont_need() const noexcept {
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
}

}  // namespace slidestream::io

namespace slidestream {

void evict_from_page_cache(const std::filesystem::path& path) {
  io::File(path, io::File::Mode::read).advise_dont_need();
}

}  // namespace slidestream

namespace slidestream::io {

void sync_directory(const std::filesystem::path& directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw errno_error(errno, "cannot open directory", directory);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw errno_error(err, "fsync of directory failed", directory);
}

}  // namespace slidestream::io
