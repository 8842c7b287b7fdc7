// A small TIFF/BigTIFF structure parser that treats every file as hostile. It reads the IFD
// tables (main chain and SubIFDs) with few preads and gives typed access to tag values, so that
// the slide model can find raw tile offsets and byte counts without decoding anything. Every
// offset and count is checked against the file size before anything is read or allocated.
// Hamamatsu NDPI, classic TIFF with 64-bit offsets, is read in NDPI mode (ndpi()), detected as
// OpenSlide's tifflike parser detects it (tiff_parser_ndpi.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "io/file.hpp"

namespace slidestream::tiff {

namespace tag {
inline constexpr uint16_t new_subfile_type = 254;
inline constexpr uint16_t image_width = 256;
inline constexpr uint16_t image_length = 257;
inline constexpr uint16_t bits_per_sample = 258;
inline constexpr uint16_t compression = 259;
inline constexpr uint16_t photometric = 262;
inline constexpr uint16_t document_name = 269;
inline constexpr uint16_t image_description = 270;
inline constexpr uint16_t make = 271;
inline constexpr uint16_t model = 272;
inline constexpr uint16_t strip_offsets = 273;
inline constexpr uint16_t samples_per_pixel = 277;
inline constexpr uint16_t rows_per_strip = 278;
inline constexpr uint16_t strip_byte_counts = 279;
inline constexpr uint16_t x_resolution = 282;
inline constexpr uint16_t y_resolution = 283;
inline constexpr uint16_t planar_configuration = 284;
inline constexpr uint16_t resolution_unit = 296;
inline constexpr uint16_t software = 305;
inline constexpr uint16_t date_time = 306;
inline constexpr uint16_t artist = 315;
inline constexpr uint16_t host_computer = 316;
inline constexpr uint16_t predictor = 317;
inline constexpr uint16_t tile_width = 322;
inline constexpr uint16_t tile_length = 323;
inline constexpr uint16_t tile_offsets = 324;
inline constexpr uint16_t tile_byte_counts = 325;
inline constexpr uint16_t sub_ifds = 330;
inline constexpr uint16_t sample_format = 339;
inline constexpr uint16_t jpeg_tables = 347;
inline constexpr uint16_t ycbcr_subsampling = 530;
inline constexpr uint16_t copyright = 33432;
inline constexpr uint16_t image_depth = 32997;
inline constexpr uint16_t ndpi_format_flag = 65420;  // present in every NDPI IFD
}  // namespace tag

// Bytes per value of a TIFF field type; 0 for types this parser does not know (such entries
// are ignored, as libtiff does).
size_t type_size(uint16_t type) noexcept;

struct Entry {
  uint16_t tag = 0;
  uint16_t type = 0;
  uint64_t count = 0;
  bool is_inline = false;     // the value sits in the entry's own value field
  uint64_t value_offset = 0;  // file offset of an out-of-line value
  std::array<std::byte, 8> inline_value{};
};

struct Ifd {
  uint64_t offset = 0;
  std::vector<Entry> entries;  // sorted by tag
  std::vector<Ifd> sub_ifds;   // from tag 330, in the order listed
  const Entry* find(uint16_t tag) const noexcept;
};

class TiffFile {
 public:
  // Parses the header, every IFD of the main chain and every SubIFD. Throws Error(format) for a
  // file that is not TIFF, an IFD loop, or an IFD past the end of the file; Error(limit) for
  // more IFDs than any slide has. Errors carry no file name (Slide::open adds it).
  TiffFile(const io::File& file, uint64_t file_size);

  bool big_endian() const noexcept { return big_endian_; }
  bool bigtiff() const noexcept { return bigtiff_; }
  // NDPI: a classic TIFF whose header, next-IFD pointers and value offsets are 64-bit, the
  // high 32 bits of each entry's value sitting after the IFD (OpenSlide's "NDPI mode").
  bool ndpi() const noexcept { return ndpi_; }
  uint64_t file_size() const noexcept { return file_size_; }
  const std::vector<Ifd>& ifds() const noexcept { return ifds_; }

  // Typed access. A missing tag gives nullopt / empty; a tag of the wrong type or a value that
  // runs past the end of the file throws Error(format) naming the tag and the IFD.
  std::optional<uint64_t> get_uint(const Ifd& ifd, uint16_t tag) const;
  // All values; `max_count` caps what the caller accepts (Error(limit) beyond it).
  std::vector<uint64_t> get_uints(const Ifd& ifd, uint16_t tag, uint64_t max_count) const;
  // Up to the first NUL, as libtiff hands ASCII values out.
  std::optional<std::string> get_string(const Ifd& ifd, uint16_t tag) const;
  // RATIONAL/FLOAT/DOUBLE/integer as a double (RATIONAL computed in double precision).
  std::optional<double> get_real(const Ifd& ifd, uint16_t tag) const;
  std::vector<std::byte> get_bytes(const Ifd& ifd, uint16_t tag) const;

  // Raw value bytes of an entry (bounds-checked), in file byte order.
  std::vector<std::byte> value_bytes(const Ifd& ifd, const Entry& entry) const;

 private:
  Ifd read_ifd(uint64_t offset, int depth, uint64_t* next_offset);
  void read_chain(uint64_t first, int depth, std::vector<Ifd>& out);
  uint64_t load(const std::byte* p, size_t size) const noexcept;
  void read_entries(uint64_t offset, uint64_t n, std::vector<std::byte>& table, Ifd& ifd,
                    uint64_t* next_offset);
  // NDPI mode (tiff_parser_ndpi.cpp): whether the 64-bit first-IFD offset leads to an IFD with
  // NDPI's format tag, and the NDPI form of one IFD's entries.
  bool detect_ndpi(uint64_t first_ifd);
  void read_ndpi_entries(uint64_t offset, uint64_t n, std::vector<std::byte>& table, Ifd& ifd,
                         uint64_t* next_offset);

  const io::File* file_;
  uint64_t file_size_ = 0;
  bool big_endian_ = false;
  bool bigtiff_ = false;
  bool ndpi_ = false;
  std::vector<Ifd> ifds_;
  std::unordered_set<uint64_t> visited_;  // IFD offsets seen so far, for loop detection
  // Strings asked for more than once (an OME-XML description can be megabytes): read once.
  mutable std::map<std::pair<uint64_t, uint16_t>, std::string> strings_;
  // Bytes of tag values read so far. Many IFDs can point at the same large value; capping the
  // total by the file size keeps such a file from making open read (and cache) gigabytes.
  mutable uint64_t value_bytes_read_ = 0;
};

std::string tag_name(uint16_t tag);

}  // namespace slidestream::tiff
