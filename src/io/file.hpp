// A file descriptor owned by one object (RAII), with reads and writes that either complete or
// throw an Error naming the file, the offset and the cause.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace slidestream::io {

class File {
 public:
  enum class Mode { read, write_new, write_truncate, read_write };

  File() = default;
  File(const std::filesystem::path& path, Mode mode, bool direct = false);
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Opens with O_DIRECT; returns an empty File (is_open() false) where the file system refuses.
  static File open_direct_or_empty(const std::filesystem::path& path, Mode mode);

  bool is_open() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }
  const std::filesystem::path& path() const noexcept { return path_; }
  uint64_t size() const;

  // Reads exactly buffer.size() bytes at `offset`; a short file is an Error (format, truncated).
  void read_exact(std::span<std::byte> buffer, uint64_t offset) const;
  // Reads up to buffer.size() bytes; returns how many (fewer only at end of file).
  size_t read_some(std::span<std::byte> buffer, uint64_t offset) const;
  void write_exact(std::span<const std::byte> buffer, uint64_t offset) const;
  // write_exact without the throw: 0 when every byte landed, else the errno (ENOSPC when the
  // kernel accepted nothing), so that callers can tell "O_DIRECT refused" (EINVAL) from failures.
  int try_write_exact(std::span<const std::byte> buffer, uint64_t offset) const noexcept;
  // Turns O_DIRECT on or off for later writes (fcntl F_SETFL); false where the kernel refuses.
  bool set_direct(bool direct) const noexcept;
  void sync() const;  // fsync; throws on failure
  void truncate(uint64_t size) const;
  void advise_dont_need() const noexcept;  // drop this file's pages from the page cache

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

// fsync of a directory, so that a rename inside it is durable.
void sync_directory(const std::filesystem::path& directory);

}  // namespace slidestream::io
