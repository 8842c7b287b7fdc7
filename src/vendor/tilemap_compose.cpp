#include "vendor/tilemap_compose.hpp"

#include <algorithm>
#include <cstring>
#include <span>

#include "codec/tile_decoder.hpp"
#include "slidestream/error.hpp"
#include "source/table_level_source.hpp"

namespace slidestream::vendor {
namespace {

// A stored tile's bytes beyond this multiple of its decoded size (plus slack) are not a tile.
constexpr uint64_t kMaxExpansion = 4;
constexpr uint64_t kHeaderSlack = uint64_t{1} << 20;

// The level's one store: grid tile t's "bytes" are range [t, t + 1) × kComposedTileBytes,
// painted by the composer when read.
class ComposedStore final : public source::ByteStore {
 public:
  ComposedStore(int64_t across, int64_t down, std::shared_ptr<const TileComposer> composer,
                std::string name)
      : across_(across), down_(down), composer_(std::move(composer)), name_(std::move(name)) {}

  int64_t across() const { return across_; }
  bool touched(size_t t) const { return composer_->touches(t); }

  uint64_t size() const noexcept override {
    return static_cast<uint64_t>(across_ * down_) * kComposedTileBytes;
  }
  void read_exact(std::span<std::byte> buffer, uint64_t offset) const override {
    if (offset > size() || buffer.size() > size() - offset) {
      throw Error(ErrorKind::format,
                  "read of " + std::to_string(buffer.size()) + " bytes runs past the level",
                  ErrorContext{name_, -1, -1, static_cast<int64_t>(offset)});
    }
    copy_out(buffer, offset);
  }
  size_t read_some(std::span<std::byte> buffer, uint64_t offset) const override {
    if (offset >= size()) return 0;
    const size_t n = std::min<uint64_t>(buffer.size(), size() - offset);
    copy_out(buffer.first(n), offset);
    return n;
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  // Whole tiles are composed straight into the caller's buffer; a part of one through scratch.
  void copy_out(std::span<std::byte> buffer, uint64_t offset) const {
    std::vector<std::byte> scratch;
    while (!buffer.empty()) {
      const uint64_t t = offset / kComposedTileBytes, within = offset % kComposedTileBytes;
      const size_t n = std::min<uint64_t>(buffer.size(), kComposedTileBytes - within);
      if (within == 0 && n == kComposedTileBytes) {
        composer_->compose(static_cast<size_t>(t), buffer.data());
      } else {
        scratch.resize(kComposedTileBytes);
        composer_->compose(static_cast<size_t>(t), scratch.data());
        std::memcpy(buffer.data(), scratch.data() + within, n);
      }
      buffer = buffer.subspan(n);
      offset += n;
    }
  }

  int64_t across_, down_;
  std::shared_ptr<const TileComposer> composer_;
  std::string name_;
};

// The grid of composed tiles: tile t is range t of the store, missing where nothing touches it.
class ComposedLevelSource final : public source::LevelSource {
 public:
  ComposedLevelSource(const Level& layout, const codec::TileFormat& format,
                      std::shared_ptr<const ComposedStore> store)
      : LevelSource(layout, format, {}, {store}, false), store_(std::move(store)) {}

  source::TileBytes tile(int64_t col, int64_t row, int /*plane*/) const override {
    const size_t t = static_cast<size_t>(row * store_->across() + col);
    if (!store_->touched(t)) return {};
    return source::TileBytes({t * kComposedTileBytes, kComposedTileBytes, 0});
  }

 private:
  std::shared_ptr<const ComposedStore> store_;
};

}  // namespace

std::optional<std::string> composing_problem(const source::LevelSource& level) {
  const Level& l = level.layout();
  const codec::TileFormat& f = level.format();
  if (level.strips() || level.planes() != 1 || level.crops()) {
    return std::string("is stored in strips, planes or tiles larger than its grid");
  }
  if (l.channels != 3 || l.dtype != DataType::uint8 || f.samples_per_pixel != 3 ||
      !codec::can_decode(f)) {
    return std::string("is not 8-bit RGB in a codec slidestream decodes");
  }
  return std::nullopt;
}

std::shared_ptr<const std::vector<std::byte>> decode_stored_tile(const source::LevelSource& s,
                                                                 int64_t col, int64_t row,
                                                                 const std::string& where) {
  const source::TileBytes bytes = s.tile(col, row);
  if (bytes.missing()) return nullptr;
  const codec::TileFormat& f = s.format();
  const uint64_t size = uint64_t{f.width} * f.height * 3;
  const std::string at =
      where + " tile (" + std::to_string(col) + ", " + std::to_string(row) + "): ";
  if (!source::within_stores(s, bytes)) {
    throw Error(ErrorKind::format, at + std::to_string(bytes.size()) +
                                       " bytes of tile data run past the end of the file");
  }
  if (bytes.size() > size * kMaxExpansion + kHeaderSlack) {
    throw Error(ErrorKind::limit, at + "a byte count of " + std::to_string(bytes.size()) +
                                      " is implausible for a " + std::to_string(size) +
                                      "-byte tile");
  }
  std::vector<std::byte> encoded(static_cast<size_t>(bytes.size()));
  source::read_tile_bytes(s, bytes, encoded);
  auto pixels = std::make_shared<std::vector<std::byte>>(static_cast<size_t>(size));
  const ImageView view{.data = pixels->data(),
                       .width = f.width,
                       .height = f.height,
                       .channels = 3,
                       .row_pitch = size_t{f.width} * 3};
  try {
    codec::decode_tile(encoded, f, view);
  } catch (const Error& e) {
    throw Error(e.kind(), at + e.cause());
  }
  return pixels;
}

std::shared_ptr<source::LevelSource> make_composed_level_source(
    int64_t width, int64_t height, std::shared_ptr<const TileComposer> composer, std::string name) {
  Level l;
  l.width = width;
  l.height = height;
  l.tile_width = l.tile_height = kComposedTile;
  l.tiles_across = composed_tiles(width);
  l.tiles_down = composed_tiles(height);
  source::check_table_size(l.tiles_across, l.tiles_down, name);
  l.compression = Compression::none;
  l.photometric = 2;
  l.samples_per_pixel = 3;
  l.channels = 3;
  codec::TileFormat f;
  f.compression = Compression::none;
  f.photometric = 2;
  f.samples_per_pixel = 3;
  f.width = f.height = kComposedTile;
  auto store = std::make_shared<ComposedStore>(l.tiles_across, l.tiles_down, std::move(composer),
                                               std::move(name));
  return std::make_shared<ComposedLevelSource>(l, f, std::move(store));
}

}  // namespace slidestream::vendor
