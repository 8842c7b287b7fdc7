// A small, defensive reader of DICOM Part 10 files in explicit VR little endian (every transfer
// syntax a whole-slide image uses: JPEG baseline, JPEG 2000, uncompressed 1.2.840.10008.1.2.1).
// It reads the file meta group and the data set up to the pixel data, then locates every
// frame's bytes (encapsulated fragments through the Extended or Basic Offset Table or by walking
// the fragments; native frames by arithmetic). Nothing is decoded here.
//
// Every file is hostile: every length is checked against the file's size, sequences nest at
// most kMaxDepth deep, a data set holds at most kMaxElements elements, values longer than
// kMaxKeptValue are located but not read, and frame tables are bounded by what the file can
// hold. Errors are Error(format / unsupported / limit) naming the element and its offset; the
// caller adds the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "source/byte_store.hpp"
#include "source/level_source.hpp"

namespace slidestream::dicom {

inline constexpr int kMaxDepth = 16;
inline constexpr size_t kMaxElements = size_t{1} << 21;
inline constexpr uint64_t kMaxKeptValue = uint64_t{1} << 20;

constexpr uint32_t tag_of(uint16_t group, uint16_t element) {
  return uint32_t{group} << 16 | element;
}

namespace tag {
inline constexpr uint32_t transfer_syntax_uid = tag_of(0x0002, 0x0010);
inline constexpr uint32_t media_storage_sop_class_uid = tag_of(0x0002, 0x0002);
inline constexpr uint32_t image_type = tag_of(0x0008, 0x0008);
inline constexpr uint32_t sop_instance_uid = tag_of(0x0008, 0x0018);
inline constexpr uint32_t series_instance_uid = tag_of(0x0020, 0x000E);
inline constexpr uint32_t concatenation_frame_offset_number = tag_of(0x0020, 0x9228);
inline constexpr uint32_t concatenation_uid = tag_of(0x0020, 0x9161);
inline constexpr uint32_t in_concatenation_number = tag_of(0x0020, 0x9162);
inline constexpr uint32_t in_concatenation_total_number = tag_of(0x0020, 0x9163);
inline constexpr uint32_t dimension_organization_type = tag_of(0x0020, 0x9311);
inline constexpr uint32_t samples_per_pixel = tag_of(0x0028, 0x0002);
inline constexpr uint32_t photometric_interpretation = tag_of(0x0028, 0x0004);
inline constexpr uint32_t planar_configuration = tag_of(0x0028, 0x0006);
inline constexpr uint32_t number_of_frames = tag_of(0x0028, 0x0008);
inline constexpr uint32_t rows = tag_of(0x0028, 0x0010);
inline constexpr uint32_t columns = tag_of(0x0028, 0x0011);
inline constexpr uint32_t bits_allocated = tag_of(0x0028, 0x0100);
inline constexpr uint32_t bits_stored = tag_of(0x0028, 0x0101);
inline constexpr uint32_t high_bit = tag_of(0x0028, 0x0102);
inline constexpr uint32_t pixel_representation = tag_of(0x0028, 0x0103);
inline constexpr uint32_t icc_profile = tag_of(0x0028, 0x2000);
inline constexpr uint32_t total_pixel_matrix_columns = tag_of(0x0048, 0x0006);
inline constexpr uint32_t total_pixel_matrix_rows = tag_of(0x0048, 0x0007);
inline constexpr uint32_t optical_path_sequence = tag_of(0x0048, 0x0105);
inline constexpr uint32_t referenced_image_navigation_sequence = tag_of(0x0048, 0x0200);
inline constexpr uint32_t column_position_in_total_image_pixel_matrix = tag_of(0x0048, 0x021E);
inline constexpr uint32_t row_position_in_total_image_pixel_matrix = tag_of(0x0048, 0x021F);
inline constexpr uint32_t plane_position_slide_sequence = tag_of(0x0048, 0x021A);
inline constexpr uint32_t total_pixel_matrix_focal_planes = tag_of(0x0048, 0x0303);
inline constexpr uint32_t per_frame_functional_groups_sequence = tag_of(0x5200, 0x9230);
inline constexpr uint32_t extended_offset_table = tag_of(0x7FE0, 0x0001);
inline constexpr uint32_t extended_offset_table_lengths = tag_of(0x7FE0, 0x0002);
inline constexpr uint32_t float_pixel_data = tag_of(0x7FE0, 0x0008);
inline constexpr uint32_t double_pixel_data = tag_of(0x7FE0, 0x0009);
inline constexpr uint32_t pixel_data = tag_of(0x7FE0, 0x0010);
}  // namespace tag

struct DataSet;

struct Element {
  uint32_t tag = 0;
  char vr[2] = {0, 0};
  uint64_t offset = 0;  // of the value in the file
  uint64_t length = 0;  // of the value (a sequence's: its items' total, when defined)
  bool kept = false;    // `value` holds the bytes (not for values over kMaxKeptValue)
  std::string value;
  std::vector<DataSet> items;  // a sequence's items

  bool is(const char* two) const noexcept { return vr[0] == two[0] && vr[1] == two[1]; }
  bool is_sequence() const noexcept { return is("SQ"); }
};

struct DataSet {
  std::vector<Element> elements;  // in file order
  const Element* find(uint32_t tag) const noexcept;
};

// Values as libdicom gives them to OpenSlide. A string element's values: the bytes up to the
// first NUL, one trailing space removed (not for UI), split at backslashes for the VRs that hold
// several (AE CS DS DT PN SH TM UI UC); nullopt where the element is absent or not a string.
std::optional<std::vector<std::string>> strings_of(const Element& e);
std::optional<std::string> string_at(const DataSet& ds, uint32_t tag, size_t index = 0);
// A binary integer (US SS UL SL UV SV) element's first value.
std::optional<int64_t> integer_of(const DataSet& ds, uint32_t tag);

// One frame's encoded bytes: one or more ranges of the file (one per fragment).
struct Frame {
  std::vector<source::ByteRange> ranges;  // store 0
};

struct DicomFile {
  DataSet meta;     // the file meta group (0002,xxxx)
  DataSet dataset;  // the data set up to the pixel data (per-frame groups included)
  std::string transfer_syntax;
  bool encapsulated = false;
  uint64_t pixel_data_offset = 0;  // of the PixelData element's tag; 0 when there is none
};

// True where the file starts with the 128-byte preamble and "DICM".
bool has_dicom_magic(const source::ByteStore& store);

// The file meta group and the data set up to PixelData.
DicomFile read_header(const source::ByteStore& store);

// Every frame of the file: `frames` frames of `frame_bytes` bytes each (native) or as the
// encapsulated pixel data lays them out. Checks every offset and length against the file.
std::vector<Frame> locate_frames(const source::ByteStore& store, const DicomFile& file,
                                 uint32_t frames, uint64_t frame_bytes);

}  // namespace slidestream::dicom
