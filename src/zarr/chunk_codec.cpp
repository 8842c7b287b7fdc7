#include "zarr/chunk_codec.hpp"

#include <blosc.h>
#include <zstd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/crc32c.hpp"
#include "slidestream/error.hpp"

namespace slidestream::zarr::detail {
namespace {

template <size_t N>
struct Sample {
  std::byte b[N];
};

// Interleaved (y, x, c) rows → planar (c, y, x) planes for one sample size.
template <size_t N>
void to_planar(const ImageView& region, const Layout& l, std::byte* out) {
  using S = Sample<N>;
  const int C = l.channels;
  const size_t plane = static_cast<size_t>(l.chunk_h * l.chunk_w);
  for (int64_t y = 0; y < region.height; ++y) {
    const auto* src = reinterpret_cast<const S*>(region.row(y));
    for (int c = 0; c < C; ++c) {
      auto* dst = reinterpret_cast<S*>(out) + c * plane + static_cast<size_t>(y * l.chunk_w);
      for (int64_t x = 0; x < region.width; ++x) dst[x] = src[x * C + c];
    }
  }
}

template <size_t N>
void from_planar(const std::byte* chunk, const Layout& l, int64_t cy, int64_t cx,
                 const ImageView& out) {
  using S = Sample<N>;
  const int C = l.channels;
  const size_t plane = static_cast<size_t>(l.chunk_h * l.chunk_w);
  for (int64_t y = 0; y < out.height; ++y) {
    auto* dst = reinterpret_cast<S*>(out.row(y));
    for (int c = 0; c < C; ++c) {
      const auto* src = reinterpret_cast<const S*>(chunk) + c * plane +
                        static_cast<size_t>((cy + y) * l.chunk_w + cx);
      for (int64_t x = 0; x < out.width; ++x) dst[x * C + c] = src[x];
    }
  }
}

// Fills rows × cols samples-of-pixels at `out` (pitch bytes apart) with the fill value.
void fill_rect(std::byte* out, size_t pitch, int64_t rows, size_t row_bytes, const Layout& l) {
  for (int64_t y = 0; y < rows; ++y)
    fill_samples(out + static_cast<size_t>(y) * pitch, row_bytes, l);
}

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorKind::corrupt, what);
}

}  // namespace

void AlignedBuffer::Free::operator()(std::byte* p) const noexcept {
  std::free(p);
}

AlignedBuffer::AlignedBuffer(size_t bytes) {
  reserve(bytes);
}

void AlignedBuffer::reserve(size_t bytes) {
  if (bytes <= capacity_) return;
  size_t rounded = round_up_4k(bytes);
  void* p = std::aligned_alloc(kAlign, rounded);
  if (p == nullptr) {
    throw Error(ErrorKind::out_of_memory,
                "cannot allocate a " + std::to_string(rounded) + "-byte chunk buffer");
  }
  data_.reset(static_cast<std::byte*>(p));
  capacity_ = rounded;
}

void fill_samples(std::byte* out, size_t bytes, const Layout& l) {
  if (bytes == 0) return;
  const size_t n = l.sample_bytes();
  if (l.fill_is_zero()) {
    std::memset(out, 0, bytes);
    return;
  }
  if (n == 1) {
    std::memset(out, static_cast<int>(l.fill_sample[0]), bytes);
    return;
  }
  std::memcpy(out, l.fill_sample.data(), n);
  // Doubling copies: the pattern repeats with period n.
  size_t done = n;
  while (done < bytes) {
    size_t step = std::min(done, bytes - done);
    std::memcpy(out + done, out, step);
    done += step;
  }
}

void pack_chunk(const ImageView& region, const Layout& l, std::byte* out) {
  const size_t px = l.pixel_bytes();
  const bool partial = region.height < l.chunk_h || region.width < l.chunk_w;
  if (l.encoding.interleaved) {
    const size_t pitch = static_cast<size_t>(l.chunk_w) * px;
    const size_t used = static_cast<size_t>(region.width) * px;
    for (int64_t y = 0; y < region.height; ++y) {
      std::memcpy(out + static_cast<size_t>(y) * pitch, region.row(y), used);
      if (used < pitch) fill_samples(out + static_cast<size_t>(y) * pitch + used, pitch - used, l);
    }
    if (region.height < l.chunk_h) {
      fill_samples(out + static_cast<size_t>(region.height) * pitch,
                   static_cast<size_t>(l.chunk_h - region.height) * pitch, l);
    }
    return;
  }
  if (partial) fill_samples(out, l.chunk_bytes(), l);
  switch (l.sample_bytes()) {
    case 1:
      to_planar<1>(region, l, out);
      break;
    case 2:
      to_planar<2>(region, l, out);
      break;
    case 4:
      to_planar<4>(region, l, out);
      break;
    default:
      throw Error(ErrorKind::unsupported, "sample size");
  }
}

size_t encoded_bound(const Layout& l, size_t raw_bytes) {
  size_t bound = raw_bytes;
  switch (l.encoding.compressor) {
    case Compressor::none:
      break;
    case Compressor::zstd:
      bound = ZSTD_compressBound(raw_bytes);
      break;
    case Compressor::blosc:
      bound = raw_bytes + BLOSC_MAX_OVERHEAD;
      break;
  }
  return bound + (l.encoding.crc32c ? 4 : 0);
}

size_t encode_bytes(const Layout& l, std::span<const std::byte> raw, std::byte* out) {
  size_t n = 0;
  switch (l.encoding.compressor) {
    case Compressor::none:
      if (out != raw.data()) std::memcpy(out, raw.data(), raw.size());
      n = raw.size();
      break;
    case Compressor::zstd: {
      size_t r = ZSTD_compress(out, ZSTD_compressBound(raw.size()), raw.data(), raw.size(),
                               l.encoding.level);
      if (ZSTD_isError(r)) {
        throw Error(ErrorKind::io, std::string("zstd compression failed: ") + ZSTD_getErrorName(r));
      }
      n = r;
      break;
    }
    case Compressor::blosc: {
      int r = blosc_compress_ctx(l.encoding.level, l.encoding.blosc_shuffle, l.sample_bytes(),
                                 raw.size(), raw.data(), out, raw.size() + BLOSC_MAX_OVERHEAD,
                                 l.encoding.blosc_cname.c_str(),
                                 /*blocksize=*/0, /*numinternalthreads=*/1);
      if (r <= 0)
        throw Error(ErrorKind::io, "blosc compression failed (" + std::to_string(r) + ")");
      n = static_cast<size_t>(r);
      break;
    }
  }
  if (l.encoding.crc32c) {
    uint32_t crc = crc32c(std::span<const std::byte>(out, n));
    std::memcpy(out + n, &crc, 4);  // little-endian hosts
    n += 4;
  }
  return n;
}

void decode_bytes(const Layout& l, std::span<const std::byte> encoded, std::span<std::byte> raw) {
  if (l.encoding.crc32c) {
    if (encoded.size() < 4) corrupt("chunk shorter than its crc32c");
    uint32_t stored;
    std::memcpy(&stored, encoded.data() + encoded.size() - 4, 4);
    encoded = encoded.first(encoded.size() - 4);
    if (crc32c(encoded) != stored) corrupt("chunk crc32c mismatch");
  }
  switch (l.encoding.compressor) {
    case Compressor::none:
      if (encoded.size() != raw.size()) {
        corrupt("uncompressed chunk has " + std::to_string(encoded.size()) + " bytes, expected " +
                std::to_string(raw.size()));
      }
      std::memcpy(raw.data(), encoded.data(), raw.size());
      return;
    case Compressor::zstd: {
      unsigned long long declared = ZSTD_getFrameContentSize(encoded.data(), encoded.size());
      if (declared == ZSTD_CONTENTSIZE_ERROR) corrupt("not a zstd frame");
      if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != raw.size()) {
        corrupt("zstd chunk declares " + std::to_string(declared) + " bytes, expected " +
                std::to_string(raw.size()));
      }
      size_t r = ZSTD_decompress(raw.data(), raw.size(), encoded.data(), encoded.size());
      if (ZSTD_isError(r)) corrupt(std::string("zstd: ") + ZSTD_getErrorName(r));
      if (r != raw.size()) corrupt("zstd chunk decoded to fewer bytes than the chunk holds");
      return;
    }
    case Compressor::blosc: {
      size_t nbytes = 0, cbytes = 0, blocksize = 0;
      if (encoded.size() < BLOSC_MIN_HEADER_LENGTH) corrupt("blosc chunk shorter than its header");
      blosc_cbuffer_sizes(encoded.data(), &nbytes, &cbytes, &blocksize);
      if (nbytes != raw.size() || cbytes > encoded.size()) {
        corrupt("blosc header declares " + std::to_string(nbytes) + " bytes, expected " +
                std::to_string(raw.size()));
      }
      int r = blosc_decompress_ctx(encoded.data(), raw.data(), raw.size(), 1);
      if (r < 0 || static_cast<size_t>(r) != raw.size()) corrupt("blosc decompression failed");
      return;
    }
  }
}

void unpack_chunk(const std::byte* chunk, const Layout& l, int64_t cy, int64_t cx,
                  const ImageView& out) {
  const size_t px = l.pixel_bytes();
  if (l.encoding.interleaved) {
    const size_t pitch = static_cast<size_t>(l.chunk_w) * px;
    for (int64_t y = 0; y < out.height; ++y) {
      std::memcpy(out.row(y),
                  chunk + static_cast<size_t>(cy + y) * pitch + static_cast<size_t>(cx) * px,
                  out.row_bytes());
    }
    return;
  }
  switch (l.sample_bytes()) {
    case 1:
      from_planar<1>(chunk, l, cy, cx, out);
      break;
    case 2:
      from_planar<2>(chunk, l, cy, cx, out);
      break;
    case 4:
      from_planar<4>(chunk, l, cy, cx, out);
      break;
    default:
      throw Error(ErrorKind::unsupported, "sample size");
  }
}

void fill_view(const ImageView& out, const Layout& l) {
  fill_rect(out.data, out.row_pitch, out.height, out.row_bytes(), l);
}

}  // namespace slidestream::zarr::detail
