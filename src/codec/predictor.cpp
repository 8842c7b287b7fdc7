// TIFF predictors, undone after decompression (TIFF 6.0 section 14; Adobe Photoshop TIFF
// technical note 3 for the floating-point predictor). Both work row by row on a tile.
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "codec/decoders.hpp"

namespace slidestream::codec {
namespace {

template <typename T>
void accumulate_rows(const ImageView& tile) {
  const int64_t n = tile.width * tile.channels;
  const int stride = tile.channels;
  for (int64_t y = 0; y < tile.height; ++y) {
    auto* p = reinterpret_cast<T*>(tile.row(y));
    for (int64_t i = stride; i < n; ++i) p[i] = static_cast<T>(p[i] + p[i - stride]);
  }
}

}  // namespace

void undo_horizontal_predictor(const ImageView& tile) {
  switch (size_of(tile.dtype)) {
    case 1:
      accumulate_rows<uint8_t>(tile);
      break;
    case 2:
      accumulate_rows<uint16_t>(tile);
      break;
    default:
      accumulate_rows<uint32_t>(tile);
      break;  // uint32 and float32 bits alike
  }
}

void undo_float_predictor(const ImageView& tile) {
  // Each row holds, for width × channels samples of `bps` bytes, the plane of most significant
  // bytes, then the next plane, ...; bytes were differenced across the whole row with a stride of
  // `channels`. Accumulate, then gather each sample's bytes back into host order.
  const size_t bps = size_of(tile.dtype);
  const size_t count = static_cast<size_t>(tile.width) * tile.channels;
  const size_t row_bytes = count * bps;
  const size_t stride = static_cast<size_t>(tile.channels);
  thread_local std::vector<uint8_t> tmp;
  tmp.resize(row_bytes);
  for (int64_t y = 0; y < tile.height; ++y) {
    auto* row = reinterpret_cast<uint8_t*>(tile.row(y));
    for (size_t i = stride; i < row_bytes; ++i)
      row[i] = static_cast<uint8_t>(row[i] + row[i - stride]);
    std::memcpy(tmp.data(), row, row_bytes);
    for (size_t s = 0; s < count; ++s) {
      for (size_t b = 0; b < bps; ++b) {
        size_t plane = std::endian::native == std::endian::little ? bps - b - 1 : b;
        row[s * bps + b] = tmp[plane * count + s];
      }
    }
  }
}

}  // namespace slidestream::codec
