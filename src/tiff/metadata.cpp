#include "tiff/metadata.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

namespace slidestream::tiff {
namespace {

constexpr std::string_view kWhitespace = " \t\n\v\f\r";

// g_strstrip: ASCII whitespace off both ends.
std::string strip(std::string_view s) {
  size_t begin = s.find_first_not_of(kWhitespace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kWhitespace);
  return std::string(s.substr(begin, end - begin + 1));
}

std::string decode_entities(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 8) {
      out += s[i];
      continue;
    }
    std::string_view entity = s.substr(i + 1, semi - i - 1);
    if (entity == "amp")
      out += '&';
    else if (entity == "lt")
      out += '<';
    else if (entity == "gt")
      out += '>';
    else if (entity == "quot")
      out += '"';
    else if (entity == "apos")
      out += '\'';
    else
      out.append(s.substr(i, semi - i + 1));
    i = semi;
  }
  return out;
}

struct XmlElement {
  std::string_view name;  // local name, without a namespace prefix
  std::map<std::string, std::string, std::less<>> attributes;
};

// Calls visit(element) for each start tag in document order. Comments, processing instructions
// and closing tags are skipped. Stops quietly at anything it cannot follow.
template <typename Visit>
void scan_xml(std::string_view xml, Visit visit) {
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string_view::npos) {
    ++pos;
    if (pos >= xml.size()) return;
    if (xml.substr(pos, 3) == "!--") {
      size_t end = xml.find("-->", pos);
      if (end == std::string_view::npos) return;
      pos = end + 3;
      continue;
    }
    if (xml[pos] == '/' || xml[pos] == '?' || xml[pos] == '!') continue;
    size_t name_end = xml.find_first_of(" \t\r\n/>", pos);
    if (name_end == std::string_view::npos) return;
    XmlElement element;
    element.name = xml.substr(pos, name_end - pos);
    if (auto colon = element.name.rfind(':'); colon != std::string_view::npos) {
      element.name = element.name.substr(colon + 1);
    }
    pos = name_end;
    // Attributes: name = "value" | 'value', until '>' or '/>'.
    while (pos < xml.size()) {
      pos = xml.find_first_not_of(kWhitespace, pos);
      if (pos == std::string_view::npos) return;
      if (xml[pos] == '>' || xml[pos] == '/') break;
      size_t eq = xml.find('=', pos);
      if (eq == std::string_view::npos) return;
      std::string key = strip(xml.substr(pos, eq - pos));
      if (auto colon = key.rfind(':'); colon != std::string::npos) key = key.substr(colon + 1);
      size_t quote = xml.find_first_not_of(kWhitespace, eq + 1);
      if (quote == std::string_view::npos || (xml[quote] != '"' && xml[quote] != '\'')) return;
      size_t close = xml.find(xml[quote], quote + 1);
      if (close == std::string_view::npos) return;
      element.attributes.emplace(key, decode_entities(xml.substr(quote + 1, close - quote - 1)));
      pos = close + 1;
    }
    visit(element);
  }
}

std::optional<double> attribute_double(const XmlElement& e, std::string_view key) {
  auto it = e.attributes.find(key);
  if (it == e.attributes.end()) return std::nullopt;
  return parse_double(strip(it->second));
}

// OME length units (ome.xsd UnitsLength) in micrometres.
std::optional<double> micrometres_per_unit(std::string_view unit) {
  static const std::map<std::string_view, double> kUnits = {
      {"pm", 1e-6},          {"nm", 1e-3},    {"\xC2\xB5m", 1.0},
      {"\xCE\xBCm", 1.0},    {"um", 1.0},     {"mm", 1e3},
      {"cm", 1e4},           {"dm", 1e5},     {"m", 1e6},
      {"\xC3\x85", 1e-4},    {"in", 25400.0}, {"ft", 304800.0},
      {"pt", 25400.0 / 72.0}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::string format_double(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, 17);
  if (ec != std::errc()) return "nan";
  return std::string(buf, end);
}

std::optional<double> parse_double(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == ',') c = '.';
  }
  if (s.empty()) return std::nullopt;
  const char* begin = s.data();
  // g_ascii_strtod skips leading whitespace and takes a leading '+'; from_chars does neither.
  while (begin < s.data() + s.size() && std::strchr(" \t\n\v\f\r", *begin) && *begin) ++begin;
  if (begin < s.data() + s.size() && *begin == '+') ++begin;
  double value = 0;
  auto [end, ec] = std::from_chars(begin, s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::map<std::string, std::string> aperio_properties(const std::string& description) {
  std::map<std::string, std::string> out;
  size_t pos = description.find('|');
  // The first field is the free-text header (library version, geometry); OpenSlide skips it.
  while (pos != std::string::npos) {
    size_t next = description.find('|', pos + 1);
    std::string_view field =
        std::string_view(description)
            .substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    size_t eq = field.find('=');
    if (eq != std::string_view::npos) {
      // Later duplicates replace earlier ones, as g_hash_table_insert does.
      out["aperio." + strip(field.substr(0, eq))] = strip(field.substr(eq + 1));
    }
    pos = next;
  }
  return out;
}

std::optional<std::string> aperio_associated_name(const std::string& description) {
  // g_strsplit_set(desc, "\r\n"): a "\r\n" yields an empty second line, hence no name.
  size_t first_break = description.find_first_of("\r\n");
  if (first_break == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(description).substr(first_break + 1);
  std::string_view line = rest.substr(0, rest.find_first_of("\r\n"));
  std::string_view word = line.substr(0, line.find(' '));
  if (word.empty()) return std::nullopt;
  return std::string(word);
}

bool is_ome_xml(std::string_view description) {
  size_t start = description.find_first_not_of(kWhitespace);
  if (start == std::string_view::npos || description[start] != '<') return false;
  return description.find("<OME") != std::string_view::npos ||
         description.find(":OME") != std::string_view::npos;
}

OmeMetadata parse_ome_xml(std::string_view xml) {
  OmeMetadata meta;
  bool seen_pixels = false;
  std::string first_objective_ref;
  std::map<std::string, double> objectives;  // ID -> NominalMagnification
  std::optional<double> first_objective_mag;
  bool in_image = false;
  scan_xml(xml, [&](const XmlElement& e) {
    if (e.name == "Image") {
      OmeImage image;
      if (auto it = e.attributes.find("Name"); it != e.attributes.end()) image.name = it->second;
      meta.images.push_back(image);
      in_image = true;
    } else if (e.name == "Pixels" && !seen_pixels) {
      seen_pixels = true;
      auto count = [&](std::string_view key) -> uint64_t {
        auto v = attribute_double(e, key);
        return v && *v >= 1 && *v < 1e12 ? static_cast<uint64_t>(*v) : 1;
      };
      meta.size_c = count("SizeC");
      meta.size_z = count("SizeZ");
      meta.size_t = count("SizeT");
      auto unit_x = e.attributes.find("PhysicalSizeXUnit");
      auto unit_y = e.attributes.find("PhysicalSizeYUnit");
      auto scale = [](const auto& attrs, auto it) -> std::optional<double> {
        if (it == attrs.end()) return 1.0;  // the schema's default unit is µm
        return micrometres_per_unit(it->second);
      };
      auto sx = scale(e.attributes, unit_x), sy = scale(e.attributes, unit_y);
      auto x = attribute_double(e, "PhysicalSizeX"), y = attribute_double(e, "PhysicalSizeY");
      if (x && sx && *x > 0) meta.mpp_x = *x * *sx;
      if (y && sy && *y > 0) meta.mpp_y = *y * *sy;
    } else if (e.name == "TiffData" && in_image && !meta.images.empty() &&
               meta.images.back().first_ifd < 0) {
      auto ifd = attribute_double(e, "IFD");
      meta.images.back().first_ifd =
          ifd && *ifd >= 0 && *ifd < 1e9 ? static_cast<int64_t>(*ifd) : 0;
    } else if (e.name == "ObjectiveSettings" && meta.images.size() == 1 &&
               first_objective_ref.empty()) {
      if (auto it = e.attributes.find("ID"); it != e.attributes.end()) {
        first_objective_ref = it->second;
      }
    } else if (e.name == "Objective") {
      if (auto mag = attribute_double(e, "NominalMagnification"); mag && *mag > 0) {
        if (auto it = e.attributes.find("ID"); it != e.attributes.end()) {
          objectives[it->second] = *mag;
        }
        if (!first_objective_mag) first_objective_mag = *mag;
      }
    }
  });
  if (!first_objective_ref.empty() && objectives.count(first_objective_ref) != 0) {
    meta.objective_power = objectives[first_objective_ref];
  } else {
    meta.objective_power = first_objective_mag;
  }
  return meta;
}

std::optional<double> resolution_to_mpp(double resolution, uint64_t unit) {
  if (!(resolution > 0) || !std::isfinite(resolution)) return std::nullopt;
  if (unit == 3) return 10000.0 / resolution;
  if (unit == 2) return 25400.0 / resolution;
  return std::nullopt;
}

}  // namespace slidestream::tiff
