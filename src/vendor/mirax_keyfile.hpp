// MIRAX's Slidedat.ini read as GLib's GKeyFile reads it for OpenSlide (_openslide_read_key_file
// with the MIRAX flavour): at most 1 MiB, a UTF-8 BOM skipped, lines that are only "= value"
// dropped, "[group]" headers, "key = value" pairs (the key trimmed, the value's leading blanks
// dropped), '#' comments. A repeated group continues the first; a repeated key keeps the last
// value. Integers and doubles are parsed as g_key_file_get_integer / _double do: the whole value
// or an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slidestream::vendor::mirax {

class KeyFile {
 public:
  // Throws Error(format) naming the line that is neither a group, a pair nor a comment.
  static KeyFile parse(std::string_view text);
  // Reads and parses `path` (Error(not_found / limit / format)).
  static KeyFile load(const std::filesystem::path& path);

  bool has_group(const std::string& group) const { return index_.contains(group); }
  std::optional<std::string> value(const std::string& group, const std::string& key) const;
  // Error(format) naming group and key when missing or not a number.
  std::string require_value(const std::string& group, const std::string& key) const;
  int32_t require_int(const std::string& group, const std::string& key) const;
  double require_double(const std::string& group, const std::string& key) const;
  std::optional<int32_t> int_value(const std::string& group, const std::string& key) const;

  // Every group in file order with its keys in file order.
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>&
  groups() const {
    return groups_;
  }

 private:
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> groups_;
  std::map<std::string, size_t> index_;
};

}  // namespace slidestream::vendor::mirax
