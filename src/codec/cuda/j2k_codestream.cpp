#include "codec/cuda/j2k_codestream.hpp"

#include <cstring>

namespace slidestream::codec::j2k {
namespace {

constexpr uint16_t kSOC = 0xFF4F, kSIZ = 0xFF51, kCOD = 0xFF52, kCOC = 0xFF53, kSOT = 0xFF90,
                   kSOD = 0xFF93, kEOC = 0xFFD9;

class Reader {
 public:
  explicit Reader(std::span<const std::byte> b) : b_(b) {}
  bool has(size_t at, size_t n) const { return at <= b_.size() && n <= b_.size() - at; }
  uint8_t u8(size_t at) const { return static_cast<uint8_t>(b_[at]); }
  uint16_t u16(size_t at) const { return static_cast<uint16_t>(u8(at) << 8 | u8(at + 1)); }
  uint32_t u32(size_t at) const { return uint32_t{u16(at)} << 16 | u16(at + 2); }
  uint64_t u64(size_t at) const { return uint64_t{u32(at)} << 32 | u32(at + 4); }
  size_t size() const { return b_.size(); }

 private:
  std::span<const std::byte> b_;
};

bool fail(std::string* why, const std::string& text) {
  if (why) *why = text;
  return false;
}

// One box of a JP2 file at `at`: its content [*begin, *end) and type.
bool read_box(const Reader& r, size_t at, size_t limit, uint32_t* type, size_t* begin,
              size_t* end) {
  if (!r.has(at, 8) || at + 8 > limit) return false;
  uint64_t length = r.u32(at);
  *type = r.u32(at + 4);
  size_t header = 8;
  if (length == 1) {
    if (!r.has(at, 16) || at + 16 > limit) return false;
    length = r.u64(at + 8);
    header = 16;
  } else if (length == 0) {
    length = limit - at;  // to the end of the enclosing box or file
  }
  if (length < header || length > limit - at) return false;
  *begin = at + header;
  *end = at + static_cast<size_t>(length);
  return true;
}

constexpr uint32_t box(const char (&name)[5]) {
  return uint32_t(uint8_t(name[0])) << 24 | uint32_t(uint8_t(name[1])) << 16 |
         uint32_t(uint8_t(name[2])) << 8 | uint32_t(uint8_t(name[3]));
}

// The codestream inside a JP2 file; notes the header boxes that change samples.
bool find_codestream(const Reader& r, CodestreamFacts* f, size_t* begin, size_t* end,
                     std::string* why) {
  size_t at = 12;  // after the signature box
  while (at < r.size()) {
    uint32_t type = 0;
    size_t b = 0, e = 0;
    if (!read_box(r, at, r.size(), &type, &b, &e)) return fail(why, "JP2 box runs past the data");
    if (type == box("jp2h")) {
      for (size_t inner = b; inner < e;) {
        uint32_t t = 0;
        size_t ib = 0, ie = 0;
        if (!read_box(r, inner, e, &t, &ib, &ie)) return fail(why, "JP2 header box is damaged");
        if (t == box("pclr") || t == box("cmap") || t == box("cdef")) {
          f->jp2_palette_or_channel_map = true;
        }
        inner = ie;
      }
    } else if (type == box("jp2c")) {
      *begin = b;
      *end = e;
      return true;
    }
    at = e;
  }
  return fail(why, "JP2 file without a codestream box");
}

// A coding-style segment's wavelet: the last byte of SPcod / SPcoc (1 = reversible 5/3).
bool transform_of(const Reader& r, size_t segment, size_t length, size_t spc, bool* reversible) {
  const size_t at = segment + spc + 4;  // levels, xcb, ycb, style, then transform
  if (at >= segment + length || !r.has(at, 1)) return false;
  *reversible = *reversible && r.u8(at) == 1;
  return true;
}

// Marker segments from `at` up to `stop` (SOT in the main header, SOD in a tile-part header).
// Returns the position of `stop`, or 0 when the segments are damaged.
size_t scan_segments(const Reader& r, size_t at, size_t limit, uint16_t stop, CodestreamFacts* f,
                     bool* saw_cod) {
  while (r.has(at, 2) && at + 2 <= limit) {
    const uint16_t marker = r.u16(at);
    if (marker == stop) return at;
    if ((marker >> 8) != 0xFF || marker == kSOC || marker == kSOD || marker == kEOC) return 0;
    if (!r.has(at + 2, 2)) return 0;
    const size_t length = r.u16(at + 2);  // includes itself, not the marker
    const size_t segment = at + 2;
    if (length < 2 || !r.has(segment, length) || segment + length > limit) return 0;
    if (marker == kCOD) {
      // Lcod(2) Scod(1) progression(1) layers(2) MCT(1), then SPcod.
      if (!transform_of(r, segment, length, 7, &f->reversible)) return 0;
      *saw_cod = true;
    } else if (marker == kCOC) {
      // Lcoc(2) Ccoc(1 or 2) Scoc(1), then SPcoc.
      const size_t component_bytes = f->components < 257 ? 1 : 2;
      if (!transform_of(r, segment, length, 2 + component_bytes + 1, &f->reversible)) return 0;
    }
    at = segment + length;
  }
  return 0;
}

}  // namespace

bool inspect(std::span<const std::byte> bytes, CodestreamFacts* f, std::string* why) {
  static constexpr uint8_t kJp2Signature[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 13, 10, 0x87, 10};
  *f = CodestreamFacts{};
  Reader r(bytes);
  size_t begin = 0, end = bytes.size();
  if (bytes.size() >= 12 && std::memcmp(bytes.data(), kJp2Signature, 12) == 0) {
    f->jp2 = true;
    if (!find_codestream(r, f, &begin, &end, why)) return false;
  }
  if (!r.has(begin, 4) || r.u16(begin) != kSOC || r.u16(begin + 2) != kSIZ) {
    return fail(why, "no SOC and SIZ markers at the start of the codestream");
  }
  // SIZ: Lsiz(2) Rsiz(2) Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz (4 each) Csiz(2), then
  // Ssiz XRsiz YRsiz per component.
  const size_t siz = begin + 4;
  if (!r.has(siz, 38)) return fail(why, "SIZ segment runs past the data");
  const size_t siz_length = r.u16(siz);
  const uint32_t xsiz = r.u32(siz + 4), ysiz = r.u32(siz + 8);
  f->x0 = r.u32(siz + 12);
  f->y0 = r.u32(siz + 16);
  const uint16_t csiz = r.u16(siz + 36);
  if (xsiz <= f->x0 || ysiz <= f->y0 || csiz == 0 || siz_length != 38 + 3u * csiz ||
      !r.has(siz, siz_length) || siz + siz_length > end) {
    return fail(why, "SIZ segment is inconsistent");
  }
  f->width = xsiz - f->x0;
  f->height = ysiz - f->y0;
  f->components = csiz;
  for (int c = 0; c < csiz && c < 4; ++c) {
    const uint8_t ssiz = r.u8(siz + 38 + 3 * c);
    f->precision[c] = static_cast<uint8_t>((ssiz & 0x7F) + 1);
    f->is_signed[c] = (ssiz & 0x80) != 0;
    f->dx[c] = r.u8(siz + 39 + 3 * c);
    f->dy[c] = r.u8(siz + 40 + 3 * c);
    if (f->dx[c] == 0 || f->dy[c] == 0) return fail(why, "SIZ gives a zero subsampling");
  }

  f->reversible = true;
  bool saw_cod = false;
  size_t sot = scan_segments(r, siz + siz_length, end, kSOT, f, &saw_cod);
  if (sot == 0) return fail(why, "main header damaged or without a tile-part");
  if (!saw_cod) return fail(why, "main header without a COD segment");
  // Tile-part headers may override COD / COC: walk every tile-part by its Psot.
  while (sot != 0 && r.has(sot, 12) && r.u16(sot) == kSOT) {
    const uint32_t psot = r.u32(sot + 6);
    size_t sod = scan_segments(r, sot + 12, end, kSOD, f, &saw_cod);
    if (sod == 0) return fail(why, "tile-part header damaged");
    if (psot == 0) break;  // the last tile-part runs to EOC
    if (psot < 14 || psot > end - sot) return fail(why, "tile-part length runs past the data");
    sot += psot;
    if (!r.has(sot, 2) || r.u16(sot) == kEOC) break;
  }
  return true;
}

}  // namespace slidestream::codec::j2k
