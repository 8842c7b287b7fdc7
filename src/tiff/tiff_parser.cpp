#include "tiff/tiff_parser.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <span>

#include "slidestream/error.hpp"

namespace slidestream::tiff {
namespace {

// No slide has more than a few hundred IFDs; a file with more is hostile or not a slide, and
// each IFD costs memory, so stop early.
constexpr size_t kMaxIfds = 65536;
// SubIFDs of SubIFDs of SubIFDs... real files nest one level; allow a little more.
constexpr int kMaxSubIfdDepth = 3;
// Bytes read at an IFD offset in the first pread: enough for the entry table of every IFD a
// slide writer produces, so one pread per IFD is the rule.
constexpr size_t kIfdReadAhead = 4096;

std::string hex_offset(uint64_t offset) {
  return std::to_string(offset);
}

Error format_error(const std::string& cause, uint64_t /*offset*/) {
  return Error(ErrorKind::format, cause);
}

bool is_integer_type(uint16_t type) {
  switch (type) {
    case 1:
    case 3:
    case 4:
    case 6:
    case 8:
    case 9:
    case 13:
    case 16:
    case 17:
    case 18:
      return true;
    default:
      return false;
  }
}

}  // namespace

size_t type_size(uint16_t type) noexcept {
  switch (type) {
    case 1:
    case 2:
    case 6:
    case 7:
      return 1;  // BYTE ASCII SBYTE UNDEFINED
    case 3:
    case 8:
      return 2;  // SHORT SSHORT
    case 4:
    case 9:
    case 11:
    case 13:
      return 4;  // LONG SLONG FLOAT IFD
    case 5:
    case 10:
    case 12:
    case 16:
    case 17:
    case 18:
      return 8;  // RATIONAL.. LONG8 IFD8
    default:
      return 0;
  }
}

std::string tag_name(uint16_t tag) {
  switch (tag) {
    case tag::new_subfile_type:
      return "NewSubfileType";
    case tag::image_width:
      return "ImageWidth";
    case tag::image_length:
      return "ImageLength";
    case tag::bits_per_sample:
      return "BitsPerSample";
    case tag::compression:
      return "Compression";
    case tag::photometric:
      return "PhotometricInterpretation";
    case tag::image_description:
      return "ImageDescription";
    case tag::strip_offsets:
      return "StripOffsets";
    case tag::samples_per_pixel:
      return "SamplesPerPixel";
    case tag::rows_per_strip:
      return "RowsPerStrip";
    case tag::strip_byte_counts:
      return "StripByteCounts";
    case tag::planar_configuration:
      return "PlanarConfiguration";
    case tag::predictor:
      return "Predictor";
    case tag::tile_width:
      return "TileWidth";
    case tag::tile_length:
      return "TileLength";
    case tag::tile_offsets:
      return "TileOffsets";
    case tag::tile_byte_counts:
      return "TileByteCounts";
    case tag::sub_ifds:
      return "SubIFDs";
    case tag::sample_format:
      return "SampleFormat";
    case tag::jpeg_tables:
      return "JPEGTables";
    case tag::ycbcr_subsampling:
      return "YCbCrSubSampling";
    default:
      return "tag " + std::to_string(tag);
  }
}

const Entry* Ifd::find(uint16_t t) const noexcept {
  auto it = std::lower_bound(entries.begin(), entries.end(), t,
                             [](const Entry& e, uint16_t v) { return e.tag < v; });
  return (it != entries.end() && it->tag == t) ? &*it : nullptr;
}

uint64_t TiffFile::load(const std::byte* p, size_t size) const noexcept {
  uint64_t v = 0;
  if (big_endian_) {
    for (size_t i = 0; i < size; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  } else {
    for (size_t i = size; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(p[i]);
  }
  return v;
}

TiffFile::TiffFile(const io::File& file, uint64_t file_size) : file_(&file), file_size_(file_size) {
  std::array<std::byte, 16> header{};
  size_t got = file.read_some(header, 0);
  auto u8 = [&](int i) { return static_cast<uint8_t>(header[i]); };
  if (got < 8) {
    throw Error(ErrorKind::format, "not a TIFF file: only " + std::to_string(file_size) +
                                       " bytes, shorter than a TIFF header");
  }
  if (u8(0) == 'I' && u8(1) == 'I') {
    big_endian_ = false;
  } else if (u8(0) == 'M' && u8(1) == 'M') {
    big_endian_ = true;
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02x %02x %02x %02x", u8(0), u8(1), u8(2), u8(3));
    throw Error(ErrorKind::format, std::string("not a TIFF file (first bytes ") + buf + ")");
  }
  uint64_t magic = load(header.data() + 2, 2);
  uint64_t first_ifd = 0;
  if (magic == 42) {
    first_ifd = load(header.data() + 4, 4);
    // NDPI's header holds a 64-bit offset where classic TIFF has 32 bits.
    if (got >= 12 && detect_ndpi(load(header.data() + 4, 8)))
      first_ifd = load(header.data() + 4, 8);
  } else if (magic == 43) {
    bigtiff_ = true;
    if (got < 16) throw Error(ErrorKind::format, "BigTIFF header is truncated");
    uint64_t offset_size = load(header.data() + 4, 2);
    if (offset_size != 8 || load(header.data() + 6, 2) != 0) {
      throw Error(ErrorKind::format,
                  "BigTIFF header has offset size " + std::to_string(offset_size) + ", not 8");
    }
    first_ifd = load(header.data() + 8, 8);
  } else {
    throw Error(ErrorKind::format,
                "not a TIFF file: version " + std::to_string(magic) + " is neither 42 nor 43");
  }
  if (first_ifd == 0) throw Error(ErrorKind::format, "TIFF has no IFD (first IFD offset is 0)");
  read_chain(first_ifd, 0, ifds_);
}

void TiffFile::read_chain(uint64_t first, int depth, std::vector<Ifd>& out) {
  uint64_t offset = first;
  while (offset != 0) {
    uint64_t next = 0;
    out.push_back(read_ifd(offset, depth, &next));
    offset = next;
  }
}

Ifd TiffFile::read_ifd(uint64_t offset, int depth, uint64_t* next_offset) {
  if (visited_.count(offset) != 0) {
    throw format_error(
        "IFD loop: the IFD at offset " + hex_offset(offset) + " is referenced a second time",
        offset);
  }
  if (visited_.size() >= kMaxIfds) {
    throw Error(ErrorKind::limit, "more than " + std::to_string(kMaxIfds) + " IFDs");
  }
  visited_.insert(offset);

  const size_t count_size = bigtiff_ ? 8 : 2;
  const size_t entry_size = bigtiff_ ? 20 : 12;
  if (offset >= file_size_ || file_size_ - offset < count_size) {
    throw format_error("IFD offset " + hex_offset(offset) + " is past the end of the file (" +
                           std::to_string(file_size_) + " bytes)",
                       offset);
  }
  std::vector<std::byte> table(
      static_cast<size_t>(std::min<uint64_t>(kIfdReadAhead, file_size_ - offset)));
  file_->read_exact(table, offset);
  const uint64_t n = load(table.data(), count_size);
  if (n == 0) throw format_error("IFD at offset " + hex_offset(offset) + " has no entries", offset);
  // The table must fit in the file: this caps n by the file size before anything is allocated.
  const uint64_t available = file_size_ - offset - count_size;
  if (n > available / entry_size) {
    throw format_error("IFD at offset " + hex_offset(offset) + " claims " + std::to_string(n) +
                           " entries, more than the file holds",
                       offset);
  }
  Ifd ifd;
  ifd.offset = offset;
  if (ndpi_) {
    read_ndpi_entries(offset, n, table, ifd, next_offset);
  } else {
    read_entries(offset, n, table, ifd, next_offset);
  }
  // Tags should be sorted; some writers do not sort them. Keep the first of duplicates.
  std::stable_sort(ifd.entries.begin(), ifd.entries.end(),
                   [](const Entry& a, const Entry& b) { return a.tag < b.tag; });
  ifd.entries.erase(std::unique(ifd.entries.begin(), ifd.entries.end(),
                                [](const Entry& a, const Entry& b) { return a.tag == b.tag; }),
                    ifd.entries.end());

  if (const Entry* sub = ifd.find(tag::sub_ifds); sub != nullptr && is_integer_type(sub->type)) {
    if (depth >= kMaxSubIfdDepth) {
      throw format_error("SubIFDs nested more than " + std::to_string(kMaxSubIfdDepth) +
                             " deep at IFD offset " + hex_offset(offset),
                         offset);
    }
    std::vector<uint64_t> offsets = get_uints(ifd, tag::sub_ifds, kMaxIfds);
    for (uint64_t sub_offset : offsets) {
      if (sub_offset == 0) continue;
      uint64_t sub_next = 0;
      ifd.sub_ifds.push_back(read_ifd(sub_offset, depth + 1, &sub_next));
      // A single SubIFD entry may head a chain (as DNG writers do); a listed set is not chained
      // by us, since libtiff links listed SubIFDs to each other too.
      if (offsets.size() == 1) {
        while (sub_next != 0) {
          uint64_t after = 0;
          ifd.sub_ifds.push_back(read_ifd(sub_next, depth + 1, &after));
          sub_next = after;
        }
      }
    }
  }
  return ifd;
}

void TiffFile::read_entries(uint64_t offset, uint64_t n, std::vector<std::byte>& table, Ifd& ifd,
                            uint64_t* next_offset) {
  const size_t count_size = bigtiff_ ? 8 : 2;
  const size_t entry_size = bigtiff_ ? 20 : 12;
  const size_t next_size = bigtiff_ ? 8 : 4;
  const uint64_t table_bytes = count_size + n * entry_size;
  const bool has_next = file_size_ - offset >= table_bytes + next_size;
  const uint64_t wanted = table_bytes + (has_next ? next_size : 0);
  if (wanted > table.size()) {
    size_t old = table.size();
    table.resize(static_cast<size_t>(wanted));
    file_->read_exact(std::span(table).subspan(old), offset + old);
  }
  ifd.entries.reserve(static_cast<size_t>(n));
  const size_t inline_size = bigtiff_ ? 8 : 4;
  for (uint64_t i = 0; i < n; ++i) {
    const std::byte* p = table.data() + count_size + i * entry_size;
    Entry e;
    e.tag = static_cast<uint16_t>(load(p, 2));
    e.type = static_cast<uint16_t>(load(p + 2, 2));
    e.count = load(p + 4, bigtiff_ ? 8 : 4);
    const std::byte* value = p + (bigtiff_ ? 12 : 8);
    size_t ts = type_size(e.type);
    if (ts == 0) continue;  // unknown type: ignored, as libtiff does
    if (e.count <= inline_size / ts) {
      e.is_inline = true;
      std::memcpy(e.inline_value.data(), value, inline_size);
    } else {
      e.value_offset = load(value, inline_size);
    }
    ifd.entries.push_back(e);
  }
  *next_offset = has_next ? load(table.data() + table_bytes, next_size) : 0;
}

std::vector<std::byte> TiffFile::value_bytes(const Ifd& ifd, const Entry& e) const {
  const size_t ts = type_size(e.type);
  if (e.is_inline) {
    return std::vector<std::byte>(e.inline_value.begin(),
                                  e.inline_value.begin() + static_cast<size_t>(e.count) * ts);
  }
  // Divide, never multiply: a count of 2^60 must not wrap around.
  if (e.count > file_size_ / ts || e.value_offset > file_size_ ||
      e.count * ts > file_size_ - e.value_offset) {
    throw Error(ErrorKind::format,
                tag_name(e.tag) + " of the IFD at offset " + hex_offset(ifd.offset) + " claims " +
                    std::to_string(e.count) + " values at offset " +
                    std::to_string(e.value_offset) + ", past the end of the file (" +
                    std::to_string(file_size_) + " bytes)");
  }
  const uint64_t budget = 4 * file_size_ + (uint64_t{64} << 20);
  value_bytes_read_ += e.count * ts;
  if (value_bytes_read_ > budget) {
    throw Error(ErrorKind::limit, "tag values of the IFDs add up to more than " +
                                      std::to_string(budget) + " bytes (" + tag_name(e.tag) +
                                      " of the IFD at offset " + hex_offset(ifd.offset) + ")");
  }
  std::vector<std::byte> bytes(static_cast<size_t>(e.count * ts));
  file_->read_exact(bytes, e.value_offset);
  return bytes;
}

std::optional<uint64_t> TiffFile::get_uint(const Ifd& ifd, uint16_t t) const {
  const Entry* e = ifd.find(t);
  if (e == nullptr || e->count == 0) return std::nullopt;
  // Only the first value is wanted: read just that one, whatever count the entry claims.
  Ifd single;
  single.offset = ifd.offset;
  single.entries.push_back(*e);
  single.entries.front().count = 1;
  return get_uints(single, t, 1).front();
}

std::vector<uint64_t> TiffFile::get_uints(const Ifd& ifd, uint16_t t, uint64_t max_count) const {
  const Entry* e = ifd.find(t);
  if (e == nullptr) return {};
  if (!is_integer_type(e->type)) {
    throw Error(ErrorKind::format, tag_name(t) + " of the IFD at offset " + hex_offset(ifd.offset) +
                                       " has non-integer type " + std::to_string(e->type));
  }
  if (e->count > max_count) {
    throw Error(ErrorKind::limit, tag_name(t) + " of the IFD at offset " + hex_offset(ifd.offset) +
                                      " has " + std::to_string(e->count) +
                                      " values, more than the " + std::to_string(max_count) +
                                      " it can have");
  }
  std::vector<std::byte> bytes = value_bytes(ifd, *e);
  const size_t ts = type_size(e->type);
  const bool is_signed = e->type == 6 || e->type == 8 || e->type == 9 || e->type == 17;
  std::vector<uint64_t> values(static_cast<size_t>(e->count));
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t v = load(bytes.data() + i * ts, ts);
    if (is_signed) {
      // A negative size or offset is as wrong as a huge one: map it to a huge one so the
      // range checks downstream reject it.
      const uint64_t sign = uint64_t{1} << (8 * ts - 1);
      if (v & sign) v = UINT64_MAX;
    }
    values[i] = v;
  }
  return values;
}

std::optional<std::string> TiffFile::get_string(const Ifd& ifd, uint16_t t) const {
  const Entry* e = ifd.find(t);
  if (e == nullptr) return std::nullopt;
  if (e->type != 2 && e->type != 1 && e->type != 7) {
    throw Error(ErrorKind::format, tag_name(t) + " of the IFD at offset " + hex_offset(ifd.offset) +
                                       " is not text (type " + std::to_string(e->type) + ")");
  }
  auto key = std::make_pair(ifd.offset, t);
  if (auto it = strings_.find(key); it != strings_.end()) return it->second;
  std::vector<std::byte> bytes = value_bytes(ifd, *e);
  std::string s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
  strings_.emplace(key, s);
  return s;
}

std::optional<double> TiffFile::get_real(const Ifd& ifd, uint16_t t) const {
  const Entry* e = ifd.find(t);
  if (e == nullptr || e->count == 0) return std::nullopt;
  Entry first = *e;
  first.count = 1;
  std::vector<std::byte> bytes = value_bytes(ifd, first);
  const std::byte* p = bytes.data();
  switch (e->type) {
    case 5: {  // RATIONAL
      uint64_t num = load(p, 4), den = load(p + 4, 4);
      return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
    }
    case 10: {  // SRATIONAL
      auto num = static_cast<int32_t>(load(p, 4));
      auto den = static_cast<int32_t>(load(p + 4, 4));
      return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
    }
    case 11: {
      auto bits = static_cast<uint32_t>(load(p, 4));
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case 12: {
      uint64_t bits = load(p, 8);
      double d;
      std::memcpy(&d, &bits, 8);
      return d;
    }
    default:
      if (is_integer_type(e->type)) return static_cast<double>(*get_uint(ifd, t));
      throw Error(ErrorKind::format, tag_name(t) + " of the IFD at offset " +
                                         hex_offset(ifd.offset) + " is not a number (type " +
                                         std::to_string(e->type) + ")");
  }
}

std::vector<std::byte> TiffFile::get_bytes(const Ifd& ifd, uint16_t t) const {
  const Entry* e = ifd.find(t);
  if (e == nullptr) return {};
  if (type_size(e->type) != 1) {
    throw Error(ErrorKind::format, tag_name(t) + " of the IFD at offset " + hex_offset(ifd.offset) +
                                       " is not a byte string (type " + std::to_string(e->type) +
                                       ")");
  }
  return value_bytes(ifd, *e);
}

}  // namespace slidestream::tiff
