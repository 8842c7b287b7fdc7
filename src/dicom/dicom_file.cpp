// The DICOM reader (dicom_file.hpp): a buffered cursor over the byte store, an explicit VR
// little endian element parser with bounded nesting and element counts, and the frame locator.
#include "dicom/dicom_file.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string_view>

#include "slidestream/error.hpp"

namespace slidestream::dicom {
namespace {

constexpr uint32_t kItem = tag_of(0xFFFE, 0xE000);
constexpr uint32_t kItemEnd = tag_of(0xFFFE, 0xE00D);
constexpr uint32_t kSequenceEnd = tag_of(0xFFFE, 0xE0DD);
constexpr uint32_t kUndefined = 0xFFFFFFFFu;

std::string hex_tag(uint32_t tag) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "(%04X,%04X)", tag >> 16, tag & 0xFFFF);
  return buf;
}

Error format_error(const std::string& cause, uint64_t offset) {
  return Error(ErrorKind::format, "DICOM: " + cause,
               ErrorContext{{}, -1, -1, static_cast<int64_t>(offset)});
}

// Sequential reads through the store, `chunk` bytes at a time (64 KiB for a data set; 4 KiB
// for the fragment walk, which reads 8 bytes per fragment and skips the rest); skips seek.
class Cursor {
 public:
  Cursor(const source::ByteStore& store, uint64_t at, size_t chunk = 64 * 1024)
      : store_(store), pos_(at), chunk_(chunk) {}

  uint64_t pos() const noexcept { return pos_; }
  uint64_t size() const noexcept { return store_.size(); }
  uint64_t left() const noexcept { return pos_ < size() ? size() - pos_ : 0; }

  void read(void* into, size_t n, const char* what) {
    if (n > left()) {
      throw format_error(std::string(what) + " runs past the end of the file (" +
                             std::to_string(size()) + " bytes)",
                         pos_);
    }
    auto* out = static_cast<std::byte*>(into);
    while (n > 0) {
      if (pos_ < buf_start_ || pos_ >= buf_start_ + buf_.size()) fill();
      const size_t at = static_cast<size_t>(pos_ - buf_start_);
      const size_t take = std::min(n, buf_.size() - at);
      std::memcpy(out, buf_.data() + at, take);
      out += take;
      n -= take;
      pos_ += take;
    }
  }
  void skip(uint64_t n, const char* what) {
    if (n > left()) {
      throw format_error(std::string(what) + " of " + std::to_string(n) +
                             " bytes runs past the end of the file (" + std::to_string(size()) +
                             " bytes)",
                         pos_);
    }
    pos_ += n;
  }
  void seek(uint64_t at) { pos_ = at; }
  uint16_t u16(const char* what) {
    uint8_t b[2];
    read(b, 2, what);
    return static_cast<uint16_t>(b[0] | b[1] << 8);
  }
  uint32_t u32(const char* what) {
    uint8_t b[4];
    read(b, 4, what);
    return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  }
  uint32_t tag(const char* what) {
    const uint32_t group = u16(what);
    return group << 16 | u16(what);
  }

 private:
  void fill() {
    buf_.resize(std::min<uint64_t>(chunk_, left()));
    buf_start_ = pos_;
    const size_t got = store_.read_some(std::span(buf_), pos_);
    buf_.resize(got);
    if (got == 0) throw format_error("the file ends early", pos_);
  }

  const source::ByteStore& store_;
  uint64_t pos_;
  size_t chunk_;
  std::vector<std::byte> buf_;
  uint64_t buf_start_ = 0;
};

// VRs whose length is 4 bytes after 2 reserved bytes (PS3.5 7.1.2).
bool long_length(const char* vr) {
  static constexpr std::array<const char*, 13> kLong = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                                        "UC", "UR", "UT", "UN", "SV", "UV"};
  return std::any_of(kLong.begin(), kLong.end(),
                     [&](const char* v) { return vr[0] == v[0] && vr[1] == v[1]; });
}

bool known_vr(const char* vr) {
  static constexpr std::array<const char*, 34> kKnown = {
      "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT",
      "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
      "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
  return std::any_of(kKnown.begin(), kKnown.end(),
                     [&](const char* v) { return vr[0] == v[0] && vr[1] == v[1]; });
}

class Parser {
 public:
  explicit Parser(Cursor& cursor) : in_(cursor) {}

  // Elements until `end` (an offset; kUndefined: until an item delimiter, or for the top level
  // until PixelData or the end of the file). Returns at PixelData (the cursor on its tag).
  void data_set(DataSet& out, uint64_t end, int depth, bool top, bool meta) {
    while (true) {
      if (end != kUndefined && in_.pos() >= end) {
        if (in_.pos() > end) throw format_error("an element runs past its item's end", in_.pos());
        return;
      }
      if (top && in_.left() == 0) return;
      const uint64_t at = in_.pos();
      const uint32_t t = in_.tag("an element's tag");
      if (meta && (t >> 16) != 0x0002) {
        in_.seek(at);
        return;
      }
      if (t == kItemEnd) {
        if (top || end != kUndefined) {
          throw format_error("an item delimiter outside an item", at);
        }
        in_.u32("an item delimiter's length");
        return;
      }
      if (top &&
          (t == tag::pixel_data || t == tag::float_pixel_data || t == tag::double_pixel_data)) {
        in_.seek(at);
        return;
      }
      if (t == kItem || t == kSequenceEnd) {
        throw format_error("an item tag " + hex_tag(t) + " where an element was expected", at);
      }
      if (++count_ > kMaxElements) {
        throw Error(ErrorKind::limit, "DICOM: the data set holds more than " +
                                          std::to_string(kMaxElements) + " elements");
      }
      out.elements.emplace_back();
      element(out.elements.back(), t, at, depth);
    }
  }

 private:
  void element(Element& e, uint32_t t, uint64_t at, int depth) {
    e.tag = t;
    in_.read(e.vr, 2, "an element's VR");
    if (!known_vr(e.vr)) {
      throw format_error("element " + hex_tag(t) +
                             " has no valid VR (not explicit VR little "
                             "endian?)",
                         at);
    }
    uint32_t length;
    if (long_length(e.vr)) {
      in_.u16("an element's reserved bytes");
      length = in_.u32("an element's length");
    } else {
      length = in_.u16("an element's length");
    }
    e.offset = in_.pos();
    if (e.is_sequence()) {
      sequence(e, length, depth + 1);
      return;
    }
    if (length == kUndefined) {
      throw Error(ErrorKind::unsupported,
                  "DICOM: element " + hex_tag(t) +
                      " has an undefined length and is not a "
                      "sequence",
                  ErrorContext{{}, -1, -1, static_cast<int64_t>(at)});
    }
    e.length = length;
    if (length > in_.left()) {
      throw format_error("element " + hex_tag(t) + ": its " + std::to_string(length) +
                             "-byte value runs past the end of the file (" +
                             std::to_string(in_.size()) + " bytes)",
                         at);
    }
    if (length <= kMaxKeptValue) {
      e.value.resize(length);
      in_.read(e.value.data(), length, "an element's value");
      e.kept = true;
    } else {
      in_.skip(length, "an element's value");
    }
  }

  void sequence(Element& e, uint32_t length, int depth) {
    if (depth > kMaxDepth) {
      throw Error(ErrorKind::limit,
                  "DICOM: sequences nested deeper than " + std::to_string(kMaxDepth) + " (at " +
                      hex_tag(e.tag) + ")",
                  ErrorContext{{}, -1, -1, static_cast<int64_t>(e.offset)});
    }
    const uint64_t end = length == kUndefined ? kUndefined : e.offset + length;
    if (end != kUndefined && length > in_.left()) {
      throw format_error("sequence " + hex_tag(e.tag) + " of " + std::to_string(length) +
                             " bytes runs past the end of the file",
                         e.offset);
    }
    while (true) {
      if (end != kUndefined && in_.pos() >= end) break;
      const uint64_t at = in_.pos();
      const uint32_t t = in_.tag("a sequence item's tag");
      const uint32_t item_length = in_.u32("a sequence item's length");
      if (t == kSequenceEnd) {
        if (end != kUndefined)
          throw format_error(
              "a sequence delimiter in a defined-length "
              "sequence",
              at);
        break;
      }
      if (t != kItem) {
        throw format_error(
            "sequence " + hex_tag(e.tag) + " holds " + hex_tag(t) + " where an item was expected",
            at);
      }
      if (item_length != kUndefined && item_length > in_.left()) {
        throw format_error(
            "an item of " + std::to_string(item_length) + " bytes runs past the end of the file",
            at);
      }
      if (++count_ > kMaxElements) {
        throw Error(ErrorKind::limit, "DICOM: the data set holds more than " +
                                          std::to_string(kMaxElements) + " elements");
      }
      e.items.emplace_back();
      data_set(e.items.back(), item_length == kUndefined ? kUndefined : in_.pos() + item_length,
               depth, false, false);
    }
    e.length = in_.pos() - e.offset;
  }

  Cursor& in_;
  size_t count_ = 0;
};

bool multi_valued(const Element& e) {
  static constexpr std::array<const char*, 9> kMulti = {"AE", "CS", "DS", "DT", "PN",
                                                        "SH", "TM", "UI", "UC"};
  return std::any_of(kMulti.begin(), kMulti.end(), [&](const char* v) { return e.is(v); });
}

bool string_vr(const Element& e) {
  static constexpr std::array<const char*, 7> kSingle = {"AS", "DA", "IS", "LO", "LT", "ST", "UT"};
  return multi_valued(e) || e.is("UR") ||
         std::any_of(kSingle.begin(), kSingle.end(), [&](const char* v) { return e.is(v); });
}

}  // namespace

const Element* DataSet::find(uint32_t t) const noexcept {
  for (const Element& e : elements) {
    if (e.tag == t) return &e;
  }
  return nullptr;
}

std::optional<std::vector<std::string>> strings_of(const Element& e) {
  if (!string_vr(e) || !e.kept) return std::nullopt;
  std::string text(e.value.c_str());  // up to the first NUL, as libdicom's C strings
  if (!text.empty() && !e.is("UI") && std::strchr(" \t\n\v\f\r", text.back())) text.pop_back();
  std::vector<std::string> out;
  if (!multi_valued(e)) {
    out.push_back(std::move(text));
    return out;
  }
  size_t start = 0;
  while (true) {
    const size_t cut = text.find('\\', start);
    out.push_back(text.substr(start, cut == std::string::npos ? std::string::npos : cut - start));
    if (cut == std::string::npos) break;
    start = cut + 1;
  }
  return out;
}

std::optional<std::string> string_at(const DataSet& ds, uint32_t t, size_t index) {
  const Element* e = ds.find(t);
  if (!e) return std::nullopt;
  auto values = strings_of(*e);
  if (!values || index >= values->size()) return std::nullopt;
  return (*values)[index];
}

std::optional<int64_t> integer_of(const DataSet& ds, uint32_t t) {
  const Element* e = ds.find(t);
  if (!e || !e->kept) return std::nullopt;
  const auto* b = reinterpret_cast<const uint8_t*>(e->value.data());
  const size_t n = e->value.size();
  auto le = [&](size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= uint64_t{b[i]} << (8 * i);
    return v;
  };
  if (e->is("US") && n >= 2) return static_cast<int64_t>(le(2));
  if (e->is("SS") && n >= 2) return static_cast<int16_t>(le(2));
  if (e->is("UL") && n >= 4) return static_cast<int64_t>(le(4));
  if (e->is("SL") && n >= 4) return static_cast<int32_t>(le(4));
  if ((e->is("UV") || e->is("SV")) && n >= 8) return static_cast<int64_t>(le(8));
  return std::nullopt;
}

bool has_dicom_magic(const source::ByteStore& store) {
  std::array<char, 4> magic{};
  if (store.size() < 132) return false;
  store.read_exact(std::as_writable_bytes(std::span(magic)), 128);
  return std::string_view(magic.data(), 4) == "DICM";
}

DicomFile read_header(const source::ByteStore& store) {
  if (store.size() < 132) {
    throw format_error("the file is " + std::to_string(store.size()) +
                           " bytes, too short for the preamble and \"DICM\" (it runs past the "
                           "end)",
                       0);
  }
  if (!has_dicom_magic(store)) throw format_error("no \"DICM\" after the 128-byte preamble", 128);
  DicomFile f;
  Cursor in(store, 132);
  Parser meta_parser(in);
  meta_parser.data_set(f.meta, kUndefined, 0, true, true);
  auto syntax = string_at(f.meta, tag::transfer_syntax_uid);
  if (!syntax) throw format_error("the file meta group has no TransferSyntaxUID", 132);
  f.transfer_syntax = *syntax;
  if (f.transfer_syntax == "1.2.840.10008.1.2" || f.transfer_syntax == "1.2.840.10008.1.2.2" ||
      f.transfer_syntax == "1.2.840.10008.1.2.1.99") {
    throw Error(ErrorKind::unsupported,
                "DICOM: transfer syntax " + f.transfer_syntax +
                    " (implicit VR, big endian or deflated) is not read; whole-slide images use "
                    "explicit VR little endian");
  }
  Parser parser(in);
  parser.data_set(f.dataset, kUndefined, 0, true, false);
  if (in.left() > 0) {
    f.pixel_data_offset = in.pos();
    const uint32_t t = in.tag("PixelData's tag");
    if (t != tag::pixel_data) {
      throw Error(ErrorKind::unsupported, "DICOM: float or double pixel data is not read");
    }
  }
  f.encapsulated = f.transfer_syntax != "1.2.840.10008.1.2.1";
  return f;
}

namespace {

struct Fragment {
  uint64_t item;    // offset of the item's tag, relative to the first fragment's item
  uint64_t offset;  // of its data in the file
  uint32_t length;
};

// The fragments after the Basic Offset Table item; `bot` gets that item's entries.
std::vector<Fragment> walk_fragments(Cursor& in, std::vector<uint32_t>& bot) {
  const uint64_t bot_at = in.pos();
  if (in.tag("the Basic Offset Table's item") != kItem) {
    throw format_error("encapsulated pixel data does not start with an item", bot_at);
  }
  const uint32_t bot_length = in.u32("the Basic Offset Table's length");
  if (bot_length % 4 != 0 || bot_length > in.left()) {
    throw format_error("the Basic Offset Table's length " + std::to_string(bot_length) +
                           " is not a multiple of 4 inside the file",
                       bot_at);
  }
  bot.resize(bot_length / 4);
  for (uint32_t& v : bot) v = in.u32("the Basic Offset Table");
  const uint64_t first = in.pos();
  std::vector<Fragment> out;
  while (true) {
    const uint64_t at = in.pos();
    const uint32_t t = in.tag("a fragment's item tag");
    const uint32_t length = in.u32("a fragment's length");
    if (t == kSequenceEnd) break;
    if (t != kItem) {
      throw format_error("pixel data holds " + hex_tag(t) + " where a fragment was expected", at);
    }
    if (length > in.left()) {
      throw format_error("a fragment of " + std::to_string(length) +
                             " bytes runs past the end of the file (" + std::to_string(in.size()) +
                             " bytes)",
                         at);
    }
    out.push_back({at - first, in.pos(), length});
    in.skip(length, "a fragment");
  }
  return out;
}

// Frame i starts at the fragment whose item is at starts[i]; its fragments run to the next.
std::vector<Frame> frames_from_offsets(const std::vector<Fragment>& fragments,
                                       const std::vector<uint64_t>& starts, const char* table,
                                       uint64_t where) {
  std::vector<Frame> frames(starts.size());
  auto from = fragments.begin();
  for (size_t i = 0; i < starts.size(); ++i) {
    if (i > 0 && starts[i] <= starts[i - 1]) {
      throw format_error(
          std::string(table) + " offsets do not increase (entry " + std::to_string(i) + ")", where);
    }
    auto it = std::lower_bound(from, fragments.end(), starts[i],
                               [](const Fragment& f, uint64_t v) { return f.item < v; });
    if (it == fragments.end() || it->item != starts[i]) {
      throw format_error(std::string(table) + " entry " + std::to_string(i) + " (offset " +
                             std::to_string(starts[i]) + ") does not point at a fragment",
                         where);
    }
    const uint64_t next = i + 1 < starts.size() ? starts[i + 1] : UINT64_MAX;
    for (auto j = it; j != fragments.end() && j->item < next; ++j) {
      frames[i].ranges.push_back({j->offset, j->length, 0});
    }
    from = it + 1;
  }
  return frames;
}

std::vector<uint64_t> extended_offsets(const DicomFile& file, uint32_t frames) {
  const Element* eot = file.dataset.find(tag::extended_offset_table);
  if (!eot || !eot->kept || eot->value.size() != uint64_t{frames} * 8) return {};
  std::vector<uint64_t> out(frames);
  for (uint32_t i = 0; i < frames; ++i) {
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b) {
      v |= uint64_t{static_cast<uint8_t>(eot->value[i * 8 + static_cast<size_t>(b)])} << (8 * b);
    }
    out[i] = v;
  }
  return out;
}

}  // namespace

std::vector<Frame> locate_frames(const source::ByteStore& store, const DicomFile& file,
                                 uint32_t frames, uint64_t frame_bytes) {
  if (file.pixel_data_offset == 0) throw format_error("the file has no PixelData", store.size());
  Cursor in(store, file.pixel_data_offset + 4, 4096);
  char vr[2];
  in.read(vr, 2, "PixelData's VR");
  in.u16("PixelData's reserved bytes");
  const uint32_t length = in.u32("PixelData's length");
  const uint64_t where = file.pixel_data_offset;
  if (!file.encapsulated) {
    if (length == kUndefined || length > in.left()) {
      throw format_error(
          "native PixelData of " + std::to_string(length) + " bytes runs past the end of the file",
          where);
    }
    if (frame_bytes == 0 || uint64_t{frames} > length / frame_bytes) {
      throw format_error("NumberOfFrames " + std::to_string(frames) + " frames of " +
                             std::to_string(frame_bytes) + " bytes do not fit in " +
                             std::to_string(length) + " bytes of PixelData",
                         where);
    }
    std::vector<Frame> out(frames);
    for (uint32_t i = 0; i < frames; ++i) {
      out[i].ranges.push_back({in.pos() + i * frame_bytes, frame_bytes, 0});
    }
    return out;
  }
  if (length != kUndefined) {
    throw format_error("encapsulated PixelData has a defined length", where);
  }
  std::vector<uint32_t> bot;
  const std::vector<Fragment> fragments = walk_fragments(in, bot);
  if (uint64_t{frames} > fragments.size()) {
    throw format_error("NumberOfFrames says " + std::to_string(frames) +
                           " frames, the pixel "
                           "data holds " +
                           std::to_string(fragments.size()) + " fragments",
                       where);
  }
  std::vector<uint64_t> eot = extended_offsets(file, frames);
  if (!eot.empty()) {
    if (!bot.empty()) throw format_error("both an Extended and a Basic Offset Table", where);
    return frames_from_offsets(fragments, eot, "the Extended Offset Table", where);
  }
  if (!bot.empty()) {
    if (bot.size() != frames) {
      throw format_error("the Basic Offset Table has " + std::to_string(bot.size()) +
                             " entries for " + std::to_string(frames) + " frames",
                         where);
    }
    return frames_from_offsets(fragments, std::vector<uint64_t>(bot.begin(), bot.end()),
                               "the Basic Offset Table", where);
  }
  std::vector<Frame> out(frames);
  if (frames == 1) {
    for (const Fragment& f : fragments) out[0].ranges.push_back({f.offset, f.length, 0});
    return out;
  }
  if (fragments.size() != frames) {
    throw format_error(std::to_string(fragments.size()) + " fragments for " +
                           std::to_string(frames) +
                           " frames and no offset table: the frames "
                           "cannot be told apart",
                       where);
  }
  for (uint32_t i = 0; i < frames; ++i) {
    out[i].ranges.push_back({fragments[i].offset, fragments[i].length, 0});
  }
  return out;
}

}  // namespace slidestream::dicom
