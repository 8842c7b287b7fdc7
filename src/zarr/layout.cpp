#include "zarr/layout.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "io/file.hpp"
#include "slidestream/error.hpp"

namespace slidestream::zarr {

std::string to_string(Codec codec) {
  switch (codec) {
    case Codec::none:
      return "none";
    case Codec::zstd:
      return "zstd";
    case Codec::blosc_lz4:
      return "blosc-lz4";
  }
  return "unknown";
}

std::string to_string(ChannelLayout layout) {
  return layout == ChannelLayout::yxc ? "yxc" : "cyx";
}

ChannelLayout parse_channel_layout(const std::string& text) {
  if (text == "yxc") return ChannelLayout::yxc;
  if (text == "cyx") return ChannelLayout::cyx;
  throw Error(ErrorKind::invalid_argument, "unknown layout '" + text + "' (expected yxc or cyx)");
}

Codec parse_codec(const std::string& text) {
  if (text == "none" || text == "raw") return Codec::none;
  if (text == "zstd") return Codec::zstd;
  if (text == "blosc-lz4" || text == "blosc") return Codec::blosc_lz4;
  throw Error(ErrorKind::invalid_argument,
              "unknown codec '" + text + "' (expected none, zstd or blosc-lz4)");
}

namespace detail {
namespace {

using nlohmann::json;

// Limits on what metadata may declare before we allocate for it.
constexpr int64_t kMaxExtent = int64_t{1} << 40;
constexpr int kMaxChannels = 4096;
constexpr size_t kMaxChunkBytes = size_t{1} << 31;
constexpr int64_t kMaxInnerChunks = int64_t{1} << 24;

// The blosc level we write: the numcodecs default for lz4 that the brief fixes.
constexpr int kBloscLevel = 5;

const char* v2_dtype(DataType t) {
  switch (t) {
    case DataType::uint8:
      return "|u1";
    case DataType::uint16:
      return "<u2";
    case DataType::uint32:
      return "<u4";
    case DataType::float32:
      return "<f4";
  }
  return "|u1";
}

// Zarr v3's data_type names are ours (slidestream::to_string): one table, not two.
const char* v3_dtype(DataType t) {
  return to_string(t).data();  // a string literal: NUL-terminated
}

json fill_json(const Layout& l) {
  double v = l.fill_value;
  if (l.dtype == DataType::float32) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    return v;
  }
  return static_cast<int64_t>(v);
}

// Whether `v` is a value of type t: integer types take whole numbers in their range, float32 NaN,
// the infinities and finite values within its range. Converting any other double to the type is
// undefined behaviour (fuzz_zarr_metadata: "fill_value": 9999999999999999990 for "<u2").
bool fill_fits(DataType t, double v) {
  auto whole_up_to = [v](double largest) { return v >= 0 && v <= largest && std::floor(v) == v; };
  switch (t) {
    case DataType::uint8:
      return whole_up_to(std::numeric_limits<uint8_t>::max());
    case DataType::uint16:
      return whole_up_to(std::numeric_limits<uint16_t>::max());
    case DataType::uint32:
      return whole_up_to(std::numeric_limits<uint32_t>::max());
    case DataType::float32:
      return !std::isfinite(v) || std::abs(v) <= std::numeric_limits<float>::max();
  }
  return false;
}

std::array<std::byte, 8> fill_sample_of(DataType t, double v) {
  std::array<std::byte, 8> out{};
  switch (t) {
    case DataType::uint8: {
      auto x = static_cast<uint8_t>(v);
      std::memcpy(out.data(), &x, 1);
      break;
    }
    case DataType::uint16: {
      auto x = static_cast<uint16_t>(v);
      std::memcpy(out.data(), &x, 2);
      break;
    }
    case DataType::uint32: {
      auto x = static_cast<uint32_t>(v);
      std::memcpy(out.data(), &x, 4);
      break;
    }
    case DataType::float32: {
      auto x = static_cast<float>(v);
      std::memcpy(out.data(), &x, 4);
      break;
    }
  }
  return out;
}

json shape_json(const Layout& l, int64_t h, int64_t w) {
  if (l.channels > 1 && l.channels_last) return json::array({h, w, l.channels});
  if (l.channels > 1) return json::array({l.channels, h, w});
  return json::array({h, w});
}

json v3_inner_codecs(const Layout& l) {
  json codecs = json::array();
  if (l.channels > 1 && l.encoding.interleaved && !l.channels_last) {
    codecs.push_back({{"name", "transpose"}, {"configuration", {{"order", {1, 2, 0}}}}});
  }
  codecs.push_back({{"name", "bytes"}, {"configuration", {{"endian", "little"}}}});
  if (l.encoding.compressor == Compressor::zstd) {
    codecs.push_back(
        {{"name", "zstd"}, {"configuration", {{"level", l.encoding.level}, {"checksum", false}}}});
  } else if (l.encoding.compressor == Compressor::blosc) {
    static const char* shuffles[] = {"noshuffle", "shuffle", "bitshuffle"};
    codecs.push_back({{"name", "blosc"},
                      {"configuration",
                       {{"cname", l.encoding.blosc_cname},
                        {"clevel", l.encoding.level},
                        {"shuffle", shuffles[l.encoding.blosc_shuffle]},
                        {"typesize", l.sample_bytes()},
                        {"blocksize", 0}}}});
  }
  if (l.encoding.crc32c) codecs.push_back({{"name", "crc32c"}});
  return codecs;
}

[[noreturn]] void bad(ErrorKind kind, const std::filesystem::path& file, const std::string& what) {
  throw Error(kind, what, {.file = file.string()});
}

json load_json(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) bad(ErrorKind::not_found, file, "cannot open Zarr metadata");
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().size() > (16u << 20)) bad(ErrorKind::limit, file, "metadata larger than 16 MiB");
  json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) bad(ErrorKind::format, file, "not a JSON object");
  return doc;
}

int64_t get_extent(const json& v, const std::filesystem::path& file, const char* what) {
  if (!v.is_number_integer())
    bad(ErrorKind::format, file, std::string(what) + " is not an integer");
  int64_t x = v.get<int64_t>();
  if (x < 0 || x > kMaxExtent) bad(ErrorKind::limit, file, std::string(what) + " out of range");
  return x;
}

// An optional integer field (zarr_format, a codec's level): `fallback` when absent, else an
// integer that fits an int or Error(format). (json::value(key, 0) converts a float such as
// 1e82 to int: undefined behaviour, found by fuzz_zarr_metadata.)
int int_field(const json& obj, const char* key, int fallback, const std::filesystem::path& file) {
  const auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (!it->is_number_integer())
    bad(ErrorKind::format, file, std::string(key) + " is not an integer");
  const int64_t v = it->get<int64_t>();
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    bad(ErrorKind::format, file, std::string(key) + " out of range");
  }
  return static_cast<int>(v);
}

// Whether a 3-D array is (y, x, c): its dimension_names say so where it has them (v3);
// otherwise the axis whose chunk holds the whole extent is the channel axis, the smaller one where
// both do (a (3, 3, 3) array without names is taken as (c, y, x), as before).
bool channels_last_of(const json& shape, const json& chunks, const json& names) {
  if (names.is_array() && names.size() == 3) {
    if (names == json::array({"y", "x", "c"})) return true;
    if (names == json::array({"c", "y", "x"})) return false;
  }
  const bool first = shape[0] == chunks[0], last = shape[2] == chunks[2];
  if (first && last) return shape[2].is_number() && shape[0].is_number() && shape[2] < shape[0];
  return last;
}

// Shape and chunk shape of 2 or 3 dimensions → layout fields. 3-D arrays are (c, y, x) or
// (y, x, c) with all channels in one chunk.
void set_geometry(Layout& l, const json& shape, const json& chunks,
                  const std::filesystem::path& file, const json& names = json()) {
  if (!shape.is_array() || !chunks.is_array() || shape.size() != chunks.size() ||
      (shape.size() != 2 && shape.size() != 3)) {
    bad(ErrorKind::unsupported, file,
        "only 2-D (y, x) and 3-D (c, y, x) or (y, x, c) arrays are supported");
  }
  size_t off = 0;
  l.channels = 1;
  l.channels_last = false;
  if (shape.size() == 3) {
    l.channels_last = channels_last_of(shape, chunks, names);
    const size_t ci = l.channels_last ? 2 : 0;
    off = l.channels_last ? 0 : 1;
    int64_t c = get_extent(shape[ci], file, "channel count");
    int64_t cc = get_extent(chunks[ci], file, "channel chunk");
    if (c < 1 || c > kMaxChannels) bad(ErrorKind::limit, file, "channel count out of range");
    if (cc != c) bad(ErrorKind::unsupported, file, "chunks that split the channel axis");
    l.channels = static_cast<int>(c);
  }
  l.height = get_extent(shape[off], file, "height");
  l.width = get_extent(shape[off + 1], file, "width");
  l.unit_h = l.chunk_h = get_extent(chunks[off], file, "chunk height");
  l.unit_w = l.chunk_w = get_extent(chunks[off + 1], file, "chunk width");
  if (l.chunk_h < 1 || l.chunk_w < 1) bad(ErrorKind::format, file, "chunk shape must be positive");
}

void check_chunk_size(const Layout& l, const std::filesystem::path& file) {
  // Divide instead of multiplying so that hostile extents cannot overflow.
  size_t per_row = static_cast<size_t>(l.chunk_w) * l.pixel_bytes();
  if (per_row == 0 || static_cast<size_t>(l.chunk_h) > kMaxChunkBytes / per_row) {
    bad(ErrorKind::limit, file, "chunk larger than 2 GiB");
  }
  if (l.sharded) {
    if (l.unit_h % l.chunk_h || l.unit_w % l.chunk_w) {
      bad(ErrorKind::format, file, "shard shape is not a multiple of the inner chunk shape");
    }
    if (l.inner_down() > kMaxInnerChunks / std::max<int64_t>(l.inner_across(), 1)) {
      bad(ErrorKind::limit, file, "too many inner chunks per shard");
    }
  }
}

double parse_fill(const json& v, DataType t, const std::filesystem::path& file) {
  if (v.is_null()) return 0;
  if (v.is_number()) {
    const double d = v.get<double>();
    if (!fill_fits(t, d)) {
      bad(ErrorKind::format, file,
          "fill_value " + v.dump() + " is not a value of " + std::string(to_string(t)));
    }
    return d;
  }
  if (v.is_string() && t == DataType::float32) {
    auto s = v.get<std::string>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  bad(ErrorKind::unsupported, file, "fill_value " + v.dump() + " is not supported");
}

DataType parse_v2_dtype(const json& v, const std::filesystem::path& file) {
  if (!v.is_string()) bad(ErrorKind::unsupported, file, "structured dtypes are not supported");
  auto s = v.get<std::string>();
  if (s == "|u1" || s == "<u1" || s == "u1" || s == "|b1") return DataType::uint8;
  if (s == "<u2") return DataType::uint16;
  if (s == "<u4") return DataType::uint32;
  if (s == "<f4") return DataType::float32;
  bad(ErrorKind::unsupported, file, "dtype " + s + " is not supported");
}

DataType parse_v3_dtype(const json& v, const std::filesystem::path& file) {
  if (!v.is_string()) bad(ErrorKind::unsupported, file, "data_type must be a string");
  auto s = v.get<std::string>();
  if (s == "uint8" || s == "bool") return DataType::uint8;
  if (s == "uint16") return DataType::uint16;
  if (s == "uint32") return DataType::uint32;
  if (s == "float32") return DataType::float32;
  bad(ErrorKind::unsupported, file, "data_type " + s + " is not supported");
}

int parse_shuffle(const json& v) {
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s == "shuffle") return 1;
    if (s == "bitshuffle") return 2;
  }
  return 0;
}

// A v3 codec chain for (inner) chunks: [transpose?] bytes [zstd|blosc]? [crc32c]?
void parse_v3_codecs(Layout& l, const json& codecs, const std::filesystem::path& file) {
  if (!codecs.is_array()) bad(ErrorKind::format, file, "codecs is not a list");
  bool seen_bytes = false;
  l.encoding = ChunkEncoding{};
  l.encoding.interleaved = l.channels == 1 || l.channels_last;
  for (const auto& c : codecs) {
    std::string name = c.is_string() ? c.get<std::string>() : c.value("name", "");
    json conf = c.is_object() ? c.value("configuration", json::object()) : json::object();
    if (name == "transpose") {
      if (seen_bytes) bad(ErrorKind::format, file, "transpose after bytes");
      json order = conf.value("order", json());
      if (order == json::array({0, 1, 2}) || order == json::array({0, 1})) continue;
      if (order == json::array({1, 2, 0}) && !l.channels_last) {
        l.encoding.interleaved = true;
        continue;
      }
      bad(ErrorKind::unsupported, file, "transpose order " + order.dump() + " is not supported");
    } else if (name == "bytes") {
      std::string endian = conf.value("endian", "little");
      if (endian != "little" && l.sample_bytes() > 1) {
        bad(ErrorKind::unsupported, file, "big-endian arrays are not supported");
      }
      seen_bytes = true;
    } else if (name == "zstd" || name == "blosc") {
      if (!seen_bytes) bad(ErrorKind::format, file, name + " before the bytes codec");
      if (l.encoding.compressor != Compressor::none) {
        bad(ErrorKind::unsupported, file, "more than one compressor");
      }
      if (name == "zstd") {
        l.encoding.compressor = Compressor::zstd;
        l.encoding.level = int_field(conf, "level", 0, file);
      } else {
        l.encoding.compressor = Compressor::blosc;
        l.encoding.level = int_field(conf, "clevel", 5, file);
        l.encoding.blosc_cname = conf.value("cname", "lz4");
        l.encoding.blosc_shuffle = parse_shuffle(conf.value("shuffle", json("noshuffle")));
      }
    } else if (name == "crc32c") {
      l.encoding.crc32c = true;
    } else if (name == "sharding_indexed") {
      bad(ErrorKind::unsupported, file, "nested sharding");
    } else {
      bad(ErrorKind::unsupported, file, "codec '" + name + "' is not supported");
    }
  }
  if (!seen_bytes) bad(ErrorKind::format, file, "no bytes codec");
}

Layout parse_v3(const std::filesystem::path& file, json* attributes) {
  json doc = load_json(file);
  if (int_field(doc, "zarr_format", 0, file) != 3)
    bad(ErrorKind::format, file, "zarr_format is not 3");
  if (doc.value("node_type", "") != "array") {
    bad(ErrorKind::format, file, "not an array (a group? open one of its arrays, e.g. PATH/0)");
  }
  Layout l;
  l.format = Format::v3;
  l.dtype = parse_v3_dtype(doc.value("data_type", json()), file);
  json grid = doc.value("chunk_grid", json::object());
  if (grid.value("name", "") != "regular") bad(ErrorKind::unsupported, file, "chunk grid");
  set_geometry(l, doc.value("shape", json()),
               grid.value("configuration", json::object()).value("chunk_shape", json()), file,
               doc.value("dimension_names", json()));
  json keys = doc.value("chunk_key_encoding", json::object());
  std::string key_name = keys.value("name", "default");
  std::string sep =
      keys.value("configuration", json::object()).value("separator", key_name == "v2" ? "." : "/");
  if (sep != "/" && sep != ".") bad(ErrorKind::format, file, "chunk key separator " + sep);
  l.separator = sep[0];
  if (key_name == "default") {
    l.key_prefix = "c";
  } else if (key_name == "v2") {
    l.key_prefix = "";
  } else {
    bad(ErrorKind::unsupported, file, "chunk_key_encoding " + key_name);
  }
  l.fill_value = parse_fill(doc.value("fill_value", json()), l.dtype, file);
  json codecs = doc.value("codecs", json());
  if (codecs.is_array() && codecs.size() == 1 && codecs[0].is_object() &&
      codecs[0].value("name", "") == "sharding_indexed") {
    json conf = codecs[0].value("configuration", json::object());
    json inner = conf.value("chunk_shape", json());
    const bool three_d = doc.value("shape", json()).size() == 3;
    size_t off = three_d && !l.channels_last ? 1 : 0;
    if (!inner.is_array() || inner.size() != (three_d ? 3u : 2u)) {
      bad(ErrorKind::format, file, "sharding chunk_shape does not match the array rank");
    }
    if (three_d &&
        get_extent(inner[l.channels_last ? 2 : 0], file, "inner channel chunk") != l.channels) {
      bad(ErrorKind::unsupported, file, "inner chunks that split the channel axis");
    }
    l.sharded = true;
    l.chunk_h = get_extent(inner[off], file, "inner chunk height");
    l.chunk_w = get_extent(inner[off + 1], file, "inner chunk width");
    if (l.chunk_h < 1 || l.chunk_w < 1) bad(ErrorKind::format, file, "inner chunk shape");
    parse_v3_codecs(l, conf.value("codecs", json()), file);
    l.index_at_end = conf.value("index_location", "end") == "end";
    json index_codecs = conf.value("index_codecs", json());
    l.index_crc32c = false;
    if (!index_codecs.is_array()) bad(ErrorKind::format, file, "index_codecs is not a list");
    for (const auto& c : index_codecs) {
      std::string name = c.is_object() ? c.value("name", "") : "";
      json cc = c.is_object() ? c.value("configuration", json::object()) : json::object();
      if (name == "bytes" && cc.value("endian", "little") == "little") continue;
      if (name == "crc32c") {
        l.index_crc32c = true;
        continue;
      }
      bad(ErrorKind::unsupported, file, "index codec " + c.dump());
    }
  } else {
    parse_v3_codecs(l, codecs, file);
  }
  check_chunk_size(l, file);
  l.fill_sample = fill_sample_of(l.dtype, l.fill_value);
  if (attributes) *attributes = doc.value("attributes", json::object());
  return l;
}

Layout parse_v2(const std::filesystem::path& dir, json* attributes) {
  auto file = dir / ".zarray";
  json doc = load_json(file);
  if (int_field(doc, "zarr_format", 0, file) != 2)
    bad(ErrorKind::format, file, "zarr_format is not 2");
  Layout l;
  l.format = Format::v2;
  l.key_prefix = "";
  l.dtype = parse_v2_dtype(doc.value("dtype", json()), file);
  set_geometry(l, doc.value("shape", json()), doc.value("chunks", json()), file);
  if (doc.value("order", "C") != "C") bad(ErrorKind::unsupported, file, "order F");
  json filters = doc.value("filters", json());
  if (!filters.is_null() && !(filters.is_array() && filters.empty())) {
    bad(ErrorKind::unsupported, file, "filters " + filters.dump());
  }
  std::string sep = doc.value("dimension_separator", ".");
  if (sep != "/" && sep != ".") bad(ErrorKind::format, file, "dimension_separator " + sep);
  l.separator = sep[0];
  l.fill_value = parse_fill(doc.value("fill_value", json()), l.dtype, file);
  // v2 chunks are C order over the array's axes: planar for (c, y, x), interleaved for (y, x, c).
  l.encoding.interleaved = l.channels == 1 || l.channels_last;
  json comp = doc.value("compressor", json());
  if (!comp.is_null()) {
    std::string id = comp.value("id", "");
    if (id == "zstd") {
      l.encoding.compressor = Compressor::zstd;
      l.encoding.level = int_field(comp, "level", 0, file);
    } else if (id == "blosc") {
      l.encoding.compressor = Compressor::blosc;
      l.encoding.level = int_field(comp, "clevel", 5, file);
      l.encoding.blosc_cname = comp.value("cname", "lz4");
      l.encoding.blosc_shuffle = parse_shuffle(comp.value("shuffle", json(1)));
    } else {
      bad(ErrorKind::unsupported, file, "compressor " + comp.dump());
    }
  }
  check_chunk_size(l, file);
  l.fill_sample = fill_sample_of(l.dtype, l.fill_value);
  if (attributes) {
    *attributes = json::object();
    if (std::filesystem::exists(dir / ".zattrs")) *attributes = load_json(dir / ".zattrs");
  }
  return l;
}

}  // namespace

bool Layout::fill_is_zero() const noexcept {
  for (size_t i = 0; i < sample_bytes(); ++i) {
    if (fill_sample[i] != std::byte{0}) return false;
  }
  return true;
}

std::string Layout::unit_row_dir(int64_t uy) const {
  std::string key = key_prefix;
  auto add = [&](int64_t v) {
    if (!key.empty()) key += separator;
    key += std::to_string(v);
  };
  if (channels > 1 && !channels_last) add(0);
  add(uy);
  return key;
}

std::string Layout::unit_key(int64_t uy, int64_t ux) const {
  std::string key = unit_row_dir(uy) + separator + std::to_string(ux);
  if (channels > 1 && channels_last) key += separator + std::string("0");
  return key;
}

Layout Layout::from_spec(const ArraySpec& s) {
  auto fail = [](const std::string& what) {
    throw Error(ErrorKind::invalid_argument, "invalid Zarr array spec: " + what);
  };
  if (s.height < 0 || s.width < 0) fail("negative shape");
  if (s.channels < 1 || s.channels > kMaxChannels) fail("channels must be 1..4096");
  if (s.chunk_height < 1 || s.chunk_width < 1) fail("chunk shape must be positive");
  Layout l;
  l.format = s.format;
  l.height = s.height;
  l.width = s.width;
  l.channels = s.channels;
  l.dtype = s.dtype;
  l.chunk_h = s.chunk_height;
  l.chunk_w = s.chunk_width;
  l.unit_h = s.chunk_height;
  l.unit_w = s.chunk_width;
  if (s.shard_height || s.shard_width) {
    if (s.format != Format::v3) fail("sharding needs Zarr v3");
    if (s.shard_height < s.chunk_height || s.shard_width < s.chunk_width ||
        s.shard_height % s.chunk_height || s.shard_width % s.chunk_width) {
      fail("shard shape must be a positive multiple of the chunk shape");
    }
    l.sharded = true;
    l.unit_h = s.shard_height;
    l.unit_w = s.shard_width;
  }
  if (!fill_fits(s.dtype, s.fill_value)) {
    fail("fill_value " + json(s.fill_value).dump() + " is not a value of " +
         std::string(to_string(s.dtype)));
  }
  l.fill_value = s.fill_value;
  l.fill_sample = fill_sample_of(s.dtype, s.fill_value);
  l.key_prefix = s.format == Format::v3 ? "c" : "";
  l.channels_last = s.layout == ChannelLayout::yxc && s.channels > 1;
  // (y, x, c) keys end in the channel index: "." keeps them flat files in one directory (zarr's
  // own default for v2) instead of one directory per chunk.
  l.separator = l.channels_last ? '.' : '/';
  // (y, x, c) chunks are the pixels as they are; v3 keeps (c, y, x) chunk bytes interleaved
  // through the transpose codec; v2 (c, y, x) chunks are planar.
  l.encoding.interleaved = s.format == Format::v3 || s.channels == 1 || l.channels_last;
  switch (s.codec) {
    case Codec::none:
      l.encoding.compressor = Compressor::none;
      break;
    case Codec::zstd:
      l.encoding.compressor = Compressor::zstd;
      l.encoding.level = s.codec_level;
      break;
    case Codec::blosc_lz4:
      l.encoding.compressor = Compressor::blosc;
      l.encoding.level = kBloscLevel;
      l.encoding.blosc_cname = "lz4";
      l.encoding.blosc_shuffle = 1;
      break;
  }
  try {
    check_chunk_size(l, "");
  } catch (const Error& e) {
    fail(e.cause());
  }
  return l;
}

ArraySpec Layout::to_spec() const {
  ArraySpec s;
  s.height = height;
  s.width = width;
  s.channels = channels;
  s.layout = channels_last ? ChannelLayout::yxc : ChannelLayout::cyx;
  s.dtype = dtype;
  s.chunk_height = chunk_h;
  s.chunk_width = chunk_w;
  s.shard_height = sharded ? unit_h : 0;
  s.shard_width = sharded ? unit_w : 0;
  s.format = format;
  switch (encoding.compressor) {
    case Compressor::none:
      s.codec = Codec::none;
      break;
    case Compressor::zstd:
      s.codec = Codec::zstd;
      break;
    case Compressor::blosc:
      s.codec = Codec::blosc_lz4;
      break;
  }
  s.codec_level = encoding.level;
  s.fill_value = fill_value;
  return s;
}

nlohmann::json v2_array_metadata(const Layout& l) {
  json compressor = nullptr;
  if (l.encoding.compressor == Compressor::zstd) {
    compressor = {{"id", "zstd"}, {"level", l.encoding.level}};
  } else if (l.encoding.compressor == Compressor::blosc) {
    compressor = {{"id", "blosc"},
                  {"cname", l.encoding.blosc_cname},
                  {"clevel", l.encoding.level},
                  {"shuffle", l.encoding.blosc_shuffle},
                  {"blocksize", 0}};
  }
  json doc = json::object();
  doc["zarr_format"] = 2;
  doc["shape"] = shape_json(l, l.height, l.width);
  doc["chunks"] = shape_json(l, l.chunk_h, l.chunk_w);
  doc["dtype"] = v2_dtype(l.dtype);
  doc["compressor"] = compressor;
  doc["fill_value"] = fill_json(l);
  doc["order"] = "C";
  doc["filters"] = nullptr;
  doc["dimension_separator"] = std::string(1, l.separator);
  return doc;
}

nlohmann::json v3_array_metadata(const Layout& l, const nlohmann::json& attributes) {
  json codecs;
  if (l.sharded) {
    json index_codecs = json::array();
    index_codecs.push_back({{"name", "bytes"}, {"configuration", {{"endian", "little"}}}});
    if (l.index_crc32c) index_codecs.push_back({{"name", "crc32c"}});
    codecs = json::array({{{"name", "sharding_indexed"},
                           {"configuration",
                            {{"chunk_shape", shape_json(l, l.chunk_h, l.chunk_w)},
                             {"codecs", v3_inner_codecs(l)},
                             {"index_codecs", index_codecs},
                             {"index_location", l.index_at_end ? "end" : "start"}}}}});
  } else {
    codecs = v3_inner_codecs(l);
  }
  json doc = json::object();
  doc["zarr_format"] = 3;
  doc["node_type"] = "array";
  doc["shape"] = shape_json(l, l.height, l.width);
  doc["data_type"] = v3_dtype(l.dtype);
  doc["chunk_grid"] = {{"name", "regular"},
                       {"configuration", {{"chunk_shape", shape_json(l, l.unit_h, l.unit_w)}}}};
  doc["chunk_key_encoding"] = {{"name", "default"},
                               {"configuration", {{"separator", std::string(1, l.separator)}}}};
  doc["fill_value"] = fill_json(l);
  doc["codecs"] = codecs;
  doc["attributes"] = attributes.is_object() ? attributes : json::object();
  doc["dimension_names"] = l.channels <= 1   ? json::array({"y", "x"})
                           : l.channels_last ? json::array({"y", "x", "c"})
                                             : json::array({"c", "y", "x"});
  return doc;
}

Layout read_array_metadata(const std::filesystem::path& dir, nlohmann::json* attributes) {
  std::error_code ec;
  // The parsers check the fields they rely on; a field of another JSON type than the one a
  // lookup asks for (a number where a string belongs, found by fuzz_zarr_metadata) throws
  // nlohmann's type_error, which is the file's fault too.
  const bool v3 = std::filesystem::exists(dir / "zarr.json", ec);
  const auto file = v3 ? dir / "zarr.json" : dir / ".zarray";
  try {
    if (v3) return parse_v3(file, attributes);
    if (std::filesystem::exists(file, ec)) return parse_v2(dir, attributes);
  } catch (const nlohmann::json::exception& e) {
    bad(ErrorKind::format, file, std::string("malformed Zarr metadata: ") + e.what());
  }
  if (std::filesystem::exists(dir / ".zgroup", ec)) {
    bad(ErrorKind::format, dir, "is a Zarr v2 group, not an array (open one of its arrays)");
  }
  bad(ErrorKind::not_found, dir, "no Zarr array here (neither zarr.json nor .zarray)");
}

size_t write_small_file_atomically(const std::filesystem::path& path, const std::string& text,
                                   bool durable) {
  auto temp = path.parent_path() / ("." + path.filename().string() + ".partial");
  try {
    io::File f(temp, io::File::Mode::write_truncate);
    f.write_exact(std::as_bytes(std::span(text.data(), text.size())), 0);
    if (durable) f.sync();
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(temp, ec);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    throw Error(ErrorKind::io, "cannot rename metadata into place: " + ec.message(),
                {.file = path.string()});
  }
  return text.size();
}

}  // namespace detail
}  // namespace slidestream::zarr
