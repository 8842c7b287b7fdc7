// Hamamatsu NDPI's TIFF dialect, as OpenSlide's tifflike parser (openslide-decode-tifflike.c)
// reads it. NDPI is classic TIFF (version 42, 12-byte entries) stretched to 64 bits: the header's
// first-IFD offset and every next-IFD pointer are 8 bytes, and after each IFD's next pointer sit
// n four-byte extensions, the high 32 bits of each entry's value or offset. An out-of-line value
// lives at low | high << 32; an inline LONG (SLONG) with a nonzero extension is a LONG8 (SLONG8);
// ASCII values are never inline. A file is NDPI when its 64-bit first-IFD offset leads to an IFD
// that parses this way and holds tag 65420; otherwise it is read as classic TIFF.
#include <cstring>
#include <span>

#include "slidestream/error.hpp"
#include "tiff/tiff_parser.hpp"

namespace slidestream::tiff {

bool TiffFile::detect_ndpi(uint64_t first_ifd) {
  if (first_ifd == 0 || first_ifd >= file_size_) return false;
  ndpi_ = true;
  bool found = false;
  try {
    uint64_t next = 0;
    Ifd trial = read_ifd(first_ifd, 0, &next);
    const Entry* flag = trial.find(tag::ndpi_format_flag);
    found = flag != nullptr && flag->count != 0;
  } catch (const Error&) {
    found = false;
  }
  // The chain is read again from the start, in the mode found.
  ndpi_ = found;
  visited_.clear();
  strings_.clear();
  value_bytes_read_ = 0;
  return found;
}

void TiffFile::read_ndpi_entries(uint64_t offset, uint64_t n, std::vector<std::byte>& table,
                                 Ifd& ifd, uint64_t* next_offset) {
  constexpr uint64_t kCount = 2, kEntry = 12, kNext = 8, kExtension = 4;
  const uint64_t entries_end = kCount + n * kEntry;
  // n is below the file size / 12 (read_ifd checked it), so this cannot wrap.
  const uint64_t wanted = entries_end + kNext + n * kExtension;
  if (wanted > file_size_ - offset) {
    throw Error(ErrorKind::format, "NDPI IFD at offset " + std::to_string(offset) + " with " +
                                       std::to_string(n) +
                                       " entries runs past the end of the file (its next-IFD "
                                       "pointer and value extensions are missing)");
  }
  if (wanted > table.size()) {
    const size_t old = table.size();
    table.resize(static_cast<size_t>(wanted));
    file_->read_exact(std::span(table).subspan(old), offset + old);
  }
  const std::byte* extensions = table.data() + entries_end + kNext;
  ifd.entries.reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    const std::byte* p = table.data() + kCount + i * kEntry;
    Entry e;
    e.tag = static_cast<uint16_t>(load(p, 2));
    e.type = static_cast<uint16_t>(load(p + 2, 2));
    e.count = load(p + 4, 4);
    const size_t ts = type_size(e.type);
    if (ts == 0) continue;  // unknown type: ignored, as libtiff does
    const uint64_t low = load(p + 8, 4);
    const uint64_t high = load(extensions + i * kExtension, 4);
    const uint64_t value = low | (high << 32);
    if (e.count <= 4 / ts && e.type != 2) {
      e.is_inline = true;
      if (high != 0) {
        if (e.type != 4 && e.type != 9) {
          throw Error(ErrorKind::format,
                      tag_name(e.tag) + " of the NDPI IFD at offset " + std::to_string(offset) +
                          " has a value extension for field type " + std::to_string(e.type));
        }
        e.type = e.type == 4 ? 16 : 17;  // LONG8 / SLONG8
      }
      // In file byte order, as value_bytes hands inline values out.
      std::memcpy(e.inline_value.data(), p + 8, 4);
      std::memcpy(e.inline_value.data() + 4, extensions + i * kExtension, 4);
      if (big_endian_ && high != 0) {
        // A big-endian LONG8 is high word first.
        std::memcpy(e.inline_value.data(), extensions + i * kExtension, 4);
        std::memcpy(e.inline_value.data() + 4, p + 8, 4);
      }
    } else {
      e.value_offset = value;
    }
    ifd.entries.push_back(e);
  }
  *next_offset = load(table.data() + entries_end, kNext);
}

}  // namespace slidestream::tiff
