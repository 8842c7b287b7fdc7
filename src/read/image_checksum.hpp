// The host half of checksum_crc32c (slidestream/checksum.hpp): CRC-32C of a host view's tight
// pixels, whatever its row pitch. Rows are checksummed in parallel pieces joined with
// crc32c_combine, so no tight copy is ever made.
#pragma once

#include <cstdint>

#include "slidestream/checksum.hpp"
#include "slidestream/image.hpp"

namespace slidestream::read {

// CRC-32C of a host view's tight pixels, continued from `crc` (0 to start). threads: 0 = all
// hardware threads, 1 = this thread only.
uint32_t image_crc32c(const ImageView& view, uint32_t crc = 0, int threads = 1);

}  // namespace slidestream::read
