// A level source answering from a table of byte ranges built at open, one entry per tile of the
// grid (an empty range is a missing tile). Vendors whose levels are not one TIFF IFD as it
// stands build their levels with it: a Philips level clipped to the size its XML gives (the
// stored grid keeps its stride, tiles past it are missing), an associated image held as one
// JPEG in memory, a level assembled from several IFDs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "source/level_source.hpp"

namespace slidestream::source {

// The most tiles a table may hold (96 MiB of ranges): far beyond any real level (a 100,000 x
// 300,000 px slide in 512 px tiles has 115,000), so that a lying size in a vendor's XML cannot
// make open allocate gigabytes. check_table_size throws Error(limit) naming `what` beyond it.
inline constexpr int64_t kMaxTableTiles = int64_t{1} << 22;
void check_table_size(int64_t tiles_across, int64_t tiles_down, const std::string& what);

class TableLevelSource final : public LevelSource {
 public:
  // `tiles` has layout.tiles_across × layout.tiles_down entries, row-major; a zero-length
  // entry is a missing tile. Throws Error(invalid_argument) on a table of the wrong size.
  TableLevelSource(const Level& layout, const codec::TileFormat& format,
                   std::vector<std::byte> jpeg_tables,
                   std::vector<std::shared_ptr<const ByteStore>> stores,
                   std::vector<ByteRange> tiles);

  TileBytes tile(int64_t col, int64_t row, int plane = 0) const override;

 private:
  std::vector<ByteRange> tiles_;
};

// `inner` shown as a level of width × height pixels on the same tile grid: tiles past the
// inner grid are missing. Planar (separate-plane) levels are refused: no vendor needs them.
std::shared_ptr<TableLevelSource> resized_level(const std::shared_ptr<const LevelSource>& inner,
                                                int64_t width, int64_t height);

}  // namespace slidestream::source
