// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of Zarr v3's `crc32c`
// codec, of iSCSI (RFC 3720) and of SSE 4.2's crc32 instruction. Computed piecewise: pass the
// previous result as `crc` to continue, or compute pieces independently (in parallel, on other
// devices) and join them with crc32c_combine, so no piece ever needs to be copied next to another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace slidestream {

// CRC-32C of `data` continued from `crc` (the CRC of the bytes before it; 0 for none).
// crc32c(b, crc32c(a)) == crc32c(a ++ b). Uses the SSE 4.2 instruction where the CPU has it.
uint32_t crc32c(std::span<const std::byte> data, uint32_t crc = 0) noexcept;

// The CRC-32C of a ++ b, given crc_a = crc32c(a), crc_b = crc32c(b) and len_b = b.size().
// O(log len_b); no data needed.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) noexcept;

// The portable table-driven implementation, for tests comparing it with the hardware one.
uint32_t crc32c_portable(std::span<const std::byte> data, uint32_t crc = 0) noexcept;
// True when crc32c() uses the SSE 4.2 instruction on this CPU.
bool crc32c_hardware() noexcept;

}  // namespace slidestream
