// Which compressed tiles the GPU read path may hand to nvCOMP, and what to check its output
// against. nvCOMP's documentation calls a corrupt stream undefined behaviour, and on damaged
// frames it does decode differently from libzstd without reporting an error (issue 16: one
// zstd tile, two sets of pixels). So a tile goes to nvCOMP only when its output can be proven
// equal to what the CPU decoder (libdeflate, libzstd) would produce: the stream carries a
// checksum of its decompressed bytes that the GPU checks (a zlib trailer's Adler-32, a zstd
// frame's XXH64), and every header field the CPU decoder would refuse but that leaves the
// output unchanged (zlib's FDICT bit, a stored block's NLEN, zstd's reserved bit, dictionary,
// window, declared size) is checked here first. Everything else decodes on the CPU, whose
// pixels or error stand. (Checks libdeflate makes inside Huffman blocks are not repeated:
// damage there changes the output, which the Adler-32 then shows.)
//
// Plain C++ (no CUDA) so that the decision is unit-tested on every build
// (tests/test_nvcomp_route.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace slidestream::codec::nvcomp_route {

// The checksum a chunk carries of its decompressed bytes (values as codec::cuda::TileChecksum).
enum class Check : uint32_t { adler32 = 1, xxh64 = 2 };

// What nvCOMP decodes of a tile: bytes [begin, begin + size) of the stored tile, whose
// decompressed bytes must match `expected` under `check`.
struct Chunk {
  size_t begin = 0;
  size_t size = 0;
  Check check = Check::adler32;
  uint32_t expected = 0;
};

// A TIFF deflate tile (zlib, RFC 1950) as a raw deflate chunk and its Adler-32 trailer, or
// nullopt where libdeflate would refuse the header or the stored blocks the stream starts with
// (the CPU then reports it). The trailer is taken to be the tile's last four bytes: a padded
// tile mismatches and decodes on the CPU.
std::optional<Chunk> zlib_chunk(std::span<const std::byte> tile);

// A TIFF zstd tile (one frame, RFC 8878) of `tile_bytes` decoded bytes as an nvCOMP chunk, or
// nullopt where the CPU must decode it: no content checksum (what libtiff, libvips, tifffile
// and imagecodecs write: such a frame cannot be verified), a dictionary, the reserved bit, a
// declared size other than tile_bytes, or a window libzstd might refuse or that would limit
// its block size below what nvCOMP accepts.
std::optional<Chunk> zstd_chunk(std::span<const std::byte> tile, size_t tile_bytes);

// Whether a zstd frame starting with `header` (its first bytes) carries a content checksum:
// without one no tile of its level can go to nvCOMP.
bool zstd_declares_checksum(std::span<const std::byte> header);

// Why zstd_chunk refuses a tile (for a read's report); "" when it does not.
const char* zstd_refusal(std::span<const std::byte> tile, size_t tile_bytes);

}  // namespace slidestream::codec::nvcomp_route
