// Philips TIFF metadata (vendor/philips.hpp): the XML's attributes as philips.* properties,
// OpenSlide's own properties derived from them, and the label and macro JPEGs the XML may
// carry in base64, each as OpenSlide's openslide-vendor-philips-tiff.c reads them.
#if SLIDESTREAM_HAVE_PUGIXML  // without it the vendors refuse their slides
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codec/jpeg_frame.hpp"
#include "slidestream/error.hpp"
#include "source/table_level_source.hpp"
#include "tiff/metadata.hpp"
#include "vendor/philips.hpp"

namespace slidestream::vendor {
namespace {

constexpr const char* kScannedImages = "PIM_DP_SCANNED_IMAGES";
constexpr const char* kRepresentations = "PIIM_PIXEL_DATA_REPRESENTATION_SEQUENCE";
// Nesting beyond this is not a Philips file; it would only deepen the recursion below.
constexpr int kMaxDepth = 16;

bool has_element_child(pugi::xml_node node) {
  for (pugi::xml_node c : node.children()) {
    if (c.type() == pugi::node_element) return true;
  }
  return false;
}

// OpenSlide's add_properties: each named Attribute becomes PREFIX.NAME; the scanned images
// recurse into the first WSI image only, the pixel representations into each one as
// PREFIX.NAME[i].
void add_attributes(const std::vector<pugi::xml_node>& nodes, const std::string& prefix, int depth,
                    std::map<std::string, std::string>& props) {
  if (depth > kMaxDepth) return;
  for (pugi::xml_node node : nodes) {
    pugi::xml_attribute name_attr = node.attribute("Name");
    if (!name_attr) continue;
    const std::string name = name_attr.value();
    if (name == kScannedImages) {
      add_attributes(select_nodes(node,
                                  "Array/DataObject[Attribute/@Name='PIM_DP_IMAGE_TYPE' and "
                                  "Attribute/text()='WSI'][1]/Attribute"),
                     prefix, depth + 1, props);
    } else if (name == kRepresentations) {
      auto objects = select_nodes(node, "Array/DataObject");
      for (size_t i = 0; i < objects.size(); ++i) {
        add_attributes(select_nodes(objects[i], "Attribute"),
                       prefix + "." + name + "[" + std::to_string(i) + "]", depth + 1, props);
      }
    } else if (!has_element_child(node)) {
      props[prefix + "." + name] = node_content(node);
    }
  }
}

// OpenSlide's parse_objective_power: the first of "levels=A,B,..." in the derivation
// description, when it is an integer from 1 to 200.
std::optional<uint32_t> parse_objective_power(const std::string& derivation) {
  size_t at = 0;
  while (at <= derivation.size()) {
    size_t dash = derivation.find('-', at);
    std::string item = derivation.substr(at, dash == std::string::npos ? dash : dash - at);
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    if (key == "sourceFilename") break;  // its quoted value may hold dashes
    if (key == "levels" && eq != std::string::npos) {
      std::string first = item.substr(eq + 1, item.find(',', eq + 1) - eq - 1);
      if (first.empty() || first.find_first_not_of("0123456789") != std::string::npos ||
          first.size() > 18) {
        return std::nullopt;
      }
      const uint64_t v = std::stoull(first);
      if (v >= 1 && v <= 200) return static_cast<uint32_t>(v);
      return std::nullopt;
    }
    if (dash == std::string::npos) break;
    at = dash + 1;
  }
  return std::nullopt;
}

// A label or macro held as one JPEG in memory: a one-tile source.
void add_jpeg_image(std::vector<std::byte> jpeg, const std::string& name, Slide::Impl& s) {
  auto frame = codec::read_jpeg_frame(jpeg);
  if (!frame || frame->width == 0 || frame->height == 0 ||
      (frame->components != 1 && frame->components != 3)) {
    return;
  }
  Level l;
  l.width = frame->width;
  l.height = frame->height;
  l.tile_width = frame->width;
  l.tile_height = frame->height;
  l.tiles_across = l.tiles_down = 1;
  l.compression = Compression::jpeg;
  l.photometric = frame->components == 3 ? 6 : 1;
  l.samples_per_pixel = frame->components;
  l.channels = frame->components;
  codec::TileFormat f;
  f.compression = Compression::jpeg;
  f.photometric = l.photometric;
  f.samples_per_pixel = l.samples_per_pixel;
  f.width = l.tile_width;
  f.height = l.tile_height;
  const uint64_t size = jpeg.size();
  auto store = std::make_shared<source::MemoryStore>(std::move(jpeg), "Philips XML " + name);
  auto src = std::make_shared<source::TableLevelSource>(
      l, f, std::vector<std::byte>{}, std::vector<std::shared_ptr<const source::ByteStore>>{store},
      std::vector<source::ByteRange>{{0, size, 0}});
  src->place_in_pyramid(static_cast<int>(s.associated.size()), 1.0);
  s.associated.push_back(
      {.name = name, .width = l.width, .height = l.height, .compression = Compression::jpeg});
  s.associated_sources.push_back(std::move(src));
}

}  // namespace

std::optional<PhilipsSpacing> parse_philips_spacing(std::string_view text) {
  size_t space = text.find(' ');
  if (space == std::string_view::npos || text.find(' ', space + 1) != std::string_view::npos) {
    return std::nullopt;  // g_strsplit(" ") must give exactly two fields
  }
  auto field = [](std::string_view f) {
    std::string s(f);
    for (char& c : s) {
      if (c == '"') c = ' ';
    }
    size_t b = s.find_first_not_of(" \t\n\v\f\r"), e = s.find_last_not_of(" \t\n\v\f\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  auto h = tiff::parse_double(field(text.substr(0, space)));
  auto w = tiff::parse_double(field(text.substr(space + 1)));
  if (!w || !h) return std::nullopt;
  return PhilipsSpacing{*w, *h};
}

void check_philips_xml(const pugi::xml_document& doc) {
  pugi::xml_node root = doc.document_element();
  if (std::string(root.name()) != "DataObject") {
    throw Error(ErrorKind::format, "Philips TIFF: the XML's root is <" + std::string(root.name()) +
                                       ">, not <DataObject>");
  }
  if (std::string(root.attribute("ObjectType").value()) != "DPUfsImport") {
    throw Error(ErrorKind::format, "Philips TIFF: the XML's root ObjectType is not DPUfsImport");
  }
  auto wsi = select_nodes(doc,
                          "/DataObject/Attribute[@Name='PIM_DP_SCANNED_IMAGES']/Array"
                          "/DataObject[Attribute/@Name='PIM_DP_IMAGE_TYPE' and "
                          "Attribute/text()='WSI']");
  if (wsi.size() != 1) {
    throw Error(ErrorKind::format, "Philips TIFF: the XML has " + std::to_string(wsi.size()) +
                                       " WSI images (expected one)");
  }
}

void add_philips_properties(const pugi::xml_document& doc, Slide::Impl& s) {
  auto& p = s.properties;
  add_attributes(select_nodes(doc, "/DataObject/Attribute"), "philips", 0, p);
  if (auto it = p.find("philips.DICOM_PIXEL_SPACING"); it != p.end()) {
    if (auto spacing = parse_philips_spacing(it->second)) {
      s.mpp_x = 1e3 * spacing->w;
      s.mpp_y = 1e3 * spacing->h;
    }
  }
  if (auto it = p.find("philips.DICOM_DERIVATION_DESCRIPTION"); it != p.end()) {
    if (auto power = parse_objective_power(it->second)) s.objective_power = *power;
  }
  if (auto it = p.find("philips.PIM_DP_UFS_BARCODE"); it != p.end()) {
    auto bytes = decode_base64(it->second);
    std::string barcode(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    p["openslide.barcode"] = barcode.substr(0, barcode.find('\0'));
  }
}

void add_philips_xml_associated(const pugi::xml_document& doc, Slide::Impl& s) {
  static constexpr std::pair<const char*, const char*> kImages[] = {
      {"label",
       "/DataObject/Attribute[@Name='PIM_DP_SCANNED_IMAGES']/Array"
       "/DataObject[Attribute/@Name='PIM_DP_IMAGE_TYPE' and Attribute/text()='LABELIMAGE'][1]"
       "/Attribute[@Name='PIM_DP_IMAGE_DATA']/text()"},
      {"macro",
       "/DataObject/Attribute[@Name='PIM_DP_SCANNED_IMAGES']/Array"
       "/DataObject[Attribute/@Name='PIM_DP_IMAGE_TYPE' and Attribute/text()='MACROIMAGE'][1]"
       "/Attribute[@Name='PIM_DP_IMAGE_DATA']/text()"},
  };
  for (const auto& [name, xpath] : kImages) {
    bool present = false;
    for (const auto& a : s.associated) present = present || a.name == name;
    if (present) continue;
    if (auto b64 = select_string(doc, xpath)) add_jpeg_image(decode_base64(*b64), name, s);
  }
}

}  // namespace slidestream::vendor

#endif  // SLIDESTREAM_HAVE_PUGIXML
