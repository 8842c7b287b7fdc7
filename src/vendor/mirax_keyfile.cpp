#include "vendor/mirax_keyfile.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "slidestream/error.hpp"

namespace slidestream::vendor::mirax {
namespace {

constexpr uint64_t kMaxKeyFileBytes = uint64_t{1} << 20;  // OpenSlide's SLIDEDAT_MAX_SIZE

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}
std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  return s;
}
std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

Error key_error(const std::string& group, const std::string& key, const std::string& what) {
  return Error(ErrorKind::format, "Slidedat.ini: [" + group + "] " + key + " " + what);
}

}  // namespace

KeyFile KeyFile::parse(std::string_view text) {
  if (text.starts_with("\xef\xbb\xbf")) text.remove_prefix(3);
  KeyFile kf;
  size_t line_no = 0;
  std::vector<std::pair<std::string, std::string>>* current = nullptr;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string_view body = trim_left(line);
    if (body.empty() || body.front() == '#') continue;
    if (body.front() == '=') continue;  // OpenSlide drops MIRAX's empty keys
    if (body.front() == '[') {
      const std::string_view closed = trim_right(body);
      if (closed.size() < 3 || closed.back() != ']') {
        throw Error(ErrorKind::format,
                    "Slidedat.ini line " + std::to_string(line_no) + ": malformed group header");
      }
      std::string name(closed.substr(1, closed.size() - 2));
      auto [it, added] = kf.index_.emplace(name, kf.groups_.size());
      if (added) kf.groups_.emplace_back(name, std::vector<std::pair<std::string, std::string>>{});
      current = &kf.groups_[it->second].second;
      continue;
    }
    const size_t eq = body.find('=');
    if (eq == std::string_view::npos || current == nullptr) {
      throw Error(
          ErrorKind::format,
          "Slidedat.ini line " + std::to_string(line_no) +
              (current == nullptr ? ": a key before any [group]"
                                  : ": neither a [group], a key = value pair nor a comment"));
    }
    std::string key(trim_right(body.substr(0, eq)));
    std::string value(trim_left(body.substr(eq + 1)));
    bool replaced = false;
    for (auto& [k, v] : *current) {
      if (k == key) {
        v = value;
        replaced = true;
      }
    }
    if (!replaced) current->emplace_back(std::move(key), std::move(value));
  }
  return kf;
}

KeyFile KeyFile::load(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(ErrorKind::not_found, "cannot read " + path.string() + ": " + ec.message());
  if (size > kMaxKeyFileBytes) {
    throw Error(ErrorKind::limit, path.filename().string() + " is " + std::to_string(size) +
                                      " bytes, more than a key file may be (1 MiB)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::io, "cannot open " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return parse(s.str());
}

std::optional<std::string> KeyFile::value(const std::string& group, const std::string& key) const {
  auto it = index_.find(group);
  if (it == index_.end()) return std::nullopt;
  for (const auto& [k, v] : groups_[it->second].second) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::string KeyFile::require_value(const std::string& group, const std::string& key) const {
  auto v = value(group, key);
  if (!v) throw key_error(group, key, "is missing");
  return *v;
}

std::optional<int32_t> KeyFile::int_value(const std::string& group, const std::string& key) const {
  auto v = value(group, key);
  if (!v) return std::nullopt;
  const std::string s(trim_right(*v));
  if (s.empty()) throw key_error(group, key, "is not an integer");
  errno = 0;
  char* end = nullptr;
  const long long n = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || errno == ERANGE || n < INT32_MIN || n > INT32_MAX) {
    throw key_error(group, key, "is not a 32-bit integer: \"" + *v + "\"");
  }
  return static_cast<int32_t>(n);
}

int32_t KeyFile::require_int(const std::string& group, const std::string& key) const {
  auto v = int_value(group, key);
  if (!v) throw key_error(group, key, "is missing");
  return *v;
}

// std::from_chars, not an istream: no locale, no facets. An istream's extraction died of SIGSEGV
// in a Python process where OpenSlide had read a slide before (the lent GPU machine, issue 18),
// while the CLI and a Python process without OpenSlide read the same file.
double KeyFile::require_double(const std::string& group, const std::string& key) const {
  const std::string v = require_value(group, key);
  std::string_view s = trim_right(trim_left(v));
  // A leading '+', as strtod (OpenSlide's g_ascii_strtod) takes it; from_chars takes only '-'.
  if (s.size() > 1 && s.front() == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  double d = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(d))
    throw key_error(group, key, "is not a number: \"" + v + "\"");
  return d;
}

}  // namespace slidestream::vendor::mirax
