// Where encoded bytes live: a readable byte container, the bottom of the tile-source layer.
// A slide's level sources (level_source.hpp) say which store and which byte ranges hold a tile;
// the readers read them through this interface. A file store wraps io::File and exposes it
// (file()) so that the fast paths that need a descriptor (preadv into the caller's rows,
// O_DIRECT, cuFile, mmap for page-cache residency) can take it; every other store (memory for
// the tests; later a range of a bigger file, an HTTP object...) is read through read_exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "io/file.hpp"

namespace slidestream::source {

class ByteStore {
 public:
  virtual ~ByteStore() = default;

  virtual uint64_t size() const noexcept = 0;
  // Exactly buffer.size() bytes at `offset`; past the end is Error(format) naming the store.
  virtual void read_exact(std::span<std::byte> buffer, uint64_t offset) const = 0;
  // Up to buffer.size() bytes; fewer only at the end of the store.
  virtual size_t read_some(std::span<std::byte> buffer, uint64_t offset) const = 0;
  // For error messages: the file's path, or what the store is.
  virtual const std::string& name() const noexcept = 0;
  // The file behind the store, where it is one: the descriptor-based fast paths use it.
  virtual const io::File* file() const noexcept { return nullptr; }
};

// A file opened for reading, shared by every level read from it.
class FileStore final : public ByteStore {
 public:
  explicit FileStore(const std::filesystem::path& path);

  uint64_t size() const noexcept override { return size_; }
  void read_exact(std::span<std::byte> buffer, uint64_t offset) const override;
  size_t read_some(std::span<std::byte> buffer, uint64_t offset) const override;
  const std::string& name() const noexcept override { return name_; }
  const io::File* file() const noexcept override { return &file_; }

 private:
  io::File file_;
  uint64_t size_ = 0;
  std::string name_;
};

// Bytes held in memory (tests serve stub slides from it).
class MemoryStore final : public ByteStore {
 public:
  MemoryStore(std::vector<std::byte> bytes, std::string name);

  uint64_t size() const noexcept override { return bytes_.size(); }
  void read_exact(std::span<std::byte> buffer, uint64_t offset) const override;
  size_t read_some(std::span<std::byte> buffer, uint64_t offset) const override;
  const std::string& name() const noexcept override { return name_; }

 private:
  std::vector<std::byte> bytes_;
  std::string name_;
};

}  // namespace slidestream::source
