// The Ventana XML packets (vendor/ventana.hpp): the slide-wide iScan attributes, and level 0's
// stitching (areas of interest and the overlaps between their tiles), read as OpenSlide's
// parse_initial_xml and parse_level0_xml read them.
#if SLIDESTREAM_HAVE_PUGIXML  // without it the vendors refuse their slides
#include <algorithm>
#include <charconv>
#include <cmath>

#include "slidestream/error.hpp"
#include "tiff/metadata.hpp"
#include "vendor/vendor_xml.hpp"
#include "vendor/ventana.hpp"

namespace slidestream::vendor {
namespace {

Error ventana_error(const std::string& cause) {
  return Error(ErrorKind::format, "Ventana BIF: " + cause);
}

int64_t int_attribute(pugi::xml_node node, const char* name) {
  std::string_view v = node.attribute(name).value();
  int64_t out = 0;
  const char* begin = v.data();
  if (!v.empty() && v.front() == '+') ++begin;
  auto [end, ec] = std::from_chars(begin, v.data() + v.size(), out);
  if (!node.attribute(name) || v.empty() || ec != std::errc() || end != v.data() + v.size()) {
    throw ventana_error(std::string("<") + node.name() + "> " + name + " \"" + std::string(v) +
                        "\" is not an integer");
  }
  return out;
}

double double_attribute(pugi::xml_node node, const char* name) {
  auto v = tiff::parse_double(node.attribute(name).value());
  if (!v) {
    throw ventana_error(std::string("<") + node.name() + "> " + name + " \"" +
                        node.attribute(name).value() + "\" is not a number");
  }
  return *v;
}

pugi::xml_node iscan_of(const pugi::xml_document& doc) {
  pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) == "iScan") return root;
  if (std::string_view(root.name()) == "Metadata") {
    if (pugi::xml_node n = root.child("iScan")) return n;
    throw ventana_error("no <iScan> in the first XMLPacket");
  }
  throw ventana_error("the first XMLPacket's root is <" + std::string(root.name()) + ">");
}

// The (col, row) of 1-based tile number `tile`: rows counted from the bottom, every other row
// numbered right to left (OpenSlide's get_tile_coordinates).
std::pair<int64_t, int64_t> tile_position(const VentanaArea& a, int64_t tile) {
  if (tile < 1 || tile > a.tiles_across * a.tiles_down) {
    throw ventana_error("tile number " + std::to_string(tile) + " is outside its area");
  }
  int64_t col = (tile - 1) % a.tiles_across, row = (tile - 1) / a.tiles_across;
  if (row % 2) col = a.tiles_across - col - 1;
  return {col, a.tiles_down - row - 1};
}

struct Totals {
  double x = 0, y = 0;
  int64_t x_weight = 0, y_weight = 0;
};

void add_joints(pugi::xml_node info, const VentanaArea& a, Totals& t) {
  for (pugi::xml_node joint : info.children("TileJointInfo")) {
    auto [c1, r1] = tile_position(a, int_attribute(joint, "Tile1"));
    auto [c2, r2] = tile_position(a, int_attribute(joint, "Tile2"));
    const std::string_view direction = joint.attribute("Direction").value();
    const bool right = direction == "RIGHT", up = direction == "UP";
    if (!right && !up) throw ventana_error("joint direction \"" + std::string(direction) + "\"");
    if ((right && (c2 != c1 + 1 || r2 != r1)) || (up && (c2 != c1 || r2 != r1 - 1))) {
      throw ventana_error("joint " + std::string(direction) + " between tiles that are not");
    }
    const double overlap = -double_attribute(joint, right ? "OverlapX" : "OverlapY");
    const int64_t confidence = int_attribute(joint, "Confidence");
    (right ? t.x : t.y) += static_cast<double>(confidence) * overlap;
    (right ? t.x_weight : t.y_weight) += confidence;
  }
}

}  // namespace

std::map<std::string, std::string> parse_ventana_iscan(std::string_view xml) {
  auto doc = parse_xml(xml, "the Ventana iScan XMLPacket");
  std::map<std::string, std::string> out;
  for (pugi::xml_attribute a : iscan_of(*doc).attributes()) {
    std::string_view name = a.name();
    if (name.starts_with("xmlns")) continue;  // namespace declarations are no attributes
    if (auto colon = name.find(':'); colon != std::string_view::npos) name.remove_prefix(colon + 1);
    if (*a.value()) out["ventana." + std::string(name)] = a.value();
  }
  return out;
}

VentanaStitching parse_ventana_level0(std::string_view xml, int64_t tile_width,
                                      int64_t tile_height) {
  auto doc = parse_xml(xml, "the Ventana level 0 XMLPacket");
  auto infos = select_nodes(*doc, "/EncodeInfo/SlideStitchInfo/ImageInfo");
  auto origins = select_nodes(*doc, "/EncodeInfo/AoiOrigin/*");
  if (infos.empty() || infos.size() != origins.size()) {
    throw ventana_error("missing or inconsistent area metadata (" + std::to_string(infos.size()) +
                        " ImageInfo, " + std::to_string(origins.size()) + " AoiOrigin)");
  }
  VentanaStitching s;
  Totals totals;
  std::vector<int64_t> pos_y;
  for (size_t i = 0; i < infos.size(); ++i) {
    if (int_attribute(infos[i], "AOIScanned") == 0) continue;
    VentanaArea a;
    const int64_t ox = int_attribute(origins[i], "OriginX");
    const int64_t oy = int_attribute(origins[i], "OriginY");
    const int64_t w = int_attribute(infos[i], "Width"), h = int_attribute(infos[i], "Height");
    if (w != tile_width || h != tile_height) {
      throw ventana_error("area tile size " + std::to_string(w) + " x " + std::to_string(h) +
                          " differs from the TIFF's " + std::to_string(tile_width) + " x " +
                          std::to_string(tile_height));
    }
    if (ox % w != 0 || oy % h != 0 || ox < 0 || oy < 0) {
      throw ventana_error("area origin " + std::to_string(ox) + ", " + std::to_string(oy) +
                          " is not on the tile grid");
    }
    a.start_col = ox / w;
    a.start_row = oy / h;
    a.tiles_across = int_attribute(infos[i], "NumCols");
    a.tiles_down = int_attribute(infos[i], "NumRows");
    if (a.tiles_across < 1 || a.tiles_down < 1 || a.tiles_across > (1 << 20) ||
        a.tiles_down > (1 << 20)) {
      throw ventana_error("area of " + std::to_string(a.tiles_across) + " x " +
                          std::to_string(a.tiles_down) + " tiles");
    }
    a.x = static_cast<int64_t>(double_attribute(infos[i], "Pos-X"));
    pos_y.push_back(static_cast<int64_t>(double_attribute(infos[i], "Pos-Y")));
    add_joints(infos[i], a, totals);
    s.areas.push_back(a);
  }
  // No joints in a direction (one-tile areas) leaves OpenSlide dividing 0 by 0; no overlap
  // is the only reading that places the tiles at all.
  s.tile_advance_x = static_cast<double>(tile_width) +
                     (totals.x_weight ? totals.x / static_cast<double>(totals.x_weight) : 0.0);
  s.tile_advance_y = static_cast<double>(tile_height) +
                     (totals.y_weight ? totals.y / static_cast<double>(totals.y_weight) : 0.0);
  // Pos-Y is the distance from the area's bottom to a line below every area.
  int64_t top = 0;
  std::vector<int64_t> heights;
  for (size_t i = 0; i < s.areas.size(); ++i) {
    heights.push_back(
        static_cast<int64_t>(static_cast<double>(s.areas[i].tiles_down - 1) * s.tile_advance_y +
                             static_cast<double>(tile_height)));
    top = std::max(top, pos_y[i] + heights[i]);
  }
  for (size_t i = 0; i < s.areas.size(); ++i) s.areas[i].y = top - pos_y[i] - heights[i];
  return s;
}

}  // namespace slidestream::vendor

#endif  // SLIDESTREAM_HAVE_PUGIXML
