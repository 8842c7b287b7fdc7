#include "core/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace slidestream {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // reflected Castagnoli

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int i = 0; i < 8; ++i) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b) {
      for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
    }
  }
};
constexpr Tables kTables;

// The raw (unconditioned) CRC register advanced over `data`.
uint32_t advance_portable(uint32_t state, const unsigned char* p, size_t n) noexcept {
  const auto& t = kTables.t;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // little-endian hosts only (x86-64, aarch64)
    uint32_t lo = static_cast<uint32_t>(word) ^ state;
    uint32_t hi = static_cast<uint32_t>(word >> 32);
    state = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
            t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) state = (state >> 8) ^ t[0][(state ^ *p++) & 0xFF];
  return state;
}

// a(x) * b(x) mod P(x), bit-reflected (zlib's multmodp). `a` must be non-zero (every power of
// x is).
constexpr uint32_t multiply_mod_p(uint32_t a, uint32_t b) noexcept {
  uint32_t m = 1u << 31;
  uint32_t product = 0;
  for (;;) {
    if (a & m) {
      product ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// x^(2^k) mod P for k in [0, 64).
struct PowerTable {
  std::array<uint32_t, 64> x2n{};
  constexpr PowerTable() {
    uint32_t p = 1u << 30;  // x^1
    x2n[0] = p;
    for (int k = 1; k < 64; ++k) x2n[k] = p = multiply_mod_p(p, p);
  }
};
constexpr PowerTable kPowers;

// x^(8 * bytes) mod P: multiplying a register by it appends `bytes` zero bytes.
uint32_t shift_for_bytes(uint64_t bytes) noexcept {
  uint32_t p = 1u << 31;  // x^0
  unsigned k = 3;         // 8 bits per byte: start at x^(2^3)
  while (bytes) {
    if (bytes & 1) p = multiply_mod_p(kPowers.x2n[k & 63], p);
    bytes >>= 1;
    ++k;
  }
  return p;
}

#if defined(__x86_64__)
bool cpu_has_sse42() noexcept {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}

// Three independent streams hide the crc32 instruction's 3-cycle latency; the streams are
// joined by multiplying with precomputed shifts.
constexpr size_t kStripe = 8192;

__attribute__((target("sse4.2"))) uint32_t advance_sse42(uint32_t state, const unsigned char* p,
                                                         size_t n) noexcept {
  while (n && (reinterpret_cast<uintptr_t>(p) & 7)) {
    state = _mm_crc32_u8(state, *p++);
    --n;
  }
  if (n >= 3 * kStripe) {
    static const uint32_t shift1 = shift_for_bytes(kStripe);
    static const uint32_t shift2 = shift_for_bytes(2 * kStripe);
    while (n >= 3 * kStripe) {
      uint64_t c0 = state, c1 = 0, c2 = 0;
      const unsigned char* p1 = p + kStripe;
      const unsigned char* p2 = p + 2 * kStripe;
      for (size_t i = 0; i < kStripe; i += 8) {
        uint64_t w0, w1, w2;
        std::memcpy(&w0, p + i, 8);
        std::memcpy(&w1, p1 + i, 8);
        std::memcpy(&w2, p2 + i, 8);
        c0 = _mm_crc32_u64(c0, w0);
        c1 = _mm_crc32_u64(c1, w1);
        c2 = _mm_crc32_u64(c2, w2);
      }
      uint32_t s0 = static_cast<uint32_t>(c0), s1 = static_cast<uint32_t>(c1);
      state = multiply_mod_p(shift2, s0) ^ multiply_mod_p(shift1, s1) ^ static_cast<uint32_t>(c2);
      p += 3 * kStripe;
      n -= 3 * kStripe;
    }
  }
  uint64_t c = state;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  state = static_cast<uint32_t>(c);
  while (n--) state = _mm_crc32_u8(state, *p++);
  return state;
}
#endif

}  // namespace

uint32_t crc32c_portable(std::span<const std::byte> data, uint32_t crc) noexcept {
  return ~advance_portable(~crc, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

bool crc32c_hardware() noexcept {
#if defined(__x86_64__)
  return cpu_has_sse42();
#else
  return false;
#endif
}

uint32_t crc32c(std::span<const std::byte> data, uint32_t crc) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
#if defined(__x86_64__)
  if (cpu_has_sse42()) return ~advance_sse42(~crc, p, data.size());
#endif
  return ~advance_portable(~crc, p, data.size());
}

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) noexcept {
  // The conditioning (init and final xor of ~0) cancels out exactly as in zlib's crc32_combine.
  return multiply_mod_p(shift_for_bytes(len_b), crc_a) ^ crc_b;
}

}  // namespace slidestream
