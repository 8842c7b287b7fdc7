// The file and memory byte stores. The file store adds nothing to io::File's reads (which name
// the file, the offset and the cause already); the memory store reproduces their contract.
#include "source/byte_store.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "slidestream/error.hpp"

namespace slidestream::source {

FileStore::FileStore(const std::filesystem::path& path)
    : file_(path, io::File::Mode::read), size_(file_.size()), name_(path.string()) {}

void FileStore::read_exact(std::span<std::byte> buffer, uint64_t offset) const {
  file_.read_exact(buffer, offset);
}

size_t FileStore::read_some(std::span<std::byte> buffer, uint64_t offset) const {
  return file_.read_some(buffer, offset);
}

MemoryStore::MemoryStore(std::vector<std::byte> bytes, std::string name)
    : bytes_(std::move(bytes)), name_(std::move(name)) {}

void MemoryStore::read_exact(std::span<std::byte> buffer, uint64_t offset) const {
  if (offset > bytes_.size() || buffer.size() > bytes_.size() - offset) {
    throw Error(ErrorKind::format,
                "read of " + std::to_string(buffer.size()) + " bytes runs past the end (" +
                    std::to_string(bytes_.size()) + " bytes)",
                ErrorContext{name_, -1, -1, static_cast<int64_t>(offset)});
  }
  if (!buffer.empty()) std::memcpy(buffer.data(), bytes_.data() + offset, buffer.size());
}

size_t MemoryStore::read_some(std::span<std::byte> buffer, uint64_t offset) const {
  if (offset >= bytes_.size()) return 0;
  const size_t n = std::min<uint64_t>(buffer.size(), bytes_.size() - offset);
  std::memcpy(buffer.data(), bytes_.data() + offset, n);
  return n;
}

}  // namespace slidestream::source
