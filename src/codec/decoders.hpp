// Internal to src/codec: one function per codec, called by tile_decoder.cpp. Byte codecs
// (deflate, LZW, zstd) fill `out` exactly and throw Error(corrupt) when the stream yields fewer
// bytes; image codecs (JPEG, JPEG 2000) write pixels straight into a view.
#pragma once

#include <cstddef>
#include <span>

#include "codec/tile_decoder.hpp"
#include "slidestream/image.hpp"

namespace slidestream::codec {

// zlib-wrapped deflate (TIFF 8 and 32946), through libdeflate.
void inflate_zlib(std::span<const std::byte> encoded, std::span<std::byte> out);
// TIFF LZW (5): MSB-first codes with early change, or the old LSB-first variant.
void decode_lzw(std::span<const std::byte> encoded, std::span<std::byte> out);
// Zstandard (50000).
void decode_zstd(std::span<const std::byte> encoded, std::span<std::byte> out);

// JPEG (7) with optional shared JPEGTables; `out` is format.width wide and at least as tall as
// the stream (a final strip may be shorter; rows past the stream are left untouched).
void decode_jpeg(std::span<const std::byte> encoded, const TileFormat& format,
                 const ImageView& out);
// JPEG 2000 codestream or JP2 file (33003, 33005, 34712).
void decode_jpeg2000(std::span<const std::byte> encoded, const TileFormat& format,
                     const ImageView& out);

// Undoes TIFF predictor 2 (horizontal differencing) in place on host-order samples.
void undo_horizontal_predictor(const ImageView& tile);
// Undoes TIFF predictor 3 (floating point): byte planes, most significant first, to host order.
void undo_float_predictor(const ImageView& tile);

}  // namespace slidestream::codec
