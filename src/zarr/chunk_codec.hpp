// One chunk between pixels and bytes: pack an interleaved region into the chunk's stored layout
// (padded to the full chunk with fill_value, planar or interleaved), compress, and the reverse.
// Codecs: zstd (https://zarr-specs.readthedocs.io/en/latest/v3/codecs/zstd/index.html), blosc
// (.../codecs/blosc/index.html), crc32c (.../codecs/crc32c/index.html).
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "slidestream/image.hpp"
#include "zarr/layout.hpp"

namespace slidestream::zarr::detail {

// Host memory aligned to 4 KiB with a capacity rounded up to 4 KiB, as O_DIRECT wants.
class AlignedBuffer {
 public:
  static constexpr size_t kAlign = 4096;
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes);
  std::byte* data() const noexcept { return data_.get(); }
  size_t capacity() const noexcept { return capacity_; }
  // Grows (never shrinks) to hold `bytes`; contents are not kept.
  void reserve(size_t bytes);

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept;
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t capacity_ = 0;
};

inline size_t round_up_4k(size_t n) {
  return (n + 4095) / 4096 * 4096;
}

// Writes the decoded chunk whose pixels inside the array are `region` (a host view, interleaved,
// at most chunk_h × chunk_w) into `out` (layout.chunk_bytes()), padding the rest with the fill
// value, in the chunk's stored order.
void pack_chunk(const ImageView& region, const Layout& layout, std::byte* out);

// Fills `bytes` (a whole number of samples) with the fill value.
void fill_samples(std::byte* out, size_t bytes, const Layout& layout);

// The largest compressed size of `raw_bytes` (crc32c trailer included).
size_t encoded_bound(const Layout& layout, size_t raw_bytes);
// Compresses `raw` into `out` (at least encoded_bound bytes); returns the encoded size.
size_t encode_bytes(const Layout& layout, std::span<const std::byte> raw, std::byte* out);
// Decodes `encoded` into exactly raw.size() bytes; Error(corrupt) when the data disagree.
void decode_bytes(const Layout& layout, std::span<const std::byte> encoded,
                  std::span<std::byte> raw);

// Copies the rectangle [cy, cy + out.height) × [cx, cx + out.width) of a decoded chunk (stored
// order) into `out` (host, interleaved).
void unpack_chunk(const std::byte* chunk, const Layout& layout, int64_t cy, int64_t cx,
                  const ImageView& out);
// Fills a host view with the fill value.
void fill_view(const ImageView& out, const Layout& layout);

}  // namespace slidestream::zarr::detail
