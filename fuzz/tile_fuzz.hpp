// Shared by the per-decoder libFuzzer targets (fuzz_deflate.cpp, fuzz_zstd.cpp, ...): the input
// is a small header that picks the tile's format, then the stored tile, which goes through
// codec::decode_tile exactly as the read path sends it (decoder, byte order, predictor).
//
// Header (kHeaderBytes, see fuzz/make_corpus.py, which writes real tiles behind it):
//   [0] width - 1 (1..256)         [1] height - 1 (1..256)
//   [2] bits 0-1: samples - 1 (1..4); bits 2-3: 8 / 16 / 32 / 32-bit float samples;
//       bits 4-5: predictor 1 / 2 / 3 / 1; bit 6: big-endian samples; bit 7: padded row pitch
//   [3] bits 0-1: photometric 1 / 2 / 6 / 2; bits 2-3: YCbCr subsampling h 1 / 2 / 4 / 2;
//       bits 4-5: subsampling v likewise
//   [4..5] JPEG: little-endian length of the JPEGTables that follow the header;
//          JPEG 2000: [4] % 3 picks 34712 / 33003 (Aperio YCbCr) / 33005 (Aperio RGB)
// Formats the decoders do not cover are still decoded: decode_tile must refuse them cleanly.
// slidestream::Error is the expected outcome of bad input; anything else is a finding.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "codec/tile_decoder.hpp"
#include "slidestream/error.hpp"
#include "slidestream/image.hpp"

namespace slidestream::fuzz {

constexpr size_t kHeaderBytes = 6;

inline int decode_fuzzed_tile(Compression compression, const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  codec::TileFormat f;
  f.compression = compression;
  f.width = uint32_t{data[0]} + 1;
  f.height = uint32_t{data[1]} + 1;
  f.samples_per_pixel = static_cast<uint16_t>((data[2] & 3) + 1);
  static constexpr uint16_t kBits[4] = {8, 16, 32, 32};
  f.bits_per_sample = kBits[(data[2] >> 2) & 3];
  f.sample_format = ((data[2] >> 2) & 3) == 3 ? 3 : 1;
  static constexpr uint16_t kPredictor[4] = {1, 2, 3, 1};
  f.predictor = kPredictor[(data[2] >> 4) & 3];
  f.big_endian = (data[2] >> 6) & 1;
  const bool padded = (data[2] >> 7) & 1;
  static constexpr uint16_t kPhotometric[4] = {1, 2, 6, 2};
  f.photometric = kPhotometric[data[3] & 3];
  static constexpr uint16_t kSubsampling[4] = {1, 2, 4, 2};
  f.ycbcr_subsampling_h = kSubsampling[(data[3] >> 2) & 3];
  f.ycbcr_subsampling_v = kSubsampling[(data[3] >> 4) & 3];
  std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(data) + kHeaderBytes,
                                  size - kHeaderBytes);
  if (compression == Compression::jpeg) {
    const size_t tables = std::min<size_t>(data[4] | size_t{data[5]} << 8, rest.size());
    f.jpeg_tables = rest.first(tables);
    rest = rest.subspan(tables);
  } else if (compression == Compression::jpeg2000) {
    static constexpr Compression kJ2k[3] = {Compression::jpeg2000,
                                            Compression::jpeg2000_aperio_ycbcr,
                                            Compression::jpeg2000_aperio_rgb};
    f.compression = kJ2k[data[4] % 3];
  }
  ImageView out;
  out.width = f.width;
  out.height = f.height;
  out.channels = f.samples_per_pixel;
  out.dtype = f.sample_format == 3      ? DataType::float32
              : f.bits_per_sample == 8  ? DataType::uint8
              : f.bits_per_sample == 16 ? DataType::uint16
                                        : DataType::uint32;
  const size_t row = size_t{f.width} * f.samples_per_pixel * (f.bits_per_sample / 8);
  out.row_pitch = row + (padded ? 64 : 0);
  out.device = Device::cpu;
  // Exactly the view's bytes, so ASan sees any write past it.
  std::vector<std::byte> pixels(out.row_pitch * (f.height - 1) + row);
  out.data = pixels.data();
  try {
    codec::decode_tile(rest, f, out);
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace slidestream::fuzz
