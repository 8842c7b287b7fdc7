// The tile source of one NDPI image: a JPEG stream, pseudo-tiled by its restart intervals.
// A tile is three byte ranges, joined by the readers before decoding: the stream's header with
// its frame size patched to the tile's and its DRI segment left out (held in memory), one
// restart interval of entropy-coded data from the file (less its closing RSTn marker) and EOI
// (in memory). Assembled, it is a plain baseline JPEG, which libjpeg-turbo and nvJPEG decode
// alike, to the pixels the interval decodes to inside the whole stream.
// An image without restart markers is one tile (the whole stream). OpenSlide's scaled levels
// (libjpeg's 1/2, 1/4, 1/8 IDCT scaling of each tile) share the same intervals; their format
// asks the decoder to scale.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "source/level_source.hpp"

namespace slidestream::vendor::ndpi {

// Where each restart interval of one stream lies: interval i is [starts[i], starts[i + 1]) in
// the file, its last two bytes the RSTn (or, for the last, EOI) marker that closes it.
struct Intervals {
  std::vector<uint64_t> starts;  // tile count + 1 entries, strictly increasing
  int64_t across = 0;            // intervals per row (OpenSlide's tiles_across)
  int64_t down = 0;              // rows of intervals (tiles_down)
};

class NdpiLevelSource final : public source::LevelSource {
 public:
  // `layout` and `format` describe the (possibly scaled) level; `tile_header` is the stream's
  // header with the frame size of one full-resolution tile.
  NdpiLevelSource(const Level& layout, const codec::TileFormat& format,
                  const std::vector<std::byte>& tile_header,
                  std::shared_ptr<const source::ByteStore> file,
                  std::shared_ptr<const Intervals> intervals);

  source::TileBytes tile(int64_t col, int64_t row, int plane = 0) const override;

 private:
  std::shared_ptr<const Intervals> intervals_;
  uint64_t header_bytes_ = 0;
};

}  // namespace slidestream::vendor::ndpi
