// See nvcomp_route.hpp. The zstd checks follow RFC 8878 3.1.1 (frame header, block headers);
// the zlib ones are libdeflate's header checks.
#include "codec/nvcomp_route.hpp"

#include <algorithm>

namespace slidestream::codec::nvcomp_route {
namespace {

constexpr uint32_t kZstdMagic = 0xFD2FB528u;
constexpr uint64_t kBlockMaximum = 128 * 1024;  // RFC 8878 3.1.1.2.3
// libzstd's default windowLogMax for decompression (ZSTD_WINDOWLOG_LIMIT_DEFAULT).
constexpr int kWindowLogLimit = 27;

uint8_t byte_at(std::span<const std::byte> b, size_t i) {
  return static_cast<uint8_t>(b[i]);
}
uint32_t be32(std::span<const std::byte> b, size_t i) {
  return uint32_t(byte_at(b, i)) << 24 | uint32_t(byte_at(b, i + 1)) << 16 |
         uint32_t(byte_at(b, i + 2)) << 8 | uint32_t(byte_at(b, i + 3));
}
uint32_t le32(std::span<const std::byte> b, size_t i) {
  return uint32_t(byte_at(b, i)) | uint32_t(byte_at(b, i + 1)) << 8 |
         uint32_t(byte_at(b, i + 2)) << 16 | uint32_t(byte_at(b, i + 3)) << 24;
}
uint64_t le_n(std::span<const std::byte> b, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(byte_at(b, at + i)) << (8 * i);
  return v;
}

// Walks the block headers from `at`: each block of a known type and within the maximum block
// size, the last one ending exactly where the 4-byte checksum begins (no trailing frame or
// garbage that libzstd would try to parse).
const char* check_blocks(std::span<const std::byte> tile, size_t at, uint64_t block_max) {
  const size_t end = tile.size() - 4;
  for (;;) {
    if (at + 3 > end) return "zstd blocks run past the frame";
    const uint32_t header = uint32_t(le_n(tile, at, 3));
    const bool last = header & 1;
    const uint32_t type = (header >> 1) & 3;
    const uint64_t size = header >> 3;
    if (type == 3) return "reserved zstd block type";
    if (size > block_max) return "zstd block larger than the frame's maximum";
    const uint64_t stored = type == 1 ? 1 : size;  // an RLE block stores one byte
    at += 3;
    if (stored > end - at) return "zstd block runs past the frame";
    at += stored;
    if (last) return at == end ? "" : "bytes after the zstd frame";
  }
}

// The stored (uncompressed) blocks a deflate stream starts with, as libdeflate checks them:
// LEN must be the complement of NLEN (RFC 1951 3.2.4), a field that does not change the output,
// so the Adler-32 cannot show it. Encoders store incompressible data (noise, already
// compressed pixels) this way, block after block; the walk stops at the first Huffman block
// (whose damage changes the output) and, after a final stored block, wants the trailer next.
bool stored_blocks_sound(std::span<const std::byte> tile) {
  const size_t end = tile.size() - 4;
  size_t at = 2;
  for (;;) {
    if (at >= end) return false;
    const uint8_t header = byte_at(tile, at);
    const bool final = header & 1;
    const int type = (header >> 1) & 3;
    if (type == 3) return false;
    if (type != 0) return true;
    if (end - at < 5) return false;
    const uint32_t len = uint32_t(byte_at(tile, at + 1)) | uint32_t(byte_at(tile, at + 2)) << 8;
    const uint32_t nlen = uint32_t(byte_at(tile, at + 3)) | uint32_t(byte_at(tile, at + 4)) << 8;
    if ((len ^ nlen) != 0xFFFF) return false;
    at += 5;
    if (len > end - at) return false;
    at += len;
    if (final) return at == end;
  }
}

}  // namespace

std::optional<Chunk> zlib_chunk(std::span<const std::byte> tile) {
  if (tile.size() < 6) return std::nullopt;
  const uint8_t cmf = byte_at(tile, 0), flg = byte_at(tile, 1);
  if ((cmf & 0x0F) != 8 || (cmf >> 4) > 7 || (cmf * 256u + flg) % 31 != 0 || (flg & 0x20)) {
    return std::nullopt;
  }
  if (!stored_blocks_sound(tile)) return std::nullopt;
  return Chunk{2, tile.size() - 6, Check::adler32, be32(tile, tile.size() - 4)};
}

const char* zstd_refusal(std::span<const std::byte> tile, size_t tile_bytes) {
  if (tile.size() < 9 || le32(tile, 0) != kZstdMagic) return "not a zstd frame";
  const uint8_t fhd = byte_at(tile, 4);
  const int fcs_flag = fhd >> 6;
  const bool single_segment = (fhd >> 5) & 1;
  const bool checksum = (fhd >> 2) & 1;
  const int dict_flag = fhd & 3;
  if (!checksum) return "zstd frame without a content checksum: nvCOMP's output cannot be verified";
  if ((fhd >> 3) & 1) return "zstd reserved bit set";
  size_t at = 5;
  uint64_t window = 0;
  if (!single_segment) {
    const uint8_t wd = byte_at(tile, at++);
    const int window_log = 10 + (wd >> 3);
    if (window_log > kWindowLogLimit) return "zstd window larger than libzstd's default limit";
    const uint64_t base = uint64_t{1} << window_log;
    window = base + (base / 8) * (wd & 7);
  }
  static constexpr size_t kDictBytes[4] = {0, 1, 2, 4};
  static constexpr size_t kSizeBytes[4] = {0, 2, 4, 8};
  const size_t dict_bytes = kDictBytes[dict_flag];
  const size_t size_bytes = fcs_flag == 0 && single_segment ? 1 : kSizeBytes[fcs_flag];
  if (at + dict_bytes + size_bytes + 3 + 4 > tile.size()) return "zstd frame header truncated";
  if (le_n(tile, at, dict_bytes) != 0) return "zstd frame needs a dictionary";
  at += dict_bytes;
  if (size_bytes > 0) {
    uint64_t size = le_n(tile, at, size_bytes);
    if (size_bytes == 2) size += 256;
    if (size != tile_bytes) return "zstd frame's declared size differs from the tile's";
    if (single_segment) window = size;
    at += size_bytes;
  }
  // A window below the block maximum lowers libzstd's block limit; nvCOMP need not enforce it.
  const uint64_t block_max = std::min<uint64_t>(kBlockMaximum, std::max<uint64_t>(window, 1));
  if (block_max < std::min<uint64_t>(kBlockMaximum, tile_bytes)) {
    return "zstd window smaller than the tile's blocks may be";
  }
  return check_blocks(tile, at, block_max);
}

bool zstd_declares_checksum(std::span<const std::byte> header) {
  return header.size() >= 5 && le32(header, 0) == kZstdMagic && (byte_at(header, 4) >> 2) & 1;
}

std::optional<Chunk> zstd_chunk(std::span<const std::byte> tile, size_t tile_bytes) {
  if (*zstd_refusal(tile, tile_bytes) != '\0') return std::nullopt;
  return Chunk{0, tile.size(), Check::xxh64, le32(tile, tile.size() - 4)};
}

}  // namespace slidestream::codec::nvcomp_route
