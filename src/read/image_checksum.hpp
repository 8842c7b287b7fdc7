// The checksum `slidestream read` prints (IO-NOTES "Conventions of our own"): CRC-32C of an
// image's pixels laid out tightly (row-major, samples interleaved, no row padding), whatever the
// view's row pitch. Rows are checksummed in parallel pieces joined with crc32c_combine, so no
// tight copy is ever made.
#pragma once

#include <cstdint>
#include <string>

#include "slidestream/image.hpp"

namespace slidestream::read {

// CRC-32C of a host view's tight pixels, continued from `crc` (0 to start). threads: 0 = all
// hardware threads, 1 = this thread only.
uint32_t image_crc32c(const ImageView& view, uint32_t crc = 0, int threads = 1);

// "crc32c:" and 8 lowercase hex digits.
std::string checksum_text(uint32_t crc);

}  // namespace slidestream::read
