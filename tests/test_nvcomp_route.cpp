// The rule that decides which compressed tiles the GPU read path hands to nvCOMP
// (src/codec/nvcomp_route.hpp): only streams whose decompressed bytes the GPU can check against
// a checksum the stream carries, with every header field libdeflate / libzstd would refuse
// checked first. Frames are made by libzstd and libdeflate themselves, and the writers' real
// tiles come from the fixtures (tifffile, libvips) and ../shared/testdata, so the test shows
// what the rule does to the files people have: checksum-less zstd (every common writer) goes
// to the CPU, as does the damaged tile that nvCOMP decoded to other pixels than libzstd.
#include <gtest/gtest.h>
#include <libdeflate.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "codec/nvcomp_route.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

namespace fs = std::filesystem;
namespace route = codec::nvcomp_route;
using Bytes = std::vector<std::byte>;

// Pixels that compress into several blocks of every kind: a gradient, noise, a flat run.
Bytes sample_tile(size_t size) {
  Bytes b(size);
  uint32_t x = 12345;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    const uint8_t v = i < size / 3 ? uint8_t(i / 7) : i < 2 * size / 3 ? uint8_t(x >> 24) : 42;
    b[i] = std::byte{v};
  }
  return b;
}

Bytes zstd_frame(const Bytes& data, bool checksum, int window_log = 0) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum ? 1 : 0);
  if (window_log) ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
  Bytes out(ZSTD_compressBound(data.size()));
  const size_t n = ZSTD_compress2(c, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(c);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

Bytes zlib_stream(const Bytes& data) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  Bytes out(libdeflate_zlib_compress_bound(c, data.size()));
  out.resize(libdeflate_zlib_compress(c, data.data(), data.size(), out.data(), out.size()));
  libdeflate_free_compressor(c);
  EXPECT_GT(out.size(), 0u);
  return out;
}

// libzstd's own verdict, the CPU path's decoder.
bool libzstd_accepts(const Bytes& frame, size_t tile_bytes) {
  Bytes out(tile_bytes);
  const size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  return !ZSTD_isError(n) && n == tile_bytes;
}

Bytes stored_tile(const fs::path& path, int level, int64_t tx, int64_t ty) {
  Slide slide = Slide::open(path);
  const TileLocation where = slide.tile_location(level, tx, ty);
  Bytes b(where.byte_count);
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(where.offset));
  in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return b;
}

size_t tile_bytes_of(const fs::path& path) {
  Slide slide = Slide::open(path);
  const Level& l = slide.level(0);
  return static_cast<size_t>(l.tile_width) * l.tile_height * l.channels * size_of(l.dtype);
}

constexpr size_t kTile = 256 * 256 * 3;

TEST(NvcompRoute, ZstdFrameWithContentChecksumGoesToNvcompWithItsXxh64) {
  const Bytes data = sample_tile(kTile);
  const Bytes frame = zstd_frame(data, true);
  auto chunk = route::zstd_chunk(frame, kTile);
  ASSERT_TRUE(chunk) << route::zstd_refusal(frame, kTile);
  EXPECT_TRUE(route::zstd_declares_checksum(std::span(frame).first(16)));
  EXPECT_EQ(chunk->begin, 0u);
  EXPECT_EQ(chunk->size, frame.size());
  EXPECT_EQ(chunk->check, route::Check::xxh64);
  // The frame's last four bytes, little-endian, as libzstd wrote them (the GPU test checks
  // that they are the low 32 bits of XXH64 of the content).
  uint32_t written = 0;
  std::memcpy(&written, frame.data() + frame.size() - 4, 4);
  EXPECT_EQ(chunk->expected, written);
}

TEST(NvcompRoute, ZstdFrameWithoutChecksumStaysOnTheCpu) {
  const Bytes frame = zstd_frame(sample_tile(kTile), false);
  ASSERT_TRUE(libzstd_accepts(frame, kTile));
  EXPECT_FALSE(route::zstd_chunk(frame, kTile));
  EXPECT_NE(std::string(route::zstd_refusal(frame, kTile)).find("checksum"), std::string::npos);
}

TEST(NvcompRoute, TheCorruptTileNvcompDecodedDifferentlyStaysOnTheCpu) {
  const fs::path path = test::shared_testdata() / "corrupt" / "zstd-tile-25.tif";
  if (!fs::exists(path)) GTEST_SKIP() << path << " absent";
  const Bytes tile = stored_tile(path, 0, 0, 0);
  EXPECT_FALSE(route::zstd_chunk(tile, tile_bytes_of(path)));
}

TEST(NvcompRoute, CommonWritersZstdTilesCarryNoChecksumSoStayOnTheCpu) {
  // tifffile (imagecodecs), libvips (libtiff): the writers of nearly every zstd TIFF.
  int seen = 0;
  for (const char* name : {"tf-zstd-128.tif", "tf-grey16-zstd-256.tif", "vips-zstd-256.tif"}) {
    const fs::path path = test::fixture(name);
    SCOPED_TRACE(name);
    const Bytes tile = stored_tile(path, 0, 0, 0);
    EXPECT_FALSE(route::zstd_declares_checksum(tile)) << "the writer now sets the checksum flag";
    EXPECT_FALSE(route::zstd_chunk(tile, tile_bytes_of(path)));
    ++seen;
  }
  EXPECT_EQ(seen, 3);
}

// Each header change that leaves the decoded bytes as they were (so a checksum cannot show it)
// but that libzstd refuses must keep the frame from nvCOMP.
TEST(NvcompRoute, ZstdHeaderFaultsLibzstdRefusesAreRoutedToTheCpu) {
  const Bytes good = zstd_frame(sample_tile(kTile), true);
  ASSERT_TRUE(route::zstd_chunk(good, kTile));
  struct Case {
    const char* what;
    Bytes frame;
  };
  std::vector<Case> cases;
  Bytes b = good;
  b[4] ^= std::byte{0x08};  // reserved bit
  cases.push_back({"reserved bit", b});
  b = good;
  b.push_back(std::byte{0});  // a byte after the frame: libzstd reads it as a next frame
  cases.push_back({"trailing byte", b});
  b = good;
  b.insert(b.end(), good.begin(), good.end());  // two frames: twice the tile
  cases.push_back({"second frame", b});
  b = good;
  b.resize(b.size() - 1);
  cases.push_back({"truncated", b});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_FALSE(libzstd_accepts(c.frame, kTile));
    EXPECT_FALSE(route::zstd_chunk(c.frame, kTile));
  }
  // A declared size other than the tile's: libzstd refuses the frame into the tile's buffer.
  const Bytes half = zstd_frame(sample_tile(kTile / 2), true);
  EXPECT_FALSE(libzstd_accepts(half, kTile));
  EXPECT_FALSE(route::zstd_chunk(half, kTile));
}

TEST(NvcompRoute, ZstdBlockHeadersAreWalkedToTheChecksum) {
  Bytes frame = zstd_frame(sample_tile(kTile), true);
  ASSERT_TRUE(route::zstd_chunk(frame, kTile));
  // The first block header follows the 5-byte start and the header fields the flags say.
  const uint8_t fhd = static_cast<uint8_t>(frame[4]);
  const size_t size_bytes[4] = {size_t((fhd >> 5) & 1), 2, 4, 8};
  const size_t first_block = 5 + ((fhd >> 5) & 1 ? 0 : 1) + size_bytes[fhd >> 6];
  Bytes reserved_type = frame;
  reserved_type[first_block] |= std::byte{0x06};  // block type 3
  EXPECT_FALSE(libzstd_accepts(reserved_type, kTile));
  EXPECT_FALSE(route::zstd_chunk(reserved_type, kTile));
}

TEST(NvcompRoute, ZstdWindowBelowTheBlockMaximumStaysOnTheCpu) {
  // A 1 KiB window caps blocks at 1 KiB for libzstd; nvCOMP need not enforce it, so a frame
  // whose window is smaller than its blocks may be is not proven, even though this one is valid.
  const Bytes frame = zstd_frame(sample_tile(kTile), true, 10);
  ASSERT_TRUE(libzstd_accepts(frame, kTile));
  EXPECT_FALSE(route::zstd_chunk(frame, kTile));
}

TEST(NvcompRoute, ZlibStreamGoesToNvcompAsRawDeflateWithItsAdler32) {
  const Bytes data = sample_tile(kTile);
  const Bytes z = zlib_stream(data);
  auto chunk = route::zlib_chunk(z);
  ASSERT_TRUE(chunk);
  EXPECT_EQ(chunk->begin, 2u);
  EXPECT_EQ(chunk->size, z.size() - 6);
  EXPECT_EQ(chunk->check, route::Check::adler32);
  EXPECT_EQ(chunk->expected, libdeflate_adler32(1, data.data(), data.size()));
}

TEST(NvcompRoute, ZlibHeadersLibdeflateRefusesAndRawDeflateStayOnTheCpu) {
  const Bytes data = sample_tile(kTile);
  const Bytes z = zlib_stream(data);
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  auto libdeflate_accepts = [&](const Bytes& s) {
    Bytes out(data.size());
    return libdeflate_zlib_decompress(d, s.data(), s.size(), out.data(), out.size(), nullptr) ==
           LIBDEFLATE_SUCCESS;
  };
  // FDICT set, FCHECK made right again: a valid header asking for a preset dictionary.
  Bytes dict = z;
  const unsigned cmf = static_cast<uint8_t>(z[0]);
  unsigned flg = (static_cast<uint8_t>(z[1]) & 0xC0) | 0x20;
  flg += (31 - (cmf * 256 + flg) % 31) % 31;
  dict[1] = std::byte{static_cast<uint8_t>(flg)};
  Bytes check = z;
  check[1] ^= std::byte{0x01};
  Bytes method = z;
  method[0] = std::byte{0x77};
  // Raw deflate: what nvCOMP takes, but never a TIFF tile (TIFF deflate is zlib-wrapped).
  Bytes raw(z.begin() + 2, z.end() - 4);
  for (const Bytes* s : {&dict, &check, &method, &raw}) {
    EXPECT_FALSE(libdeflate_accepts(*s));
    EXPECT_FALSE(route::zlib_chunk(*s));
  }
  libdeflate_free_decompressor(d);
}

TEST(NvcompRoute, StoredBlocksLengthFaultsLibdeflateRefusesStayOnTheCpu) {
  // Noise does not compress: libdeflate stores it, block after block. NLEN (the complement of
  // LEN) does not change the output, so only a check of it can keep such damage from nvCOMP.
  Bytes noise(kTile);
  uint32_t x = 7;
  for (auto& b : noise) b = std::byte{static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24)};
  const Bytes z = zlib_stream(noise);
  ASSERT_EQ(static_cast<uint8_t>(z[2]) & 6, 0) << "the first block is not a stored block";
  ASSERT_TRUE(route::zlib_chunk(z));
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  auto libdeflate_accepts = [&](const Bytes& s) {
    Bytes out(noise.size());
    return libdeflate_zlib_decompress(d, s.data(), s.size(), out.data(), out.size(), nullptr) ==
           LIBDEFLATE_SUCCESS;
  };
  ASSERT_TRUE(libdeflate_accepts(z));
  // NLEN of the first block, then of the second (after the first block's LEN bytes).
  const size_t first_len = static_cast<uint8_t>(z[3]) | static_cast<uint8_t>(z[4]) << 8;
  for (size_t at : {size_t{5}, size_t{6}, 2 + 5 + first_len + 3}) {
    Bytes b = z;
    b[at] ^= std::byte{0x01};
    SCOPED_TRACE(at);
    EXPECT_FALSE(libdeflate_accepts(b));
    EXPECT_FALSE(route::zlib_chunk(b));
  }
  libdeflate_free_decompressor(d);
}

}  // namespace
}  // namespace slidestream
