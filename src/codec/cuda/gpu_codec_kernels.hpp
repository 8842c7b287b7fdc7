// Kernels around the GPU tile decoders (nvCOMP, nvJPEG2000): the checks that decide whether a
// decompressed tile may be kept, the TIFF steps after decompression (byte order, predictor 2),
// and JPEG 2000 planes to interleaved pixels (with Aperio's YCbCr conversion). Each one does
// exactly what the CPU path (src/codec/) does, so that GPU and CPU reads give the same bytes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace slidestream::codec::cuda {

// The checksum a compressed tile carries of its decompressed bytes.
enum class TileChecksum : uint32_t {
  none = 0,
  adler32 = 1,  // zlib trailer (RFC 1950)
  xxh64 = 2,    // zstd frame content checksum: the low 32 bits of XXH64, seed 0 (RFC 8878)
};

// One decompressed tile's verdict inputs, in device memory, per tile i of a batch.
struct ChunkChecks {
  const int* status = nullptr;         // nvCOMP's per-chunk status (0: success)
  const size_t* actual = nullptr;      // bytes nvCOMP produced
  const uint32_t* kind = nullptr;      // TileChecksum
  const uint32_t* expected = nullptr;  // the checksum the stream carries
  uint32_t* ok = nullptr;              // out: 1 when the tile may be kept, else 0
};

// Sets ok[i] for `count` tiles of `tile_bytes` each, the i-th at data + i * stride: status 0,
// exactly tile_bytes produced, and the checksum (if any) matching. Asynchronous on `stream`.
void verify_chunks(const std::byte* data, size_t stride, size_t tile_bytes, int count,
                   const ChunkChecks& checks, cudaStream_t stream);

// TIFF's steps after decompression on `count` tiles (tile i at data + i * stride, rows of
// width × channels samples of sample_bytes, back to back), skipping tiles whose ok[i] is 0:
// samples to host order when `swap` (a big-endian file), then predictor 2 undone when
// `horizontal`. Asynchronous on `stream`.
void finish_tiles(std::byte* data, size_t stride, int count, const uint32_t* ok, uint32_t width,
                  uint32_t height, int channels, int sample_bytes, bool swap, bool horizontal,
                  cudaStream_t stream);

// OpenSlide's YCbCr → RGB tables (openslide-decode-jp2k.c, as jpeg2000_decoder.cpp builds
// them), uploaded once per decoder.
struct YCbCrTables {
  int16_t r_cr[256];
  int16_t b_cb[256];
  int32_t g_cb[256];
  int32_t g_cr[256];
};
YCbCrTables make_ycbcr_tables();

// What follows a JPEG 2000 tile's decoding, as decode_jpeg2000 does it: nothing, Aperio's
// YCbCr (33003, 8-bit, 3 channels: OpenSlide's tables) or libvips' YCbCr (33004, 3 channels:
// its reader's formula in C doubles, truncated).
enum class J2kColour { as_stored, aperio_ycbcr, vips_ycc };

// One decoded JPEG 2000 tile as planes (one per component, 8- or 16-bit) to interleaved pixels
// in `out`, as decode_jpeg2000 does it: channel c of pixel (x, y) comes from component c at
// (min(x / sub_x, w_c - 1), min(y / sub_y, h_c - 1)), then `colour` (Aperio's with `tables`,
// device memory).
struct J2kPlanes {
  const void* data[4] = {};
  size_t pitch[4] = {};
  uint32_t width[4] = {}, height[4] = {};
  uint32_t sub_x[4] = {}, sub_y[4] = {};
};
void j2k_planes_to_pixels(const J2kPlanes& planes, int channels, bool sixteen, J2kColour colour,
                          const YCbCrTables* tables, std::byte* out, size_t out_pitch,
                          uint32_t width, uint32_t height, cudaStream_t stream);

// Host versions of the device checksums (tests compare them with zlib / libzstd).
uint32_t adler32_host(const std::byte* data, size_t size);
uint32_t xxh64_low32_host(const std::byte* data, size_t size);

}  // namespace slidestream::codec::cuda
