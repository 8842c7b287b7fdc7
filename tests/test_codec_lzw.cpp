// LZW variants the fixtures cannot produce: the pre-TIFF-5.0 "old-style" streams (LSB-first codes,
// no early change), made here by a small independent encoder, and the MSB-first variant made by
// the same encoder with early change, both checked against the bytes they encode.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "codec/tile_decoder.hpp"
#include "slidestream/error.hpp"

namespace slidestream::test {
namespace {

// A textbook LZW encoder (clear code first, end-of-information last), parameterised by the two
// things the TIFF variants differ in: bit order and when the code width grows.
std::vector<std::byte> lzw_encode(const std::vector<uint8_t>& data, bool msb_first, int early) {
  std::vector<std::byte> out;
  uint64_t buffer = 0;
  int bits_in_buffer = 0;
  int width = 9;
  auto put = [&](int code) {
    if (msb_first) {
      buffer = (buffer << width) | static_cast<uint64_t>(code);
      bits_in_buffer += width;
      while (bits_in_buffer >= 8) {
        out.push_back(static_cast<std::byte>(buffer >> (bits_in_buffer - 8)));
        bits_in_buffer -= 8;
      }
    } else {
      buffer |= static_cast<uint64_t>(code) << bits_in_buffer;
      bits_in_buffer += width;
      while (bits_in_buffer >= 8) {
        out.push_back(static_cast<std::byte>(buffer & 0xff));
        buffer >>= 8;
        bits_in_buffer -= 8;
      }
    }
  };
  std::map<std::string, int> table;
  auto reset = [&] {
    table.clear();
    for (int i = 0; i < 256; ++i) table[std::string(1, static_cast<char>(i))] = i;
  };
  reset();
  int next = 258;
  put(256);
  std::string w;
  for (uint8_t byte : data) {
    std::string wc = w + static_cast<char>(byte);
    if (table.count(wc)) {
      w = wc;
      continue;
    }
    put(table[w]);
    table[wc] = next++;
    if (next + early > (1 << width) - 0 && width < 12) ++width;
    if (next >= 4094) {  // table full: start over
      put(256);
      reset();
      next = 258;
      width = 9;
    }
    w = std::string(1, static_cast<char>(byte));
  }
  if (!w.empty()) put(table[w]);
  put(257);
  if (bits_in_buffer > 0) {
    if (msb_first) {
      out.push_back(static_cast<std::byte>(buffer << (8 - bits_in_buffer)));
    } else {
      out.push_back(static_cast<std::byte>(buffer & 0xff));
    }
  }
  return out;
}

std::vector<uint8_t> sample_pixels(size_t n) {
  // Smooth gradients with noise: long repeats and many distinct strings, so the table fills and
  // clears several times.
  std::mt19937 rng(7);
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i / 7) % 200 + rng() % 4);
  return v;
}

codec::TileFormat grey_lzw(uint32_t w, uint32_t h) {
  codec::TileFormat f;
  f.compression = Compression::lzw;
  f.photometric = 1;
  f.samples_per_pixel = 1;
  f.width = w;
  f.height = h;
  return f;
}

TEST(CodecLzw, OldStyleAndModernStreamsDecodeToTheirBytes) {
  const uint32_t w = 256, h = 256;
  auto pixels = sample_pixels(size_t{w} * h);
  for (bool old_style : {true, false}) {
    SCOPED_TRACE(old_style ? "old-style (LSB-first)" : "modern (MSB-first, early change)");
    // Old style grows the width when the next code reaches 2^width; modern one code earlier.
    auto stream = lzw_encode(pixels, /*msb_first=*/!old_style, /*early=*/old_style ? 0 : 1);
    if (old_style) {
      ASSERT_EQ(stream[0], std::byte{0});  // how the decoder recognises the variant
      ASSERT_EQ(static_cast<int>(stream[1]) & 1, 1);
    }
    Image out = Image::allocate(w, h, 1, DataType::uint8);
    codec::decode_tile(stream, grey_lzw(w, h), out.view());
    EXPECT_EQ(std::memcmp(out.data(), pixels.data(), pixels.size()), 0);
  }
}

TEST(CodecLzw, StreamsShorterThanTheTileAreCorrupt) {
  auto pixels = sample_pixels(1000);
  auto stream = lzw_encode(pixels, true, 1);
  Image out = Image::allocate(100, 11, 1, DataType::uint8);  // 1100 > 1000 bytes encoded
  try {
    codec::decode_tile(stream, grey_lzw(100, 11), out.view());
    FAIL() << "short stream decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::corrupt) << e.what();
  }
  // Longer than the tile: output stops at the tile (as libtiff does), nothing is overrun.
  std::vector<std::byte> guard(100 * 9 + 64, std::byte{0x5A});
  ImageView view{.data = guard.data(), .width = 100, .height = 9, .channels = 1, .row_pitch = 100};
  codec::decode_tile(stream, grey_lzw(100, 9), view);
  EXPECT_EQ(std::memcmp(guard.data(), pixels.data(), 900), 0);
  for (size_t i = 900; i < guard.size(); ++i) ASSERT_EQ(guard[i], std::byte{0x5A});
}

}  // namespace
}  // namespace slidestream::test
