// XML descriptions of the TIFF vendors that keep their metadata as XML (Philips, Leica,
// Ventana), read with pugixml. OpenSlide reads them with libxml2 and XPath; pugixml's XPath 1.0
// takes the same queries (without namespace prefixes: pugixml names are the tags as written),
// so that each vendor file can say what it looks for in OpenSlide's own words.
#pragma once

#if SLIDESTREAM_HAVE_PUGIXML  // without it the XML vendors refuse their slides (philips.cpp...)
#include <cstddef>
#include <memory>
#include <optional>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slidestream::vendor {

// Parses `text`; Error(format) naming `what` ("the Philips ImageDescription") and where the
// XML breaks.
std::unique_ptr<pugi::xml_document> parse_xml(std::string_view text, const std::string& what);

// libxml2's xmlNodeGetContent: the text of every text and CDATA node below `node`, in order.
std::string node_content(pugi::xml_node node);
// The nodes an XPath query selects from `context`, in document order.
std::vector<pugi::xml_node> select_nodes(pugi::xml_node context, const char* xpath);
// OpenSlide's _openslide_xml_xpath_get_string: the string value of the first selected node;
// nullopt where nothing is selected.
std::optional<std::string> select_string(pugi::xml_node context, const char* xpath);

// GLib's g_base64_decode: characters outside the alphabet are skipped, decoding stops at '='.
std::vector<std::byte> decode_base64(std::string_view text);

}  // namespace slidestream::vendor

#endif  // SLIDESTREAM_HAVE_PUGIXML
