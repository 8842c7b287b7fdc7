// The frame header (SOFn) of a JPEG stream, found by walking its marker segments: enough to tell
// whether a GPU decoder can take the stream and what shape its component planes have, without
// decoding it. Never reads outside `stream`; a stream it cannot walk gives std::nullopt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace slidestream::codec {

struct JpegFrame {
  uint8_t sof = 0;  // n of the SOFn marker: 0 baseline, 1 extended, 2 progressive...
  uint8_t precision = 0;
  uint16_t width = 0, height = 0;
  uint8_t components = 0;
  uint8_t h[4] = {}, v[4] = {};   // sampling factors of the first four components
  bool restart_interval = false;  // a DRI segment came before the frame

  bool baseline_huffman() const noexcept { return sof == 0 || sof == 1; }
};

// The first frame header of a JPEG stream (SOI, then segments up to SOFn).
std::optional<JpegFrame> read_jpeg_frame(std::span<const std::byte> stream) noexcept;

}  // namespace slidestream::codec
