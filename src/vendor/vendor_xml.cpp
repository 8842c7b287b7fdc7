// The vendors' XML helpers (vendor/vendor_xml.hpp).
#if SLIDESTREAM_HAVE_PUGIXML  // without it the vendors refuse their slides
#include "vendor/vendor_xml.hpp"

#include <cstdint>

#include "slidestream/error.hpp"

namespace slidestream::vendor {

std::unique_ptr<pugi::xml_document> parse_xml(std::string_view text, const std::string& what) {
  auto doc = std::make_unique<pugi::xml_document>();
  // Whitespace-only text is kept, as libxml2 keeps it in a node's content.
  const unsigned flags = pugi::parse_default | pugi::parse_ws_pcdata;
  pugi::xml_parse_result result = doc->load_buffer(text.data(), text.size(), flags);
  if (!result) {
    throw Error(ErrorKind::format, what + " is not well-formed XML (" + result.description() +
                                       " at byte " + std::to_string(result.offset) + ")");
  }
  if (!doc->document_element()) throw Error(ErrorKind::format, what + " has no XML root element");
  return doc;
}

std::string node_content(pugi::xml_node node) {
  // Iterative: a hostile document may nest deeper than the stack allows.
  std::string out;
  pugi::xml_node at = node.first_child();
  while (at && at != node) {
    if (at.type() == pugi::node_pcdata || at.type() == pugi::node_cdata) out += at.value();
    if (at.type() == pugi::node_element && at.first_child()) {
      at = at.first_child();
      continue;
    }
    while (at != node && !at.next_sibling()) at = at.parent();
    if (at != node) at = at.next_sibling();
  }
  return out;
}

std::vector<pugi::xml_node> select_nodes(pugi::xml_node context, const char* xpath) {
  std::vector<pugi::xml_node> out;
  for (const pugi::xpath_node& n : context.select_nodes(xpath)) {
    if (n.node()) out.push_back(n.node());
  }
  return out;
}

std::optional<std::string> select_string(pugi::xml_node context, const char* xpath) {
  pugi::xpath_node_set set = context.select_nodes(xpath);
  if (set.empty()) return std::nullopt;
  set.sort();
  const pugi::xpath_node& first = set.first();
  if (first.attribute()) return std::string(first.attribute().value());
  if (first.node().type() == pugi::node_pcdata || first.node().type() == pugi::node_cdata) {
    return std::string(first.node().value());
  }
  return node_content(first.node());
}

std::vector<std::byte> decode_base64(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::byte> out;
  out.reserve(text.size() / 4 * 3);
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) continue;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    if (++count == 4) {
      out.push_back(static_cast<std::byte>(bits >> 16));
      out.push_back(static_cast<std::byte>(bits >> 8));
      out.push_back(static_cast<std::byte>(bits));
      bits = 0;
      count = 0;
    }
  }
  if (count == 2) {
    out.push_back(static_cast<std::byte>(bits >> 4));
  } else if (count == 3) {
    out.push_back(static_cast<std::byte>(bits >> 10));
    out.push_back(static_cast<std::byte>(bits >> 2));
  }
  return out;
}

}  // namespace slidestream::vendor

#endif  // SLIDESTREAM_HAVE_PUGIXML
