// The JPEG side of Hamamatsu NDPI (hamamatsu.cpp reads the TIFF side): each NDPI image is one
// JPEG stream. Its header (SOI up to the end of the SOS segment) is read once at open, as
// OpenSlide's load_jpeg_header walks it, and kept: a pseudo-tile is that header with the frame
// size (SOF) patched to the tile's size and no DRI, one restart interval of the stream's
// entropy-coded data, and EOI (NdpiLevelSource). Nothing here trusts the file: every length is
// checked against the stream's byte range before it is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "source/byte_store.hpp"

namespace slidestream::vendor::ndpi {

struct JpegHeader {
  std::vector<std::byte> bytes;    // SOI .. end of the SOS segment: where entropy data starts
  size_t sof_offset = 0;           // of the SOFn marker's 0xFF in `bytes`
  uint16_t width = 0, height = 0;  // as the SOF says (0 where a side exceeds 65,535)
  uint16_t restart_interval = 0;   // MCUs per restart interval (DRI), 0 without one
  size_t dri_offset = 0;           // of the DRI segment's 0xFF in `bytes`, where there is one
  int mcu_width = 8, mcu_height = 8;
  uint16_t photometric = 6;  // libjpeg's colour-space guess: 6 YCbCr, 2 RGB
};

// Reads and checks the header of the JPEG stream at [start, end) of `store`. Throws
// Error(format / unsupported) with `where` (e.g. "directory 3") and the offset.
JpegHeader read_jpeg_header(const source::ByteStore& store, uint64_t start, uint64_t end,
                            const std::string& where);

// `header` with its frame size set to width x height (each at most 65,535) and, with
// `drop_restart_interval`, without its DRI segment: a pseudo-tile is one whole restart interval,
// which decodes exactly as a stream without restarts does (DC prediction starts from 0, the data
// ends byte-aligned), so the tile is a plain baseline JPEG that every decoder takes.
std::vector<std::byte> tile_header(const JpegHeader& header, uint32_t width, uint32_t height,
                                   bool drop_restart_interval);

// Offsets (in the store) of the first byte after each restart marker of the entropy-coded data
// in [data_start, end), at most `want` of them: for images whose recorded offsets are missing,
// as OpenSlide's restart-marker scan finds them. Reads in bounded chunks.
std::vector<uint64_t> scan_restart_markers(const source::ByteStore& store, uint64_t data_start,
                                           uint64_t end, uint64_t want);

}  // namespace slidestream::vendor::ndpi
