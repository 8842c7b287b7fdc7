// TIFF LZW (compression 5). Codes are 9 to 12 bits, 256 = clear, 257 = end of information.
// Modern writers pack codes MSB-first and widen the code one entry early ("early change");
// pre-TIFF-5.0 writers packed them LSB-first without early change. As libtiff does, the old
// variant is recognised by its first bytes: a clear code written LSB-first starts 0x00, 0bxxxxxxx1.
// Output stops when the tile is full (extra codes are ignored, as in libtiff); a stream that ends
// before the tile is full is corrupt.
#include <array>
#include <cstdint>
#include <string>

#include "codec/decoders.hpp"
#include "slidestream/error.hpp"

namespace slidestream::codec {
namespace {

constexpr int kClear = 256;
constexpr int kEnd = 257;
constexpr int kFirstFree = 258;
constexpr int kMaxCodes = 4096;

struct Table {
  std::array<uint16_t, kMaxCodes> prefix;  // code of the string without its last byte
  std::array<uint16_t, kMaxCodes> length;  // string length in bytes
  std::array<uint8_t, kMaxCodes> last;     // last byte of the string
  std::array<uint8_t, kMaxCodes> first;    // first byte of the string
};

class BitReader {
 public:
  BitReader(std::span<const std::byte> data, bool msb_first) : data_(data), msb_(msb_first) {}
  // Returns -1 when fewer than `bits` bits remain.
  int next(int bits) {
    while (count_ < bits) {
      if (pos_ >= data_.size()) return -1;
      uint32_t byte = static_cast<uint8_t>(data_[pos_++]);
      if (msb_) {
        buffer_ = (buffer_ << 8) | byte;
      } else {
        buffer_ |= byte << count_;
      }
      count_ += 8;
    }
    int code;
    if (msb_) {
      code = static_cast<int>((buffer_ >> (count_ - bits)) & ((1u << bits) - 1));
    } else {
      code = static_cast<int>(buffer_ & ((1u << bits) - 1));
      buffer_ >>= bits;
    }
    count_ -= bits;
    if (msb_) buffer_ &= (count_ == 0) ? 0u : ((1u << count_) - 1);
    return code;
  }

 private:
  std::span<const std::byte> data_;
  bool msb_;
  size_t pos_ = 0;
  uint32_t buffer_ = 0;
  int count_ = 0;
};

}  // namespace

void decode_lzw(std::span<const std::byte> encoded, std::span<std::byte> out) {
  const bool old_style = encoded.size() >= 2 && encoded[0] == std::byte{0} &&
                         (static_cast<uint8_t>(encoded[1]) & 1) != 0;
  const int early = old_style ? 0 : 1;
  thread_local Table table;
  for (int i = 0; i < 256; ++i) {
    table.prefix[i] = 0;
    table.length[i] = 1;
    table.last[i] = static_cast<uint8_t>(i);
    table.first[i] = static_cast<uint8_t>(i);
  }

  auto* dst = reinterpret_cast<uint8_t*>(out.data());
  const size_t capacity = out.size();
  size_t produced = 0;
  BitReader reader(encoded, !old_style);
  int bits = 9;
  int next_free = kFirstFree;
  int previous = -1;

  // Writes the string of `code`, clipped to the space left.
  auto emit = [&](int code) {
    size_t len = table.length[code];
    size_t room = capacity - produced;
    size_t skip = len > room ? len - room : 0;  // bytes at the end that do not fit
    int c = code;
    for (size_t k = 0; k < skip; ++k) c = table.prefix[c];
    for (size_t k = len - skip; k > 0; --k) {
      dst[produced + k - 1] = table.last[c];
      c = table.prefix[c];
    }
    produced += len - skip;
  };

  while (produced < capacity) {
    int code = reader.next(bits);
    if (code < 0 || code == kEnd) break;
    if (code == kClear) {
      bits = 9;
      next_free = kFirstFree;
      previous = -1;
      continue;
    }
    if (previous < 0) {
      if (code > 255)
        throw Error(ErrorKind::corrupt, "lzw: first code after a clear is not a literal");
      emit(code);
      previous = code;
      continue;
    }
    int added_first;
    if (code < next_free) {
      added_first = table.first[code];
    } else if (code == next_free) {
      added_first = table.first[previous];
    } else {
      throw Error(ErrorKind::corrupt, "lzw: code " + std::to_string(code) +
                                          " not yet defined (next free " +
                                          std::to_string(next_free) + ")");
    }
    if (next_free < kMaxCodes) {
      if (table.length[previous] >= 0xffff) throw Error(ErrorKind::corrupt, "lzw: string too long");
      table.prefix[next_free] = static_cast<uint16_t>(previous);
      table.length[next_free] = static_cast<uint16_t>(table.length[previous] + 1);
      table.last[next_free] = static_cast<uint8_t>(added_first);
      table.first[next_free] = table.first[previous];
      ++next_free;
    }
    emit(code);
    previous = code;
    if (next_free + early >= (1 << bits) && bits < 12) ++bits;
  }
  if (produced < capacity) {
    throw Error(ErrorKind::corrupt, "lzw: stream ends after " + std::to_string(produced) + " of " +
                                        std::to_string(capacity) + " bytes");
  }
}

}  // namespace slidestream::codec
