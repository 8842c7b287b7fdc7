// Pure tile decoders: compressed bytes in, pixels out into a buffer the caller owns. No file
// handles, no allocation policy beyond scratch space. Errors are Error(corrupt / unsupported)
// without file context; the read path adds file, level, tile and offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "slidestream/image.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::codec {

struct TileFormat {
  Compression compression = Compression::none;
  uint16_t photometric = 2;        // TIFF Photometric: 1 min-is-black, 2 RGB, 6 YCbCr
  uint16_t samples_per_pixel = 3;  // samples in this tile's encoded data (1 per plane if planar 2)
  uint16_t bits_per_sample = 8;
  uint16_t sample_format = 1;
  uint16_t predictor = 1;
  uint32_t width = 0;  // the tile's (or strip's) full encoded size
  uint32_t height = 0;
  uint16_t ycbcr_subsampling_h = 2;
  uint16_t ycbcr_subsampling_v = 2;
  std::span<const std::byte> jpeg_tables;  // TIFF JPEGTables, empty if absent
  // Multi-byte samples in the encoded data are big-endian (a "MM" TIFF); decoded pixels are
  // always in host order.
  bool big_endian = false;
  // JPEG only: decode at 1/jpeg_scale_denom (2, 4, 8) with libjpeg's scaled IDCT, as OpenSlide
  // serves NDPI's derived levels; width and height are then the scaled (output) size.
  uint8_t jpeg_scale_denom = 1;
};

// True where decode_tile can handle this format.
bool can_decode(const TileFormat& format) noexcept;

// Decodes one tile into `out`, a host view of exactly format.width × format.height with
// format.samples_per_pixel channels of the level's data type. RGB JPEG/JPEG 2000 tiles come out
// as RGB whatever their internal colour space.
void decode_tile(std::span<const std::byte> encoded, const TileFormat& format,
                 const ImageView& out);

}  // namespace slidestream::codec
