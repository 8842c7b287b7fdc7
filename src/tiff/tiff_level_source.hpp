// The tile source of one TIFF image (a pyramid level or an associated image): the IFD's tile
// (or strip) offset and byte-count tables, read once at open and checked against the file, so
// that tile(col, row) is two vector lookups. A byte count of 0 at offset 0 is a tile the writer
// left out (sparse TIFF): a missing tile, which readers fill.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "source/level_source.hpp"
#include "tiff/tiff_parser.hpp"

namespace slidestream::tiff {

class TiffLevelSource final : public source::LevelSource {
 public:
  // Reads one IFD's geometry, pixel format and tile (or strip) table from `tiff` (parsed from
  // `store`), checking every value against the file. Tiled IFDs give tiles; stripped ones
  // full-width "tiles" of RowsPerStrip rows. Throws Error(format / unsupported / limit) naming
  // the IFD.
  static std::shared_ptr<TiffLevelSource> load(const TiffFile& tiff, const Ifd& ifd,
                                               std::shared_ptr<const source::ByteStore> store);

  source::TileBytes tile(int64_t col, int64_t row, int plane = 0) const override;

  uint64_t ifd_offset() const noexcept { return ifd_offset_; }  // for tests against libtiff

  // Use load(); public for std::make_shared.
  struct Tables {
    std::vector<uint64_t> offsets;  // row-major per plane; planes one after the other
    std::vector<uint64_t> byte_counts;
    uint64_t ifd_offset = 0;
  };
  TiffLevelSource(const Level& layout, const codec::TileFormat& format,
                  std::vector<std::byte> jpeg_tables, Tables tables,
                  std::shared_ptr<const source::ByteStore> store, bool strips);

 private:
  std::vector<uint64_t> offsets_;
  std::vector<uint64_t> byte_counts_;
  uint64_t ifd_offset_ = 0;
  size_t per_plane_ = 0;
};

}  // namespace slidestream::tiff
