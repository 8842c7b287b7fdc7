// What the GPU read path must know about a JPEG 2000 tile before handing it to nvJPEG2000, read
// from the markers themselves (ITU-T T.800 annex A; the JP2 boxes of annex I): the image's
// origin and size (OpenJPEG and nvJPEG2000 report these differently), each component's
// precision, sign and subsampling, and whether every wavelet is the reversible 5/3 one (then
// any conforming decoder gives the same samples: nvJPEG2000 equals OpenJPEG bit for bit).
// Pure host code; never throws; bounds-checked against the bytes given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace slidestream::codec::j2k {

struct CodestreamFacts {
  bool jp2 = false;  // a JP2 file around the codestream
  // JP2 boxes OpenJPEG applies itself (palette, channel definitions): a decoder that does not
  // would give other samples.
  bool jp2_palette_or_channel_map = false;
  uint32_t width = 0, height = 0;  // Xsiz - XOsiz, Ysiz - YOsiz
  uint32_t x0 = 0, y0 = 0;         // XOsiz, YOsiz
  int components = 0;
  uint8_t precision[4] = {};  // bits (Ssiz & 0x7f) + 1, components 0..3
  bool is_signed[4] = {};
  uint8_t dx[4] = {}, dy[4] = {};  // XRsiz, YRsiz
  bool reversible = false;         // every COD / COC (main and tile-part headers) says 5/3
};

// Reads the facts of a J2K codestream or JP2 file. False (and *why) when the markers are not
// where the standard puts them, or a header runs past the bytes.
bool inspect(std::span<const std::byte> bytes, CodestreamFacts* facts, std::string* why);

}  // namespace slidestream::codec::j2k
