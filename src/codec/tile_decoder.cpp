// Dispatch from a TileFormat to one codec, then the steps TIFF applies after decompression:
// byte order of multi-byte samples, then the predictor. Decoders write into the caller's view;
// byte codecs decode straight into it when its rows are contiguous and into per-thread scratch
// otherwise.
#include "codec/tile_decoder.hpp"

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "codec/decoders.hpp"
#include "slidestream/error.hpp"

namespace slidestream::codec {
namespace {

bool is_byte_codec(Compression c) {
  return c == Compression::none || c == Compression::deflate || c == Compression::adobe_deflate ||
         c == Compression::lzw || c == Compression::zstd;
}

bool is_jpeg2000(Compression c) {
  return c == Compression::jpeg2000 || c == Compression::jpeg2000_aperio_ycbcr ||
         c == Compression::jpeg2000_aperio_rgb || c == Compression::jpeg2000_vips;
}

void swap_bytes(std::span<std::byte> data, int bytes_per_sample) {
  if (bytes_per_sample == 2) {
    for (size_t i = 0; i + 1 < data.size(); i += 2) std::swap(data[i], data[i + 1]);
  } else if (bytes_per_sample == 4) {
    for (size_t i = 0; i + 3 < data.size(); i += 4) {
      std::swap(data[i], data[i + 3]);
      std::swap(data[i + 1], data[i + 2]);
    }
  }
}

std::string describe(const TileFormat& f) {
  return to_string(f.compression) + ", " + std::to_string(f.samples_per_pixel) + " x " +
         std::to_string(f.bits_per_sample) + "-bit samples (format " +
         std::to_string(f.sample_format) + "), predictor " + std::to_string(f.predictor);
}

}  // namespace

bool can_decode(const TileFormat& f) noexcept {
  if (f.width == 0 || f.height == 0 || f.samples_per_pixel == 0 || f.samples_per_pixel > 4) {
    return false;
  }
  const bool eight = f.bits_per_sample == 8;
  const bool sixteen = f.bits_per_sample == 16;
  const bool thirty_two = f.bits_per_sample == 32;
  if (!(eight || sixteen || thirty_two)) return false;
  if (f.sample_format == 3 && !thirty_two) return false;
  if (f.sample_format != 1 && f.sample_format != 2 && f.sample_format != 3) return false;
  if (f.predictor != 1 && f.predictor != 2 && f.predictor != 3) return false;
  if (f.predictor == 3 && f.sample_format != 3) return false;
  if (is_byte_codec(f.compression)) return true;
  if (f.compression == Compression::jpeg) {
    return eight && f.predictor == 1 && (f.samples_per_pixel == 1 || f.samples_per_pixel == 3);
  }
  if (is_jpeg2000(f.compression)) return (eight || sixteen) && f.predictor == 1;
  return false;
}

void decode_tile(std::span<const std::byte> encoded, const TileFormat& format,
                 const ImageView& out) {
  if (!can_decode(format)) {
    throw Error(ErrorKind::unsupported, "no decoder for " + describe(format));
  }
  const size_t sample_bytes = format.bits_per_sample / 8u;
  const size_t row_bytes = size_t{format.width} * format.samples_per_pixel * sample_bytes;
  if (out.device != Device::cpu || out.width != format.width || out.height < format.height ||
      out.channels != format.samples_per_pixel || size_of(out.dtype) != sample_bytes ||
      out.row_pitch < row_bytes) {
    throw Error(ErrorKind::invalid_argument, "decode_tile: output view does not match the tile's " +
                                                 std::to_string(format.width) + " x " +
                                                 std::to_string(format.height) + " layout");
  }
  // Only the first format.height rows are decoded (a final strip may be shorter than the view).
  ImageView tile = out;
  tile.height = format.height;

  if (format.compression == Compression::jpeg) {
    decode_jpeg(encoded, format, tile);
    return;
  }
  if (is_jpeg2000(format.compression)) {
    decode_jpeg2000(encoded, format, tile);
    return;
  }

  const size_t total = row_bytes * format.height;
  const bool contiguous = tile.row_pitch == row_bytes;
  thread_local std::vector<std::byte> scratch;
  std::span<std::byte> target;
  if (contiguous) {
    target = {tile.data, total};
  } else {
    if (scratch.size() < total) scratch.resize(total);
    target = {scratch.data(), total};
  }

  switch (format.compression) {
    case Compression::none:
      if (encoded.size() < total) {
        throw Error(ErrorKind::corrupt, "none: tile has " + std::to_string(encoded.size()) +
                                            " bytes, expected " + std::to_string(total));
      }
      std::memcpy(target.data(), encoded.data(), total);
      break;
    case Compression::deflate:
    case Compression::adobe_deflate:
      inflate_zlib(encoded, target);
      break;
    case Compression::lzw:
      decode_lzw(encoded, target);
      break;
    case Compression::zstd:
      decode_zstd(encoded, target);
      break;
    default:
      throw Error(ErrorKind::unsupported, "no decoder for " + describe(format));
  }
  if (!contiguous) {
    for (uint32_t y = 0; y < format.height; ++y) {
      std::memcpy(tile.row(y), target.data() + y * row_bytes, row_bytes);
    }
  }

  // The floating-point predictor reorders bytes itself (most significant first), so the file's
  // byte order does not apply to it.
  if (format.predictor == 3) {
    undo_float_predictor(tile);
    return;
  }
  const bool swap =
      sample_bytes > 1 && (format.big_endian != (std::endian::native == std::endian::big));
  if (swap) {
    for (uint32_t y = 0; y < format.height; ++y) {
      swap_bytes({tile.row(y), row_bytes}, static_cast<int>(sample_bytes));
    }
  }
  if (format.predictor == 2) undo_horizontal_predictor(tile);
}

}  // namespace slidestream::codec
