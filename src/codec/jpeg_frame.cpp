#include "codec/jpeg_frame.hpp"

namespace slidestream::codec {

std::optional<JpegFrame> read_jpeg_frame(std::span<const std::byte> stream) noexcept {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(stream[i]); };
  const size_t n = stream.size();
  if (n < 4 || byte(0) != 0xFF || byte(1) != 0xD8) return std::nullopt;
  JpegFrame frame;
  size_t at = 2;
  while (at + 4 <= n) {
    if (byte(at) != 0xFF) return std::nullopt;
    uint8_t marker = byte(at + 1);
    if (marker == 0xFF) {  // fill byte before a marker
      ++at;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      at += 2;  // markers without a length
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) return std::nullopt;  // EOI or scan before any frame
    const size_t length = (size_t{byte(at + 2)} << 8) | byte(at + 3);
    if (length < 2 || at + 2 + length > n) return std::nullopt;
    const size_t body = at + 4;
    if (marker == 0xDD) frame.restart_interval = true;
    const bool sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (length < 8) return std::nullopt;
      frame.sof = static_cast<uint8_t>(marker - 0xC0);
      frame.precision = byte(body);
      frame.height = static_cast<uint16_t>((byte(body + 1) << 8) | byte(body + 2));
      frame.width = static_cast<uint16_t>((byte(body + 3) << 8) | byte(body + 4));
      frame.components = byte(body + 5);
      if (length < 8 + 3 * size_t{frame.components}) return std::nullopt;
      for (size_t c = 0; c < frame.components && c < 4; ++c) {
        uint8_t factors = byte(body + 6 + 3 * c + 1);
        frame.h[c] = factors >> 4;
        frame.v[c] = factors & 0x0F;
      }
      return frame;
    }
    at += 2 + length;
  }
  return std::nullopt;
}

}  // namespace slidestream::codec
