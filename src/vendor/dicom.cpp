// DICOM WSI (VL Whole Slide Microscopy Image Storage), read as OpenSlide 4.0.1's
// openslide-vendor-dicom.c reads it, with our own parser (src/dicom/). A slide is the instances
// of one Series Instance UID in one directory: open any file of it (the other files of its
// directory that belong to the series join, others are ignored, as in OpenSlide) or the
// directory itself (which must then hold exactly one series).
//  - Levels: the VOLUME instances, one level per total pixel matrix size, largest first; a level
//    may be a concatenation of several instances (InConcatenationNumber orders them, each holds
//    frames from ConcatenationFrameOffsetNumber on). TILED_FULL frames fill the grid row by row;
//    frames with plane positions in the per-frame functional groups (TILED_SPARSE) go where
//    their positions say; tiles no frame covers are missing (filled).
//  - LABEL / OVERVIEW / THUMBNAIL instances are the label / macro / thumbnail images.
//  - Tiles: JPEG baseline (YBR_FULL_422 or RGB), JPEG 2000 (YBR_ICT / YBR_RCT / RGB, OpenJPEG's
//    own inverse colour transform), uncompressed RGB; 8-bit, 3 samples, interleaved.
//  - Properties: every element of level 0's first instance with a dictionary keyword, as
//    OpenSlide lists them (dicom.Keyword, dicom.Seq[i].Keyword, multi-valued as Keyword[i]),
//    from the file meta group and the data set up to the per-frame groups; then OpenSlide's
//    openslide.* ones.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "codec/tile_decoder.hpp"
#include "dicom/dicom_dictionary.hpp"
#include "dicom/dicom_file.hpp"
#include "slidestream/error.hpp"
#include "source/table_level_source.hpp"
#include "tiff/metadata.hpp"
#include "vendor/vendor.hpp"

namespace slidestream::vendor {
namespace {

namespace fs = std::filesystem;
constexpr const char* kWsiClass = "1.2.840.10008.5.1.4.1.1.77.1.6";

Error dicom_error(ErrorKind kind, const std::string& cause) {
  return Error(kind, "DICOM: " + cause);
}

// One instance (file) of the series, its header read.
struct Instance {
  fs::path path;
  std::shared_ptr<const source::FileStore> store;
  dicom::DicomFile file;
  std::string series, sop, flavor, photometric, concatenation;
  int64_t width = 0, height = 0, columns = 0, rows = 0;
  int64_t concatenation_number = 1, frame_offset = 0;
  uint32_t frames = 1;
  Compression compression = Compression::none;
};

std::string required_string(const dicom::DataSet& ds, uint32_t tag, size_t index = 0) {
  auto v = dicom::string_at(ds, tag, index);
  if (!v) {
    throw dicom_error(ErrorKind::format,
                      "no " + std::string(dicom::keyword_of(tag)) +
                          (index ? "[" + std::to_string(index) + "]" : std::string()));
  }
  return *v;
}

int64_t required_integer(const dicom::DataSet& ds, uint32_t tag) {
  auto v = dicom::integer_of(ds, tag);
  if (!v) throw dicom_error(ErrorKind::format, "no " + std::string(dicom::keyword_of(tag)));
  return *v;
}

void expect_integer(const dicom::DataSet& ds, uint32_t tag, int64_t want, bool required) {
  auto v = dicom::integer_of(ds, tag);
  if (!v && !required) return;
  if (!v || *v != want) {
    throw dicom_error(ErrorKind::unsupported,
                      std::string(dicom::keyword_of(tag)) + " is " +
                          (v ? std::to_string(*v) : std::string("missing")) + ", only " +
                          std::to_string(want) + " is read");
  }
}

// The header of a file that is a WSI instance; nullopt (with `why`) where it is not one.
std::optional<Instance> read_instance(const fs::path& path, std::string* why) {
  Instance in;
  in.path = path;
  in.store = std::make_shared<source::FileStore>(path);
  if (!dicom::has_dicom_magic(*in.store)) {
    if (why) *why = "no \"DICM\" after the 128-byte preamble";
    return std::nullopt;
  }
  in.file = dicom::read_header(*in.store);
  auto sop_class = dicom::string_at(in.file.meta, dicom::tag::media_storage_sop_class_uid);
  if (!sop_class || *sop_class != kWsiClass) {
    if (why) *why = "not a whole-slide image: SOP class " + sop_class.value_or("(none)");
    return std::nullopt;
  }
  in.series = required_string(in.file.dataset, dicom::tag::series_instance_uid);
  return in;
}

// OpenSlide's checks of an instance it reads: transfer syntax, pixel format, colour space.
void describe_pixels(Instance& in) {
  const dicom::DataSet& ds = in.file.dataset;
  const std::string& syntax = in.file.transfer_syntax;
  if (syntax == "1.2.840.10008.1.2.1") {
    in.compression = Compression::none;
  } else if (syntax == "1.2.840.10008.1.2.4.50") {
    in.compression = Compression::jpeg;
  } else if (syntax == "1.2.840.10008.1.2.4.90" || syntax == "1.2.840.10008.1.2.4.91") {
    in.compression = Compression::jpeg2000;
  } else {
    throw dicom_error(ErrorKind::unsupported,
                      "transfer syntax " + syntax +
                          " is not read (JPEG "
                          "baseline, JPEG 2000 and explicit VR little endian are)");
  }
  expect_integer(ds, dicom::tag::planar_configuration, 0, true);
  expect_integer(ds, dicom::tag::bits_allocated, 8, true);
  expect_integer(ds, dicom::tag::bits_stored, 8, true);
  expect_integer(ds, dicom::tag::high_bit, 7, true);
  expect_integer(ds, dicom::tag::samples_per_pixel, 3, true);
  expect_integer(ds, dicom::tag::pixel_representation, 0, true);
  expect_integer(ds, dicom::tag::total_pixel_matrix_focal_planes, 1, false);
  in.photometric = required_string(ds, dicom::tag::photometric_interpretation);
  const std::string& p = in.photometric;
  const bool ok = syntax == "1.2.840.10008.1.2.4.50" ? p == "YBR_FULL_422" || p == "RGB"
                  : syntax == "1.2.840.10008.1.2.4.91"
                      ? p == "YBR_ICT" || p == "YBR_RCT" || p == "RGB"
                  : syntax == "1.2.840.10008.1.2.4.90" ? p == "YBR_RCT" || p == "RGB"
                                                       : p == "RGB";
  if (!ok) {
    throw dicom_error(ErrorKind::unsupported,
                      "photometric interpretation " + p + " is not read for " + syntax);
  }
  in.sop = required_string(ds, dicom::tag::sop_instance_uid);
  in.concatenation = dicom::string_at(ds, dicom::tag::concatenation_uid).value_or("");
  in.columns = required_integer(ds, dicom::tag::columns);
  in.rows = required_integer(ds, dicom::tag::rows);
  in.width = required_integer(ds, dicom::tag::total_pixel_matrix_columns);
  in.height = required_integer(ds, dicom::tag::total_pixel_matrix_rows);
  if (in.columns <= 0 || in.rows <= 0 || in.width <= 0 || in.height <= 0 || in.columns > 65535 ||
      in.rows > 65535) {
    throw dicom_error(ErrorKind::format, "frame " + std::to_string(in.columns) + " x " +
                                             std::to_string(in.rows) + " or image " +
                                             std::to_string(in.width) + " x " +
                                             std::to_string(in.height) + " out of range");
  }
  in.concatenation_number = dicom::integer_of(ds, dicom::tag::in_concatenation_number).value_or(1);
  if (in.concatenation_number <= 0 || in.concatenation_number > 65535) {
    throw dicom_error(
        ErrorKind::format,
        "InConcatenationNumber " + std::to_string(in.concatenation_number) + " out of range");
  }
  in.frame_offset =
      dicom::integer_of(ds, dicom::tag::concatenation_frame_offset_number).value_or(0);
  if (auto n = dicom::string_at(ds, dicom::tag::number_of_frames)) {
    char* end = nullptr;
    const long long v = std::strtoll(n->c_str(), &end, 10);
    if (v <= 0 || v > 0x7FFFFFFF) {
      throw dicom_error(ErrorKind::format, "NumberOfFrames \"" + *n + "\" out of range");
    }
    in.frames = static_cast<uint32_t>(v);
  }
}

// The level source: one entry per tile of the grid, each a frame's fragments (possibly in
// another instance's file of the concatenation).
class DicomLevelSource final : public source::LevelSource {
 public:
  DicomLevelSource(const Level& layout, const codec::TileFormat& format,
                   std::vector<std::shared_ptr<const source::ByteStore>> stores,
                   std::vector<source::TileBytes> tiles)
      : LevelSource(layout, format, {}, std::move(stores), false), tiles_(std::move(tiles)) {}

  source::TileBytes tile(int64_t col, int64_t row, int /*plane*/) const override {
    return tiles_[static_cast<size_t>(row * layout().tiles_across + col)];
  }

 private:
  std::vector<source::TileBytes> tiles_;
};

// Where each frame of an instance goes in the grid: its plane position where the per-frame
// functional groups give one (libdicom's rule: then the instance is sparse whatever its
// DimensionOrganizationType says), else the frame's number in the concatenation.
std::vector<int64_t> frame_tiles(const Instance& in, int64_t across, int64_t down) {
  const dicom::DataSet& ds = in.file.dataset;
  std::vector<int64_t> where(in.frames, -1);
  const dicom::Element* per_frame = ds.find(dicom::tag::per_frame_functional_groups_sequence);
  bool positioned = false;
  if (per_frame) {
    for (size_t i = 0; i < per_frame->items.size() && i < in.frames; ++i) {
      const dicom::Element* plane =
          per_frame->items[i].find(dicom::tag::plane_position_slide_sequence);
      if (!plane || plane->items.empty()) continue;
      auto x = dicom::integer_of(plane->items[0],
                                 dicom::tag::column_position_in_total_image_pixel_matrix);
      auto y =
          dicom::integer_of(plane->items[0], dicom::tag::row_position_in_total_image_pixel_matrix);
      if (!x || !y) continue;
      positioned = true;
      if ((*x - 1) % in.columns != 0 || (*y - 1) % in.rows != 0 || *x < 1 || *y < 1) {
        throw dicom_error(ErrorKind::unsupported,
                          "frame " + std::to_string(i + 1) + " at (" + std::to_string(*x) + ", " +
                              std::to_string(*y) + ") is not aligned on the tile grid");
      }
      const int64_t col = (*x - 1) / in.columns, row = (*y - 1) / in.rows;
      if (col < across && row < down) where[i] = row * across + col;
    }
  }
  if (positioned) return where;
  const std::string organization =
      dicom::string_at(ds, dicom::tag::dimension_organization_type).value_or("TILED_FULL");
  if (organization != "TILED_FULL") {
    throw dicom_error(ErrorKind::unsupported, "DimensionOrganizationType " + organization +
                                                  " without plane positions per frame");
  }
  for (uint32_t i = 0; i < in.frames; ++i) {
    const int64_t t = in.frame_offset + i;
    if (t < across * down) where[i] = t;
  }
  return where;
}

codec::TileFormat tile_format(const Instance& in) {
  codec::TileFormat f;
  f.compression = in.compression;
  f.photometric = in.photometric == "YBR_FULL_422" ? 6 : 2;
  f.samples_per_pixel = 3;
  f.bits_per_sample = 8;
  f.width = static_cast<uint32_t>(in.columns);
  f.height = static_cast<uint32_t>(in.rows);
  f.ycbcr_subsampling_h = 2;
  f.ycbcr_subsampling_v = 1;
  return f;
}

Level level_layout(const Instance& in) {
  Level l;
  l.width = in.width;
  l.height = in.height;
  l.tile_width = static_cast<uint32_t>(in.columns);
  l.tile_height = static_cast<uint32_t>(in.rows);
  l.tiles_across = (in.width + in.columns - 1) / in.columns;
  l.tiles_down = (in.height + in.rows - 1) / in.rows;
  l.compression = in.compression;
  l.photometric = in.photometric == "YBR_FULL_422" ? 6 : 2;
  l.samples_per_pixel = 3;
  l.bits_per_sample = 8;
  l.channels = 3;
  l.dtype = DataType::uint8;
  return l;
}

// A level (or associated image) from its instances, in concatenation order.
std::shared_ptr<DicomLevelSource> make_source(const std::vector<const Instance*>& parts) {
  const Instance& first = *parts.front();
  const Level layout = level_layout(first);
  source::check_table_size(layout.tiles_across, layout.tiles_down,
                           "a DICOM level of " + std::to_string(first.width) + " x " +
                               std::to_string(first.height) + " px");
  const size_t tiles = static_cast<size_t>(layout.tiles_across * layout.tiles_down);
  std::vector<source::TileBytes> table(tiles);
  std::vector<bool> taken(tiles, false);
  std::vector<std::shared_ptr<const source::ByteStore>> stores;
  uint64_t covered = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const Instance& in = *parts[k];
    try {
      if (in.compression != first.compression || in.photometric != first.photometric) {
        throw dicom_error(ErrorKind::unsupported,
                          "its tiles are " + in.file.transfer_syntax + " " + in.photometric +
                              ", the level's first instance's are " + first.file.transfer_syntax +
                              " " + first.photometric);
      }
      stores.push_back(in.store);
      const uint64_t frame_bytes = static_cast<uint64_t>(in.columns * in.rows * 3);
      const std::vector<dicom::Frame> frames =
          dicom::locate_frames(*in.store, in.file, in.frames, frame_bytes);
      const std::vector<int64_t> where = frame_tiles(in, layout.tiles_across, layout.tiles_down);
      std::vector<bool> mine(tiles, false);
      for (size_t i = 0; i < frames.size(); ++i) {
        if (where[i] < 0) continue;
        const auto t = static_cast<size_t>(where[i]);
        if (taken[t] && !mine[t]) continue;  // the first instance that has a tile wins
        source::TileBytes bytes;
        for (source::ByteRange r : frames[i].ranges) {
          r.store = static_cast<uint32_t>(k);
          bytes.add(r);
        }
        covered += !taken[t];
        table[t] = std::move(bytes);
        taken[t] = mine[t] = true;
      }
    } catch (const Error& e) {
      throw e.with_context({.file = in.path.string()});
    }
  }
  const std::string organization =
      dicom::string_at(first.file.dataset, dicom::tag::dimension_organization_type)
          .value_or("TILED_SPARSE");
  if (parts.size() == 1 && organization == "TILED_FULL" && covered < tiles &&
      !first.file.dataset.find(dicom::tag::per_frame_functional_groups_sequence)) {
    throw Error(ErrorKind::format,
                "DICOM: TILED_FULL with " + std::to_string(first.frames) +
                    " frames for a grid "
                    "of " +
                    std::to_string(tiles) + " tiles",
                {.file = first.path.string()});
  }
  return std::make_shared<DicomLevelSource>(layout, tile_format(first), std::move(stores),
                                            std::move(table));
}

// The files to consider: the directory's, or the opened file's and its siblings'.
std::vector<fs::path> candidate_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) out.push_back(entry.path());
    if (out.size() > 100000) {
      throw dicom_error(ErrorKind::limit, "more than 100,000 files in " + dir.string());
    }
  }
  if (ec) throw dicom_error(ErrorKind::io, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Instance> series_instances(const SlideProbe& probe) {
  std::vector<Instance> all;
  std::string series;
  if (probe.file) {
    std::string why;
    auto start = read_instance(probe.path, &why);
    if (!start) throw dicom_error(ErrorKind::format, why);
    series = start->series;
    all.push_back(std::move(*start));
  }
  const fs::path dir = probe.file ? probe.path.parent_path() : probe.path;
  std::set<std::string> others;
  for (const fs::path& p : candidate_files(dir.empty() ? fs::path(".") : dir)) {
    std::error_code same_error;
    if (probe.file && fs::equivalent(p, probe.path, same_error)) continue;
    std::optional<Instance> in;
    try {
      in = read_instance(p, nullptr);
    } catch (const Error&) {
      continue;  // not a readable DICOM file: not part of the slide (OpenSlide skips it too)
    }
    if (!in) continue;
    if (series.empty()) series = in->series;
    if (in->series != series) {
      others.insert(in->series);
      continue;
    }
    all.push_back(std::move(*in));
  }
  if (!probe.file && !others.empty()) {
    throw dicom_error(ErrorKind::format, "the directory holds " +
                                             std::to_string(others.size() + 1) +
                                             " series (Series Instance UIDs " + series + ", " +
                                             *others.begin() + (others.size() > 1 ? ", ..." : "") +
                                             "): open one file of the series "
                                             "you mean");
  }
  if (all.empty()) throw dicom_error(ErrorKind::format, "no DICOM WSI file in " + dir.string());
  return all;
}

void add_properties(const dicom::DataSet& ds, const std::string& prefix, bool top,
                    std::map<std::string, std::string>& p) {
  for (const dicom::Element& e : ds.elements) {
    if (top && (e.tag == dicom::tag::referenced_image_navigation_sequence ||
                e.tag == dicom::tag::per_frame_functional_groups_sequence ||
                e.tag == dicom::tag::extended_offset_table)) {
      return;  // libdicom's metadata subset ends at the first of these
    }
    const std::string_view keyword = dicom::keyword_of(e.tag);
    // libdicom reads the file meta group's length and keeps it out of the data set.
    if (keyword.empty() || e.tag == dicom::tag_of(0x0002, 0x0000)) continue;
    const std::string name = prefix + "." + std::string(keyword);
    if (e.is_sequence()) {
      for (size_t i = 0; i < e.items.size(); ++i) {
        add_properties(e.items[i], name + "[" + std::to_string(i) + "]", false, p);
      }
      continue;
    }
    std::vector<std::string> values;
    if (auto s = dicom::strings_of(e)) {
      values = std::move(*s);
    } else if (e.kept && (e.is("FL") || e.is("FD"))) {
      const size_t size = e.is("FL") ? 4 : 8;
      for (size_t at = 0; at + size <= e.value.size(); at += size) {
        double v;
        if (size == 4) {
          float f;
          std::memcpy(&f, e.value.data() + at, 4);
          v = f;
        } else {
          std::memcpy(&v, e.value.data() + at, 8);
        }
        values.push_back(tiff::format_double(v));
      }
    } else if (e.kept &&
               (e.is("US") || e.is("SS") || e.is("UL") || e.is("SL") || e.is("UV") || e.is("SV"))) {
      const size_t size = e.is("US") || e.is("SS") ? 2 : e.is("UV") || e.is("SV") ? 8 : 4;
      for (size_t at = 0; at + size <= e.value.size(); at += size) {
        dicom::DataSet one;
        dicom::Element copy = e;
        copy.value = e.value.substr(at, size);
        one.elements.push_back(std::move(copy));
        const int64_t v = *dicom::integer_of(one, e.tag);
        values.push_back(e.is("UV") ? std::to_string(static_cast<uint64_t>(v)) : std::to_string(v));
      }
    }
    if (values.size() == 1) {
      p[name] = values[0];
    } else {
      for (size_t i = 0; i < values.size(); ++i) {
        p[name + "[" + std::to_string(i) + "]"] = values[i];
      }
    }
  }
}

void copy_scaled(std::map<std::string, std::string>& p, const std::string& from,
                 const std::string& to, double scale, std::optional<double>* out) {
  auto it = p.find(from);
  if (it == p.end()) return;
  auto v = tiff::parse_double(it->second);
  if (!v) return;
  p[to] = tiff::format_double(*v * scale);
  if (out) *out = *v * scale;
}

}  // namespace

std::optional<std::string> detect_dicom(const SlideProbe& probe) {
  if (probe.file) {
    const std::string ext = probe.path.extension().string();
    if (probe.tiff && (ext == ".tif" || ext == ".tiff")) {
      return "a DICOM-TIFF dual-personality file named .tif is read as TIFF";
    }
    try {
      if (!dicom::has_dicom_magic(*probe.file)) return "no \"DICM\" after a 128-byte preamble";
    } catch (const Error& e) {
      return e.cause();
    }
    return std::nullopt;
  }
  // A directory: claimed where it holds a DICOM file.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(probe.path, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    try {
      source::FileStore store(entry.path());
      if (dicom::has_dicom_magic(store)) return std::nullopt;
    } catch (const Error&) {
    }
  }
  return "the directory holds no DICOM file";
}

void open_dicom(const SlideProbe& probe, Slide::Impl& s) {
  std::vector<Instance> instances = series_instances(probe);
  // Levels by size; associated images by flavor.
  std::map<std::pair<int64_t, int64_t>, std::map<int64_t, const Instance*>> levels;
  std::map<std::string, const Instance*> associated;
  for (Instance& in : instances) {
    try {
      auto flavor = dicom::string_at(in.file.dataset, dicom::tag::image_type, 2);
      if (!flavor) throw dicom_error(ErrorKind::format, "no ImageType[2] (image flavor)");
      in.flavor = *flavor;
      const bool volume = in.flavor == "VOLUME";
      const bool extra =
          in.flavor == "LABEL" || in.flavor == "OVERVIEW" || in.flavor == "THUMBNAIL";
      if (!volume && !extra) continue;
      describe_pixels(in);
      if (extra) {
        if (!in.concatenation.empty()) {
          throw dicom_error(ErrorKind::format, "an associated image is part of a concatenation");
        }
        const Instance*& slot = associated[in.flavor];
        if (slot && slot->sop != in.sop) {
          throw dicom_error(ErrorKind::format, "a second " + in.flavor + " image (" + in.sop +
                                                   " and " + slot->sop + ")");
        }
        slot = &in;
        continue;
      }
      auto& parts = levels[{in.width, in.height}];
      bool duplicate = false;
      for (const auto& [n, other] : parts) {
        duplicate = duplicate || other->sop == in.sop;
        if (!duplicate && (in.concatenation.empty() || other->concatenation != in.concatenation)) {
          throw dicom_error(ErrorKind::format,
                            "a second instance of the " + std::to_string(in.width) + " x " +
                                std::to_string(in.height) + " level outside its concatenation (" +
                                other->path.filename().string() + ")");
        }
        if (!duplicate && (other->columns != in.columns || other->rows != in.rows)) {
          throw dicom_error(ErrorKind::format, "tile size differs within a concatenation");
        }
      }
      if (duplicate) continue;
      if (parts.contains(in.concatenation_number)) {
        throw dicom_error(ErrorKind::format, "two instances with InConcatenationNumber " +
                                                 std::to_string(in.concatenation_number));
      }
      parts[in.concatenation_number] = &in;
    } catch (const Error& e) {
      throw e.with_context({.file = in.path.string()});
    }
  }
  if (levels.empty()) throw dicom_error(ErrorKind::format, "no VOLUME image (pyramid level)");

  std::vector<std::pair<int64_t, std::vector<const Instance*>>> ordered;
  for (const auto& [size, parts] : levels) {
    std::vector<const Instance*> list;
    int64_t expected = 1;
    for (const auto& [n, in] : parts) {
      if (n != expected) {
        throw Error(ErrorKind::format,
                    "DICOM: concatenation " + in->concatenation + " lacks instance " +
                        std::to_string(expected) + " (a file is missing)",
                    {.file = in->path.string()});
      }
      ++expected;
      list.push_back(in);
    }
    const Instance& first = *list.front();
    if (list.size() > 1) {
      auto total = dicom::integer_of(first.file.dataset, dicom::tag::in_concatenation_total_number);
      if (total && *total != static_cast<int64_t>(list.size())) {
        throw Error(ErrorKind::format,
                    "DICOM: concatenation " + first.concatenation + " has " +
                        std::to_string(*total) + " instances, " + std::to_string(list.size()) +
                        " found (a file is missing)",
                    {.file = first.path.string()});
      }
    } else if (!first.concatenation.empty()) {
      throw Error(ErrorKind::format,
                  "DICOM: only one instance of concatenation " + first.concatenation +
                      " found (a file is missing)",
                  {.file = first.path.string()});
    }
    ordered.emplace_back(size.first, std::move(list));
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [width, parts] : ordered) s.level_sources.push_back(make_source(parts));

  for (const auto& [flavor, name] :
       {std::pair{"LABEL", "label"}, {"OVERVIEW", "macro"}, {"THUMBNAIL", "thumbnail"}}) {
    auto it = associated.find(flavor);
    if (it == associated.end()) continue;
    auto src = make_source({it->second});
    s.associated.push_back({name, it->second->width, it->second->height, it->second->compression});
    s.associated_sources.push_back(std::move(src));
  }

  const Instance& base = *ordered.front().second.front();
  add_properties(base.file.meta, "dicom", false, s.properties);
  add_properties(base.file.dataset, "dicom", true, s.properties);
  const dicom::Element* paths = base.file.dataset.find(dicom::tag::optical_path_sequence);
  if (paths && !paths->items.empty()) {
    if (const dicom::Element* icc = paths->items[0].find(dicom::tag::icc_profile)) {
      if (icc->length > 0) s.properties["openslide.icc-size"] = std::to_string(icc->length);
    }
  }
}

void finish_dicom(Slide::Impl& s) {
  auto& p = s.properties;
  p["openslide.vendor"] = "dicom";
  p["openslide.level-count"] = std::to_string(s.levels.size());
  for (const Level& lv : s.levels) {
    const std::string prefix = "openslide.level[" + std::to_string(lv.index) + "].";
    p[prefix + "width"] = std::to_string(lv.width);
    p[prefix + "height"] = std::to_string(lv.height);
    p[prefix + "downsample"] = tiff::format_double(lv.downsample);
    p[prefix + "tile-width"] = std::to_string(lv.tile_width);
    p[prefix + "tile-height"] = std::to_string(lv.tile_height);
  }
  const std::string spacing =
      "dicom.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing";
  copy_scaled(p, spacing + "[0]", "openslide.mpp-y", 1000.0, &s.mpp_y);
  copy_scaled(p, spacing + "[1]", "openslide.mpp-x", 1000.0, &s.mpp_x);
  copy_scaled(p, "dicom.OpticalPathSequence[0].ObjectiveLensPower", "openslide.objective-power",
              1.0, &s.objective_power);
  if (auto it = p.find("dicom.BarcodeValue"); it != p.end()) p["openslide.barcode"] = it->second;
}

}  // namespace slidestream::vendor
