// NDPI's JPEG headers and restart markers (hamamatsu_jpeg.hpp).
#include "vendor/hamamatsu_jpeg.hpp"

#include <algorithm>
#include <cstring>
#include <span>

#include "slidestream/error.hpp"

namespace slidestream::vendor::ndpi {
namespace {

// Tables, JFIF, comments: a real header is a few hundred bytes; a stream whose header runs on
// for more than this is not a slide's.
constexpr uint64_t kMaxHeaderBytes = uint64_t{1} << 20;
constexpr uint64_t kFirstRead = 64 * 1024;
constexpr size_t kScanChunk = size_t{1} << 20;

uint16_t be16(const std::byte* p) {
  return static_cast<uint16_t>((static_cast<unsigned>(p[0]) << 8) | static_cast<unsigned>(p[1]));
}

uint8_t u8(const std::byte b) {
  return static_cast<uint8_t>(b);
}

bool is_sof(uint8_t m) {
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

// The header's bytes, read as far as the walk needs them.
class HeaderReader {
 public:
  HeaderReader(const source::ByteStore& store, uint64_t start, uint64_t end, std::string where)
      : store_(store),
        start_(start),
        limit_(std::min(end - start, kMaxHeaderBytes)),
        where_(std::move(where)) {}

  // Ensures bytes [0, n) are there; throws naming the offset where the stream ends.
  const std::byte* need(uint64_t n) {
    if (n > limit_) {
      throw fail(ErrorKind::format,
                 limit_ == kMaxHeaderBytes
                     ? "header longer than 1 MiB"
                     : "stream ends inside its header (" + std::to_string(limit_) + " bytes)");
    }
    if (n > bytes_.size()) {
      const size_t old = bytes_.size();
      const uint64_t want = std::min(limit_, std::max<uint64_t>(n, old + kFirstRead));
      bytes_.resize(static_cast<size_t>(want));
      store_.read_exact(std::span(bytes_).subspan(old), start_ + old);
    }
    return bytes_.data();
  }
  Error fail(ErrorKind kind, const std::string& cause) const {
    return Error(kind, where_ + ": JPEG at offset " + std::to_string(start_) + ": " + cause);
  }
  std::vector<std::byte> take(size_t n) {
    bytes_.resize(n);
    return std::move(bytes_);
  }

 private:
  const source::ByteStore& store_;
  uint64_t start_, limit_;
  std::string where_;
  std::vector<std::byte> bytes_;
};

void read_frame(HeaderReader& r, const std::byte* seg, uint16_t len, uint8_t marker, JpegHeader& h,
                int* components) {
  if (marker != 0xC0 && marker != 0xC1) {
    throw r.fail(ErrorKind::unsupported,
                 "SOF" + std::to_string(marker - 0xC0) +
                     " frame: NDPI pseudo-tiles need a baseline (SOF0/SOF1) Huffman JPEG");
  }
  if (len < 6 || len < 6 + 3 * static_cast<unsigned>(u8(seg[5]))) {
    throw r.fail(ErrorKind::format, "SOF segment of " + std::to_string(len) + " bytes is short");
  }
  if (u8(seg[0]) != 8) {
    throw r.fail(ErrorKind::unsupported, std::to_string(u8(seg[0])) + "-bit samples");
  }
  h.height = be16(seg + 1);
  h.width = be16(seg + 3);
  *components = u8(seg[5]);
  if (*components != 3) {
    throw r.fail(ErrorKind::unsupported,
                 std::to_string(*components) + " colour components (NDPI images have 3)");
  }
  int max_h = 1, max_v = 1;
  for (int c = 0; c < 3; ++c) {
    const uint8_t hv = u8(seg[6 + 3 * c + 1]);
    const int hf = hv >> 4, vf = hv & 15;
    if (hf < 1 || hf > 4 || vf < 1 || vf > 4) {
      throw r.fail(ErrorKind::format, "component " + std::to_string(c) + " has sampling " +
                                          std::to_string(hf) + "x" + std::to_string(vf));
    }
    max_h = std::max(max_h, hf);
    max_v = std::max(max_v, vf);
  }
  h.mcu_width = 8 * max_h;
  h.mcu_height = 8 * max_v;
  // libjpeg's guess for 3 components without JFIF or Adobe markers: RGB only for ids 'R' 'G' 'B'.
  const bool rgb_ids = u8(seg[6]) == 'R' && u8(seg[9]) == 'G' && u8(seg[12]) == 'B';
  if (rgb_ids) h.photometric = 2;
}

}  // namespace

JpegHeader read_jpeg_header(const source::ByteStore& store, uint64_t start, uint64_t end,
                            const std::string& where) {
  if (start >= end || end > store.size()) {
    throw Error(ErrorKind::format, where + ": JPEG stream [" + std::to_string(start) + ", " +
                                       std::to_string(end) + ") is not inside the file (" +
                                       std::to_string(store.size()) + " bytes)");
  }
  HeaderReader r(store, start, end, where);
  JpegHeader h;
  bool have_sof = false, jfif = false, adobe = false, rgb_ids = false;
  int adobe_transform = 1, components = 0;
  uint64_t pos = 0;
  while (true) {
    const std::byte* b = r.need(pos + 2);
    if (u8(b[pos]) != 0xFF) {
      throw r.fail(ErrorKind::format,
                   "no marker at byte " + std::to_string(pos) + " of the header");
    }
    const uint8_t marker = u8(b[pos + 1]);
    if (marker == 0xD8) {
      pos += 2;
      continue;
    }
    b = r.need(pos + 4);
    const uint16_t len = be16(b + pos + 2);
    if (len < 2) throw r.fail(ErrorKind::format, "marker segment length " + std::to_string(len));
    b = r.need(pos + 2 + len);
    const std::byte* seg = b + pos + 4;
    const uint16_t seg_len = static_cast<uint16_t>(len - 2);
    if (is_sof(marker)) {
      h.sof_offset = static_cast<size_t>(pos);
      read_frame(r, seg, seg_len, marker, h, &components);
      rgb_ids = h.photometric == 2;
      have_sof = true;
    } else if (marker == 0xDD && seg_len >= 2) {
      h.restart_interval = be16(seg);
      h.dri_offset = static_cast<size_t>(pos);
    } else if (marker == 0xE0 && seg_len >= 5 && std::memcmp(seg, "JFIF", 5) == 0) {
      jfif = true;
    } else if (marker == 0xEE && seg_len >= 12 && std::memcmp(seg, "Adobe", 5) == 0) {
      adobe = true;
      adobe_transform = u8(seg[11]);
    } else if (marker == 0xDA) {
      if (!have_sof) throw r.fail(ErrorKind::format, "reached SOS without a frame header (SOF)");
      if (seg_len < 1 || u8(seg[0]) != components) {
        throw r.fail(ErrorKind::unsupported,
                     "scan without every component interleaved: NDPI pseudo-tiles need one "
                     "interleaved scan");
      }
      pos += 2 + len;
      break;
    }
    pos += 2 + len;
  }
  // libjpeg's default_decompress_parms: JFIF means YCbCr; Adobe's transform 0 means RGB.
  h.photometric = jfif ? 6 : adobe ? (adobe_transform == 0 ? 2 : 6) : rgb_ids ? 2 : 6;
  h.bytes = r.take(static_cast<size_t>(pos));
  return h;
}

std::vector<std::byte> tile_header(const JpegHeader& header, uint32_t width, uint32_t height,
                                   bool drop_restart_interval) {
  std::vector<std::byte> out = header.bytes;
  const size_t at = header.sof_offset + 5;  // FF Cn, length (2), precision (1)
  out[at] = std::byte(height >> 8);
  out[at + 1] = std::byte(height & 0xFF);
  out[at + 2] = std::byte(width >> 8);
  out[at + 3] = std::byte(width & 0xFF);
  if (drop_restart_interval && header.restart_interval != 0) {
    const size_t length = 2 + be16(out.data() + header.dri_offset + 2);
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(header.dri_offset),
              out.begin() + static_cast<std::ptrdiff_t>(header.dri_offset + length));
  }
  return out;
}

std::vector<uint64_t> scan_restart_markers(const source::ByteStore& store, uint64_t data_start,
                                           uint64_t end, uint64_t want) {
  std::vector<uint64_t> found;
  std::vector<std::byte> chunk(kScanChunk);
  bool after_ff = false;
  for (uint64_t at = data_start; at < end && found.size() < want;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kScanChunk, end - at));
    store.read_exact(std::span(chunk).first(n), at);
    for (size_t i = 0; i < n && found.size() < want; ++i) {
      const uint8_t byte = u8(chunk[i]);
      if (after_ff) {
        // As OpenSlide's find_next_ff_marker: the byte after 0xFF is the marker byte.
        after_ff = false;
        if (byte >= 0xD0 && byte <= 0xD7) found.push_back(at + i + 1);
      } else if (byte == 0xFF) {
        after_ff = true;
      }
    }
    at += n;
  }
  return found;
}

}  // namespace slidestream::vendor::ndpi
