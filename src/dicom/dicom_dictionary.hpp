// The DICOM data dictionary's keywords (PS3.6), generated into dicom_dictionary.cpp by
// scripts/make_dicom_dictionary.py: DICOM properties are named by them, as OpenSlide names them
// through libdicom's dictionary ("dicom.TotalPixelMatrixColumns").
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace slidestream::dicom {

struct DictionaryEntry {
  uint32_t tag;  // group << 16 | element
  const char* keyword;
};

// Every public tag with a keyword, sorted by tag.
std::span<const DictionaryEntry> dictionary() noexcept;

// The keyword of a public tag; empty for private tags, repeating groups and unknown tags.
std::string_view keyword_of(uint32_t tag) noexcept;

}  // namespace slidestream::dicom
