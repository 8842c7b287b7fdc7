// TableLevelSource (source/table_level_source.hpp): one range per tile, looked up by index.
#include "source/table_level_source.hpp"

#include <algorithm>
#include <utility>

#include "slidestream/error.hpp"

namespace slidestream::source {
namespace {

// The inner source's stores, each keeping the inner source (their owner) alive.
std::vector<std::shared_ptr<const ByteStore>> stores_of(
    const std::shared_ptr<const LevelSource>& source) {
  std::vector<std::shared_ptr<const ByteStore>> out;
  for (size_t i = 0; i < source->store_count(); ++i) {
    out.push_back(std::shared_ptr<const ByteStore>(source, &source->store(i)));
  }
  return out;
}

}  // namespace

void check_table_size(int64_t across, int64_t down, const std::string& what) {
  if (across < 0 || down < 0 || (across > 0 && down > kMaxTableTiles / across)) {
    throw Error(ErrorKind::limit, what + " would be " + std::to_string(across) + " x " +
                                      std::to_string(down) + " tiles, more than " +
                                      std::to_string(kMaxTableTiles) + ": its size is implausible");
  }
}

TableLevelSource::TableLevelSource(const Level& layout, const codec::TileFormat& format,
                                   std::vector<std::byte> jpeg_tables,
                                   std::vector<std::shared_ptr<const ByteStore>> stores,
                                   std::vector<ByteRange> tiles)
    : LevelSource(layout, format, std::move(jpeg_tables), std::move(stores), false),
      tiles_(std::move(tiles)) {
  if (layout.tiles_across < 0 || layout.tiles_down < 0 ||
      tiles_.size() != static_cast<size_t>(layout.tiles_across * layout.tiles_down)) {
    throw Error(ErrorKind::invalid_argument, "tile table of " + std::to_string(tiles_.size()) +
                                                 " entries for a " +
                                                 std::to_string(layout.tiles_across) + " x " +
                                                 std::to_string(layout.tiles_down) + " grid");
  }
}

TileBytes TableLevelSource::tile(int64_t col, int64_t row, int /*plane*/) const {
  const ByteRange& r = tiles_[static_cast<size_t>(row * layout().tiles_across + col)];
  if (r.length == 0) return {};
  return TileBytes(r);
}

std::shared_ptr<TableLevelSource> resized_level(const std::shared_ptr<const LevelSource>& source,
                                                int64_t width, int64_t height) {
  const LevelSource& inner = *source;
  const Level& in = inner.layout();
  if (inner.planes() != 1 || inner.strips()) {
    throw Error(ErrorKind::unsupported, "a resized level must be tiled and chunky");
  }
  Level out = in;
  out.width = width;
  out.height = height;
  out.tiles_across = (width + in.tile_width - 1) / in.tile_width;
  out.tiles_down = (height + in.tile_height - 1) / in.tile_height;
  check_table_size(out.tiles_across, out.tiles_down, "a resized level");
  std::vector<ByteRange> tiles(static_cast<size_t>(out.tiles_across * out.tiles_down));
  for (int64_t row = 0; row < std::min(out.tiles_down, in.tiles_down); ++row) {
    for (int64_t col = 0; col < std::min(out.tiles_across, in.tiles_across); ++col) {
      TileBytes b = inner.tile(col, row);
      if (b.missing()) continue;
      if (!b.single()) {
        throw Error(ErrorKind::unsupported, "a resized level's tiles must be one byte range each");
      }
      tiles[static_cast<size_t>(row * out.tiles_across + col)] = b.front();
    }
  }
  const auto& tables = inner.format().jpeg_tables;
  return std::make_shared<TableLevelSource>(out, inner.format(),
                                            std::vector<std::byte>(tables.begin(), tables.end()),
                                            stores_of(source), std::move(tiles));
}

}  // namespace slidestream::source
