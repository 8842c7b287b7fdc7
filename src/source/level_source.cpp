// The parts of LevelSource every source shares: construction, the strip arithmetic and the
// reading of a tile's (possibly several) byte ranges.
#include "source/level_source.hpp"

#include <algorithm>
#include <utility>

#include "slidestream/error.hpp"

namespace slidestream::source {

LevelSource::LevelSource(const Level& layout, const codec::TileFormat& format,
                         std::vector<std::byte> jpeg_tables,
                         std::vector<std::shared_ptr<const ByteStore>> stores, bool strips)
    : layout_(layout),
      jpeg_tables_(std::move(jpeg_tables)),
      format_(format),
      stores_(std::move(stores)),
      strips_(strips) {
  format_.jpeg_tables = jpeg_tables_;
  if (stores_.empty()) {
    throw Error(ErrorKind::invalid_argument, "a level source needs at least one byte store");
  }
}

uint32_t LevelSource::decoded_rows(int64_t row) const noexcept {
  if (!strips_) return format_.height;
  const int64_t left = layout_.height - row * int64_t{layout_.tile_height};
  return static_cast<uint32_t>(std::clamp<int64_t>(left, 0, format_.height));
}

bool within_stores(const LevelSource& source, const TileBytes& bytes) noexcept {
  for (const ByteRange& r : bytes.ranges()) {
    if (r.store >= source.store_count()) return false;
    const uint64_t size = source.store(r.store).size();
    if (r.offset > size || r.length > size - r.offset) return false;
  }
  return true;
}

void read_tile_bytes(const LevelSource& source, const TileBytes& bytes, std::span<std::byte> into) {
  if (into.size() != bytes.size()) {
    throw Error(ErrorKind::invalid_argument, "read_tile_bytes: buffer of " +
                                                 std::to_string(into.size()) + " bytes for a " +
                                                 std::to_string(bytes.size()) + "-byte tile");
  }
  size_t at = 0;
  for (const ByteRange& r : bytes.ranges()) {
    if (r.store >= source.store_count()) {
      throw Error(ErrorKind::format, "tile names byte store " + std::to_string(r.store) + " of " +
                                         std::to_string(source.store_count()));
    }
    source.store(r.store).read_exact(into.subspan(at, r.length), r.offset);
    at += r.length;
  }
}

}  // namespace slidestream::source
