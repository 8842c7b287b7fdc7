// keyword_of: a binary search of the generated dictionary (dicom_dictionary.cpp).
#include <algorithm>

#include "dicom/dicom_dictionary.hpp"

namespace slidestream::dicom {

std::string_view keyword_of(uint32_t tag) noexcept {
  const auto entries = dictionary();
  auto it = std::lower_bound(entries.begin(), entries.end(), tag,
                             [](const DictionaryEntry& e, uint32_t t) { return e.tag < t; });
  if (it == entries.end() || it->tag != tag) return {};
  return it->keyword;
}

}  // namespace slidestream::dicom
