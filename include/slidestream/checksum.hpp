// Pixel checksums and band-wise host access to any view, for front ends (the CLI's `read`, the
// Python package) that must not reach into the library's rooms.
//
// The checksum is the one `slidestream read` prints (IO-NOTES "Conventions of our own"): CRC-32C
// of the image's pixels laid out tightly (row-major, samples interleaved, no row padding), the
// same on every device and backend for lossless slides and checkable with google_crc32c over a
// numpy array. It is computed piece by piece (crc32c_combine joins the pieces), so neither a
// tight copy of a host view nor a whole host copy of a GPU view is ever made.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "slidestream/image.hpp"

namespace slidestream {

// CRC-32C of the view's tight pixels, on the host or on a GPU (GPU views are copied to the host
// in bands of at most 64 MiB). threads: host views are checksummed in parallel pieces; 0 = all
// hardware threads.
uint32_t checksum_crc32c(const ImageView& view, int threads = 0);

// "crc32c:" and 8 lowercase hex digits.
std::string checksum_text(uint32_t crc);

// Calls `visit` with the view's pixels laid out tightly, in row order, a band of whole rows at a
// time (at most max(band_bytes, one row) bytes each). Host views are visited in place where their
// rows are tight; GPU views are copied into one reused host band. Throws Error(unsupported) for a
// GPU view in a build without CUDA.
void for_each_host_band(const ImageView& view,
                        const std::function<void(std::span<const std::byte>)>& visit,
                        size_t band_bytes = size_t{64} << 20);

}  // namespace slidestream
