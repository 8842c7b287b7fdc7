// The tile-source layer: "where are the encoded bytes of tile (col, row), and how are they
// decoded". Each pyramid level (and each associated image) of a slide is served by one
// LevelSource; the readers (CPU regions, GPU reads, the band executor) ask only it, never a file
// format's structures. A source answers, for tile (col, row) of plane p:
//  - its encoded bytes: none (a missing tile, which readers fill with ReadOptions::fill), one
//    range (every TIFF tile: the fast paths coalesce these) or several ranges, possibly in
//    several stores, which readers join, in order, into one buffer before decoding;
//  - how to decode them: format(), the decoder's description (codec, tables, photometric, YCbCr
//    subsampling and colour space, byte order), the same for every tile of the level;
//  - what follows decoding: the level may be stored in strips (the last strip decodes only the
//    rows left), and a decoded tile larger than the tile grid (format() wider or taller than the
//    layout's tile) is cropped to its top-left tile_width × tile_height.
// Sources are immutable once the slide is open and are read from many threads at once; tile()
// is called once per tile per read, so it answers from memory without allocating for up to
// three ranges.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "codec/tile_decoder.hpp"
#include "slidestream/slide.hpp"
#include "source/byte_store.hpp"

namespace slidestream::source {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t store = 0;  // index into the source's stores
};

// The encoded bytes of one tile: zero ranges (missing), one, or several joined in order.
class TileBytes {
 public:
  // Three: an NDPI pseudo-tile is a header, one restart interval and EOI (vendor/hamamatsu_*).
  static constexpr size_t kInline = 3;

  TileBytes() = default;
  explicit TileBytes(const ByteRange& range) { add(range); }

  void add(const ByteRange& range) {
    if (count_ < kInline) {
      inline_[count_] = range;
    } else {
      if (spill_.empty()) spill_.assign(inline_.begin(), inline_.end());
      spill_.push_back(range);
    }
    ++count_;
    total_ += range.length;
  }
  std::span<const ByteRange> ranges() const noexcept {
    return count_ <= kInline ? std::span<const ByteRange>(inline_.data(), count_)
                             : std::span<const ByteRange>(spill_);
  }
  bool missing() const noexcept { return count_ == 0 || total_ == 0; }
  // One range: the case the coalescing fast paths take (offset and length of front()).
  bool single() const noexcept { return count_ == 1; }
  const ByteRange& front() const noexcept { return inline_[0]; }
  uint64_t size() const noexcept { return total_; }  // encoded bytes, all ranges together
  // Where the tile's data is, for error messages: the start of its first range in store 0,
  // the source's own file (an NDPI tile's header, joined from memory, is not where it is damaged).
  uint64_t where() const noexcept {
    for (const ByteRange& r : ranges()) {
      if (r.store == 0) return r.offset;
    }
    return inline_[0].offset;
  }

 private:
  std::array<ByteRange, kInline> inline_{};
  std::vector<ByteRange> spill_;  // every range, once there are more than kInline
  size_t count_ = 0;
  uint64_t total_ = 0;
};

class LevelSource {
 public:
  virtual ~LevelSource() = default;
  LevelSource(const LevelSource&) = delete;
  LevelSource& operator=(const LevelSource&) = delete;

  // The public description of the level: size, tile grid, pixel type, compression.
  const Level& layout() const noexcept { return layout_; }
  // The decoder's description of one stored tile (jpeg_tables points into this source).
  const codec::TileFormat& format() const noexcept { return format_; }
  // Stored tiles per tile position: the samples per pixel when stored as separate planes.
  int planes() const noexcept {
    return layout_.planar_configuration == 2 ? layout_.samples_per_pixel : 1;
  }
  // Stored in strips (full-width tiles): the last one holds only the rows left, where a tiled
  // level's last row of tiles is padded to full size.
  bool strips() const noexcept { return strips_; }
  // Rows a decoder produces for tile-row `row`: format().height, less for a last strip.
  uint32_t decoded_rows(int64_t row) const noexcept;
  // A decoded tile is larger than the tile grid and must be cropped to it.
  bool crops() const noexcept {
    return format_.width != layout_.tile_width || format_.height != layout_.tile_height;
  }

  size_t store_count() const noexcept { return stores_.size(); }
  const ByteStore& store(size_t index) const { return *stores_.at(index); }
  // The file every tile lives in, when the level lives in one file store (every TIFF level):
  // the descriptor-based fast paths (coalesced ranges, O_DIRECT, cuFile, preadv) need it.
  const io::File* single_file() const noexcept {
    return stores_.size() == 1 ? stores_.front()->file() : nullptr;
  }

  // The encoded bytes of tile (col, row) of `plane` (0 unless planes() > 1). The caller keeps
  // col, row and plane inside the grid.
  virtual TileBytes tile(int64_t col, int64_t row, int plane = 0) const = 0;

  // For the slide's assembly only (source/slide_factory.hpp): index and downsample are known
  // once every level is there.
  void place_in_pyramid(int index, double downsample) noexcept {
    layout_.index = index;
    layout_.downsample = downsample;
  }

 protected:
  // `format.jpeg_tables` is ignored: the tables are `jpeg_tables`, kept by the source.
  LevelSource(const Level& layout, const codec::TileFormat& format,
              std::vector<std::byte> jpeg_tables,
              std::vector<std::shared_ptr<const ByteStore>> stores, bool strips);

 private:
  Level layout_;
  std::vector<std::byte> jpeg_tables_;
  codec::TileFormat format_;
  std::vector<std::shared_ptr<const ByteStore>> stores_;
  bool strips_ = false;
};

// True where every range of `bytes` lies inside its store.
bool within_stores(const LevelSource& source, const TileBytes& bytes) noexcept;

// Reads the tile's ranges, in order, into `into` (exactly bytes.size() long): one read_exact per
// range, so a one-range tile is read straight into the caller's buffer with no copy.
// Errors are the stores' (they name the store and the offset).
void read_tile_bytes(const LevelSource& source, const TileBytes& bytes, std::span<std::byte> into);

}  // namespace slidestream::source
