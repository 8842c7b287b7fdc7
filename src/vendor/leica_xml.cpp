// The Leica SCN ImageDescription (vendor/leica.hpp): scn / collection / image / pixels /
// dimension and view, read as OpenSlide's parse_xml_description reads them.
#if SLIDESTREAM_HAVE_PUGIXML  // without it the vendors refuse their slides
#include <algorithm>
#include <charconv>

#include "slidestream/error.hpp"
#include "vendor/leica.hpp"
#include "vendor/vendor_xml.hpp"

namespace slidestream::vendor {
namespace {

constexpr std::string_view kNamespaces[] = {"http://www.leica-microsystems.com/scn/2010/03/10",
                                            "http://www.leica-microsystems.com/scn/2010/10/01"};

Error leica_error(const std::string& cause) {
  return Error(ErrorKind::format, "Leica SCN: " + cause);
}

// OpenSlide's _openslide_xml_parse_int_attr: the whole value a decimal int64.
int64_t int_attribute(pugi::xml_node node, const char* name) {
  pugi::xml_attribute a = node.attribute(name);
  if (!a) throw leica_error(std::string("<") + node.name() + "> has no " + name);
  std::string_view v = a.value();
  int64_t out = 0;
  const char* begin = v.data();
  if (!v.empty() && v.front() == '+') ++begin;
  auto [end, ec] = std::from_chars(begin, v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
    throw leica_error(std::string("<") + node.name() + "> " + name + " \"" + std::string(v) +
                      "\" is not an integer");
  }
  return out;
}

// Exactly one node, as _openslide_xml_xpath_get_node.
pugi::xml_node one_node(pugi::xml_node context, const char* xpath, const char* what) {
  auto nodes = select_nodes(context, xpath);
  if (nodes.size() != 1) {
    throw leica_error("expected one " + std::string(what) + ", found " +
                      std::to_string(nodes.size()));
  }
  return nodes.front();
}

LeicaImage parse_image(pugi::xml_node node, const LeicaCollection& collection) {
  LeicaImage image;
  pugi::xml_node view = one_node(node, "view", "<view> in an <image>");
  image.creation_date = select_string(node, "creationDate/text()");
  image.device_model = select_string(node, "device/@model");
  image.device_version = select_string(node, "device/@version");
  image.illumination_source =
      select_string(node, "scanSettings/illuminationSettings/illuminationSource/text()");
  image.objective = select_string(node, "scanSettings/objectiveSettings/objective/text()");
  image.aperture =
      select_string(node, "scanSettings/illuminationSettings/numericalAperture/text()");
  image.nm_across = int_attribute(view, "sizeX");
  image.nm_down = int_attribute(view, "sizeY");
  image.nm_offset_x = int_attribute(view, "offsetX");
  image.nm_offset_y = int_attribute(view, "offsetY");
  image.is_macro = image.nm_offset_x == 0 && image.nm_offset_y == 0 &&
                   image.nm_across == collection.nm_across && image.nm_down == collection.nm_down;
  auto dims = select_nodes(node, "pixels/dimension");
  if (dims.empty()) throw leica_error("an <image> has no <pixels>/<dimension>");
  for (pugi::xml_node d : dims) {
    pugi::xml_attribute z = d.attribute("z");
    if (z && std::string_view(z.value()) != "0") continue;  // other z-planes: not read
    LeicaDimension dim;
    dim.ifd = int_attribute(d, "ifd");
    dim.width = int_attribute(d, "sizeX");
    dim.height = int_attribute(d, "sizeY");
    if (dim.width <= 0 || dim.height <= 0 || dim.ifd < 0) {
      throw leica_error("<dimension> of " + std::to_string(dim.width) + " x " +
                        std::to_string(dim.height) + " px at IFD " + std::to_string(dim.ifd));
    }
    dim.nm_per_pixel = static_cast<double>(image.nm_across) / static_cast<double>(dim.width);
    image.dimensions.push_back(dim);
  }
  std::stable_sort(image.dimensions.begin(), image.dimensions.end(),
                   [](const auto& a, const auto& b) { return a.width > b.width; });
  return image;
}

}  // namespace

LeicaCollection parse_leica_xml(std::string_view xml) {
  auto doc = parse_xml(xml, "the Leica SCN ImageDescription");
  pugi::xml_node root = doc->document_element();
  const std::string_view ns = root.attribute("xmlns").value();
  if (std::string_view(root.name()) != "scn" ||
      std::find(std::begin(kNamespaces), std::end(kNamespaces), ns) == std::end(kNamespaces)) {
    throw leica_error("the XML root is <" + std::string(root.name()) + " xmlns=\"" +
                      std::string(ns) + "\">, not a Leica <scn>");
  }
  LeicaCollection c;
  pugi::xml_node node = one_node(*doc, "/scn/collection", "<collection>");
  if (auto b64 = select_string(*doc, "/scn/collection/barcode/text()")) {
    auto bytes = decode_base64(*b64);
    std::string s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    c.barcode = s.substr(0, s.find('\0'));
  } else {
    c.barcode = select_string(*doc, "/scn/collection/@barcode");
  }
  c.nm_across = int_attribute(node, "sizeX");
  c.nm_down = int_attribute(node, "sizeY");
  auto images = select_nodes(node, "image");
  if (images.empty()) throw leica_error("the <collection> has no <image>");
  for (pugi::xml_node image : images) c.images.push_back(parse_image(image, c));
  return c;
}

}  // namespace slidestream::vendor

#endif  // SLIDESTREAM_HAVE_PUGIXML
