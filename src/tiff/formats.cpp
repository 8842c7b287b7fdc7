#include "tiff/formats.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <utility>

#include "slidestream/error.hpp"
#include "tiff/metadata.hpp"

namespace slidestream::tiff {
namespace {

// A tile side beyond this is not a slide tile; it would only make a decoder allocate gigabytes.
constexpr uint64_t kMaxTileSide = 65536;
// Decoded bytes of one tile or strip: 1 GiB is far beyond any real file (4096² RGBA float is
// 256 MiB) and keeps a hostile header from asking a decoder for terabytes.
constexpr uint64_t kMaxTileBytes = uint64_t{1} << 30;
constexpr uint64_t kMaxSamplesPerPixel = 64;
constexpr uint64_t kMaxDimension = std::numeric_limits<uint32_t>::max();

std::string where(const Ifd& ifd) {
  return "IFD at offset " + std::to_string(ifd.offset);
}

Error ifd_error(ErrorKind kind, const Ifd& ifd, const std::string& cause) {
  return Error(kind, where(ifd) + ": " + cause);
}

bool is_tiled(const Ifd& ifd) {
  return ifd.find(tag::tile_width) != nullptr || ifd.find(tag::tile_offsets) != nullptr;
}

std::string description_of(const TiffFile& tf, const Ifd& ifd) {
  return tf.get_string(ifd, tag::image_description).value_or("");
}

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return a / b + (a % b != 0);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct LoadedImage {
  Level level;
  ImageData data;
};

// Reads one IFD's geometry, pixel format and tile (or strip) table, checking every value
// against the file. Tiled IFDs give tiles; stripped ones give full-width "tiles" of
// RowsPerStrip rows.
LoadedImage load_image(const TiffFile& tf, const Ifd& ifd) {
  LoadedImage out;
  Level& lv = out.level;
  ImageData& data = out.data;
  data.ifd_offset = ifd.offset;
  data.big_endian = tf.big_endian();

  auto width = tf.get_uint(ifd, tag::image_width);
  auto height = tf.get_uint(ifd, tag::image_length);
  if (!width || !height) throw ifd_error(ErrorKind::format, ifd, "no ImageWidth/ImageLength");
  if (*width == 0 || *height == 0) {
    throw ifd_error(ErrorKind::format, ifd,
                    "image is " + std::to_string(*width) + " x " + std::to_string(*height) +
                        " pixels (zero size)");
  }
  if (*width > kMaxDimension || *height > kMaxDimension) {
    throw ifd_error(ErrorKind::limit, ifd,
                    "image is " + std::to_string(*width) + " x " + std::to_string(*height) +
                        " pixels, beyond the TIFF limit of 2^32-1");
  }
  lv.width = static_cast<int64_t>(*width);
  lv.height = static_cast<int64_t>(*height);

  uint64_t spp = tf.get_uint(ifd, tag::samples_per_pixel).value_or(1);
  if (spp == 0 || spp > kMaxSamplesPerPixel) {
    throw ifd_error(ErrorKind::unsupported, ifd, "SamplesPerPixel is " + std::to_string(spp));
  }
  lv.samples_per_pixel = static_cast<uint16_t>(spp);

  auto bits = tf.get_uints(ifd, tag::bits_per_sample, kMaxSamplesPerPixel);
  uint64_t bps = bits.empty() ? 1 : bits.front();  // TIFF's default BitsPerSample is 1
  for (uint64_t b : bits) {
    if (b != bps) {
      throw ifd_error(ErrorKind::unsupported, ifd, "samples of different bit depths");
    }
  }
  auto formats = tf.get_uints(ifd, tag::sample_format, kMaxSamplesPerPixel);
  uint64_t sample_format = formats.empty() ? 1 : formats.front();
  if (bps == 8 && sample_format == 1) {
    lv.dtype = DataType::uint8;
  } else if (bps == 16 && sample_format == 1) {
    lv.dtype = DataType::uint16;
  } else if (bps == 32 && sample_format == 1) {
    lv.dtype = DataType::uint32;
  } else if (bps == 32 && sample_format == 3) {
    lv.dtype = DataType::float32;
  } else {
    static constexpr std::array<const char*, 4> kKinds = {"?", "unsigned", "signed", "float"};
    std::string kind = sample_format < kKinds.size() ? kKinds[sample_format]
                                                     : "format " + std::to_string(sample_format);
    throw ifd_error(ErrorKind::unsupported, ifd,
                    std::to_string(bps) + "-bit " + kind +
                        " samples (slidestream reads 8/16/32-bit unsigned and 32-bit float)");
  }
  lv.bits_per_sample = static_cast<uint16_t>(bps);
  lv.sample_format = static_cast<uint16_t>(sample_format);
  lv.channels = static_cast<int>(spp);

  lv.compression = static_cast<Compression>(
      static_cast<uint16_t>(tf.get_uint(ifd, tag::compression).value_or(1)));
  lv.photometric =
      static_cast<uint16_t>(tf.get_uint(ifd, tag::photometric).value_or(spp >= 3 ? 2 : 1));
  uint64_t planar = tf.get_uint(ifd, tag::planar_configuration).value_or(1);
  if (planar != 1 && planar != 2) {
    throw ifd_error(ErrorKind::format, ifd,
                    "PlanarConfiguration is " + std::to_string(planar) + " (must be 1 or 2)");
  }
  lv.planar_configuration = static_cast<uint16_t>(planar);
  lv.predictor = static_cast<uint16_t>(tf.get_uint(ifd, tag::predictor).value_or(1));
  if (auto sub = tf.get_uints(ifd, tag::ycbcr_subsampling, 2); sub.size() == 2) {
    for (size_t i = 0; i < 2; ++i) {
      if (sub[i] != 1 && sub[i] != 2 && sub[i] != 4) {
        throw ifd_error(ErrorKind::format, ifd,
                        "YCbCrSubSampling value " + std::to_string(sub[i]) + " is not 1, 2 or 4");
      }
      data.ycbcr_subsampling[i] = static_cast<uint16_t>(sub[i]);
    }
  }
  data.jpeg_tables = tf.get_bytes(ifd, tag::jpeg_tables);

  const bool tiled = is_tiled(ifd);
  data.stripped = !tiled;
  uint64_t tw = 0, th = 0;
  if (tiled) {
    auto w = tf.get_uint(ifd, tag::tile_width), h = tf.get_uint(ifd, tag::tile_length);
    if (!w || !h)
      throw ifd_error(ErrorKind::format, ifd, "tiled, but TileWidth/TileLength missing");
    tw = *w;
    th = *h;
    if (tw == 0 || th == 0) {
      throw ifd_error(
          ErrorKind::format, ifd,
          "tile size is " + std::to_string(tw) + " x " + std::to_string(th) + " (zero)");
    }
    if (tw > kMaxTileSide || th > kMaxTileSide) {
      throw ifd_error(ErrorKind::limit, ifd,
                      "tile size " + std::to_string(tw) + " x " + std::to_string(th) +
                          " is larger than " + std::to_string(kMaxTileSide));
    }
  } else {
    uint64_t rows = tf.get_uint(ifd, tag::rows_per_strip).value_or(*height);
    if (rows == 0) throw ifd_error(ErrorKind::format, ifd, "RowsPerStrip is 0");
    tw = *width;
    th = std::min(rows, *height);
  }
  const uint64_t planes = planar == 2 ? spp : 1;
  const uint64_t tile_bytes_limit = kMaxTileBytes / (size_of(lv.dtype) * (planar == 2 ? 1 : spp));
  if (tw > tile_bytes_limit / th) {
    throw ifd_error(ErrorKind::limit, ifd,
                    std::string(tiled ? "tile" : "strip") + " of " + std::to_string(tw) + " x " +
                        std::to_string(th) + " pixels would decode to more than 1 GiB");
  }
  lv.tile_width = static_cast<uint32_t>(tw);
  lv.tile_height = static_cast<uint32_t>(th);
  lv.tiles_across = static_cast<int64_t>(ceil_div(*width, tw));
  lv.tiles_down = static_cast<int64_t>(ceil_div(*height, th));

  const uint16_t offsets_tag = tiled ? tag::tile_offsets : tag::strip_offsets;
  const uint16_t counts_tag = tiled ? tag::tile_byte_counts : tag::strip_byte_counts;
  // across and down are below 2^32, planes below 2^7: the product cannot overflow 2^64 unless
  // both are near 2^32, which the tile-count check below rejects anyway.
  const unsigned __int128 expected_wide = static_cast<unsigned __int128>(lv.tiles_across) *
                                          static_cast<uint64_t>(lv.tiles_down) * planes;
  const Entry* offsets_entry = ifd.find(offsets_tag);
  const Entry* counts_entry = ifd.find(counts_tag);
  if (offsets_entry == nullptr || counts_entry == nullptr) {
    throw ifd_error(ErrorKind::format, ifd,
                    "no " + tag_name(offsets_entry == nullptr ? offsets_tag : counts_tag));
  }
  for (const Entry* e : {offsets_entry, counts_entry}) {
    if (e->count != expected_wide) {
      std::string geometry = std::to_string(*width) + " x " + std::to_string(*height) +
                             " image in " + std::to_string(tw) + " x " + std::to_string(th) +
                             (tiled ? " tiles" : " strips");
      if (planes > 1) geometry += " of " + std::to_string(planes) + " planes";
      throw ifd_error(ErrorKind::format, ifd,
                      tag_name(e->tag) + " has " + std::to_string(e->count) + " entries, but a " +
                          geometry + " needs " +
                          std::to_string(static_cast<uint64_t>(
                              std::min<unsigned __int128>(expected_wide, UINT64_MAX))));
    }
  }
  const uint64_t expected = static_cast<uint64_t>(expected_wide);
  data.tile_offsets = tf.get_uints(ifd, offsets_tag, expected);
  data.tile_byte_counts = tf.get_uints(ifd, counts_tag, expected);
  const uint64_t size = tf.file_size();
  for (uint64_t i = 0; i < expected; ++i) {
    uint64_t off = data.tile_offsets[i], count = data.tile_byte_counts[i];
    std::string what = std::string(tiled ? "tile " : "strip ") + std::to_string(i);
    if (count == 0) {
      // Offset 0 with count 0 is a tile the writer left out (sparse TIFF): the reader fills it.
      // A real offset with no bytes is damage, not sparseness.
      if (off != 0) {
        throw ifd_error(ErrorKind::format, ifd,
                        what + " has byte count 0 at offset " + std::to_string(off));
      }
      continue;
    }
    if (off > size || count > size - off) {
      throw ifd_error(ErrorKind::format, ifd,
                      what + " at offset " + std::to_string(off) + " with " +
                          std::to_string(count) + " bytes runs past the end of the file (" +
                          std::to_string(size) + " bytes)");
    }
  }
  return out;
}

struct LevelCandidate {
  const Ifd* ifd;
  uint64_t width;
};

void add_levels(const TiffFile& tf, std::vector<const Ifd*> ifds, Slide::Impl& s, bool sort) {
  std::vector<LoadedImage> images;
  images.reserve(ifds.size());
  for (const Ifd* ifd : ifds) images.push_back(load_image(tf, *ifd));
  if (sort) {
    // Largest first, as OpenSlide's generic-tiff sorts its levels by width.
    std::stable_sort(images.begin(), images.end(), [](const LoadedImage& a, const LoadedImage& b) {
      return a.level.width > b.level.width;
    });
  }
  for (auto& image : images) {
    image.level.index = static_cast<int>(s.levels.size());
    s.levels.push_back(image.level);
    s.level_data.push_back(std::move(image.data));
  }
}

void add_associated(const TiffFile& tf, const Ifd& ifd, const std::string& name, Slide::Impl& s) {
  for (const auto& a : s.associated) {
    if (a.name == name) return;  // the first image of a name wins
  }
  LoadedImage image = load_image(tf, ifd);
  image.level.index = static_cast<int>(s.associated.size());
  s.associated.push_back({.name = name,
                          .width = image.level.width,
                          .height = image.level.height,
                          .compression = image.level.compression});
  s.associated_layout.push_back(image.level);
  s.associated_data.push_back(std::move(image.data));
}

std::optional<std::string> first_ifd_untiled(const TiffFile& tf) {
  const Ifd& first = tf.ifds().front();
  if (is_tiled(first)) return std::nullopt;
  auto w = tf.get_uint(first, tag::image_width).value_or(0);
  auto h = tf.get_uint(first, tag::image_length).value_or(0);
  auto c = tf.get_uint(first, tag::compression).value_or(1);
  return "the first image (" + std::to_string(w) + " x " + std::to_string(h) + ", " +
         to_string(static_cast<Compression>(static_cast<uint16_t>(c))) +
         ") is stored in strips, not tiles";
}

// --- aperio ---------------------------------------------------------------------------------

std::optional<std::string> detect_aperio(const TiffFile& tf) {
  if (auto why = first_ifd_untiled(tf)) return why;
  if (!description_of(tf, tf.ifds().front()).starts_with("Aperio")) {
    return std::string("ImageDescription does not start with \"Aperio\"");
  }
  return std::nullopt;
}

// Aperio's layout (as OpenSlide reads it): tiled images are pyramid levels in file order; the
// second image is the thumbnail; other stripped images are named by the first word of their
// description's second line ("label", "macro").
void open_aperio(const TiffFile& tf, Slide::Impl& s) {
  std::vector<const Ifd*> levels;
  std::vector<std::pair<const Ifd*, std::string>> associated;
  const auto& ifds = tf.ifds();
  for (size_t i = 0; i < ifds.size(); ++i) {
    auto name = aperio_associated_name(description_of(tf, ifds[i]));
    bool named_associated = i > 0 && name && (*name == "label" || *name == "macro");
    if (is_tiled(ifds[i]) && !named_associated) {
      levels.push_back(&ifds[i]);
    } else if (i == 1) {
      associated.emplace_back(&ifds[i], "thumbnail");
    } else if (name) {
      associated.emplace_back(&ifds[i], *name);
    }
  }
  add_levels(tf, levels, s, false);
  for (const auto& [ifd, name] : associated) add_associated(tf, *ifd, name, s);

  auto props = aperio_properties(description_of(tf, ifds.front()));
  if (auto it = props.find("aperio.MPP"); it != props.end()) {
    s.mpp_x = s.mpp_y = parse_double(it->second);
  }
  if (auto it = props.find("aperio.AppMag"); it != props.end()) {
    s.objective_power = parse_double(it->second);
  }
  s.properties.insert(props.begin(), props.end());
}

// --- ome-tiff -------------------------------------------------------------------------------

std::optional<std::string> detect_ome(const TiffFile& tf) {
  if (!is_ome_xml(description_of(tf, tf.ifds().front()))) {
    return std::string("the first ImageDescription is not OME-XML");
  }
  if (auto why = first_ifd_untiled(tf)) return why;
  return std::nullopt;
}

void set_resolution_mpp(const TiffFile& tf, Slide::Impl& s) {
  const Ifd& first = tf.ifds().front();
  uint64_t unit = tf.get_uint(first, tag::resolution_unit).value_or(2);
  // libtiff keeps resolutions as float; OpenSlide divides by that float.
  auto as_float = [](std::optional<double> v) -> std::optional<double> {
    if (!v) return v;
    return static_cast<double>(static_cast<float>(*v));
  };
  if (auto x = as_float(tf.get_real(first, tag::x_resolution)))
    s.mpp_x = resolution_to_mpp(*x, unit);
  if (auto y = as_float(tf.get_real(first, tag::y_resolution)))
    s.mpp_y = resolution_to_mpp(*y, unit);
}

// OME-TIFF: the pyramid is the first image and its SubIFDs; other OME images named label,
// macro or thumbnail are associated images.
void open_ome(const TiffFile& tf, Slide::Impl& s) {
  const auto& ifds = tf.ifds();
  OmeMetadata meta = parse_ome_xml(description_of(tf, ifds.front()));
  // A slide is one plane: channels stored as separate planes, z-stacks and time series would
  // show only their first plane, so they are refused rather than half read.
  uint64_t spp = tf.get_uint(ifds.front(), tag::samples_per_pixel).value_or(1);
  uint64_t planes_c = spp > 0 && meta.size_c % spp == 0 ? meta.size_c / spp : meta.size_c;
  if (planes_c > 1 || meta.size_z > 1 || meta.size_t > 1) {
    throw Error(ErrorKind::unsupported,
                "OME-TIFF image with " + std::to_string(meta.size_c) + " channels (" +
                    std::to_string(spp) + " per plane), " + std::to_string(meta.size_z) +
                    " z-sections and " + std::to_string(meta.size_t) +
                    " time points: slidestream reads single-plane (RGB or grey) images");
  }
  std::vector<const Ifd*> levels{&ifds.front()};
  for (const Ifd& sub : ifds.front().sub_ifds) {
    if (is_tiled(sub)) levels.push_back(&sub);
  }
  add_levels(tf, levels, s, true);

  for (size_t i = 1; i < meta.images.size(); ++i) {
    std::string name = lower(meta.images[i].name);
    int64_t index = meta.images[i].first_ifd;
    if ((name == "label" || name == "macro" || name == "thumbnail") && index > 0 &&
        static_cast<size_t>(index) < ifds.size()) {
      add_associated(tf, ifds[static_cast<size_t>(index)], name, s);
    }
  }
  s.mpp_x = meta.mpp_x;
  s.mpp_y = meta.mpp_y;
  if (!s.mpp_x && !s.mpp_y) set_resolution_mpp(tf, s);
  s.objective_power = meta.objective_power;
}

// --- generic-tiff ---------------------------------------------------------------------------

std::optional<std::string> detect_generic(const TiffFile& tf) {
  return first_ifd_untiled(tf);
}

// Levels: the first image, the tiled reduced-resolution images of the main chain (OpenSlide's
// rule), and the tiled SubIFDs of the first image (the pyramids tifffile and vips --subifd
// write), largest first.
void open_generic(const TiffFile& tf, Slide::Impl& s) {
  const auto& ifds = tf.ifds();
  std::vector<const Ifd*> levels{&ifds.front()};
  for (size_t i = 1; i < ifds.size(); ++i) {
    uint64_t subfile = tf.get_uint(ifds[i], tag::new_subfile_type).value_or(0);
    if (is_tiled(ifds[i]) && (subfile & 1) != 0) levels.push_back(&ifds[i]);
  }
  for (const Ifd& sub : ifds.front().sub_ifds) {
    if (is_tiled(sub)) levels.push_back(&sub);
  }
  add_levels(tf, levels, s, true);
  set_resolution_mpp(tf, s);
}

constexpr std::array<SlideFormat, 3> kFormats = {{
    {"aperio", detect_aperio, open_aperio},
    {"ome-tiff", detect_ome, open_ome},
    {"generic-tiff", detect_generic, open_generic},
}};

// Properties every format shares, in OpenSlide's names (openslide-decode-tiff.c's
// _openslide_tiff_init_properties_and_hash and openslide.c's level properties).
// openslide.quickhash-1 is left out: it hashes the lowest level's raw tiles with SHA-256 and
// no consumer of ours needs it.
void add_common_properties(const TiffFile& tf, Slide::Impl& s) {
  auto& p = s.properties;
  const Ifd& first = tf.ifds().front();
  p["openslide.vendor"] = s.format;
  if (auto d = tf.get_string(first, tag::image_description)) {
    p["openslide.comment"] = *d;
    p["tiff.ImageDescription"] = *d;
  }
  static constexpr std::array<std::pair<uint16_t, const char*>, 8> kStrings = {{
      {tag::make, "tiff.Make"},
      {tag::model, "tiff.Model"},
      {tag::software, "tiff.Software"},
      {tag::date_time, "tiff.DateTime"},
      {tag::artist, "tiff.Artist"},
      {tag::host_computer, "tiff.HostComputer"},
      {tag::copyright, "tiff.Copyright"},
      {tag::document_name, "tiff.DocumentName"},
  }};
  for (const auto& [t, name] : kStrings) {
    if (auto v = tf.get_string(first, t)) p[name] = *v;
  }
  if (auto x = tf.get_real(first, tag::x_resolution)) {
    p["tiff.XResolution"] = format_double(static_cast<float>(*x));
  }
  if (auto y = tf.get_real(first, tag::y_resolution)) {
    p["tiff.YResolution"] = format_double(static_cast<float>(*y));
  }
  uint64_t unit = tf.get_uint(first, tag::resolution_unit).value_or(2);
  p["tiff.ResolutionUnit"] = unit == 1   ? "none"
                             : unit == 2 ? "inch"
                             : unit == 3 ? "centimeter"
                                         : "unknown";

  p["openslide.level-count"] = std::to_string(s.levels.size());
  for (const Level& lv : s.levels) {
    std::string prefix = "openslide.level[" + std::to_string(lv.index) + "].";
    p[prefix + "width"] = std::to_string(lv.width);
    p[prefix + "height"] = std::to_string(lv.height);
    p[prefix + "downsample"] = format_double(lv.downsample);
    p[prefix + "tile-width"] = std::to_string(lv.tile_width);
    p[prefix + "tile-height"] = std::to_string(lv.tile_height);
  }
  if (s.mpp_x) p["openslide.mpp-x"] = format_double(*s.mpp_x);
  if (s.mpp_y) p["openslide.mpp-y"] = format_double(*s.mpp_y);
  if (s.objective_power) p["openslide.objective-power"] = format_double(*s.objective_power);
}

}  // namespace

std::span<const SlideFormat> slide_formats() {
  return kFormats;
}

void open_slide(Slide::Impl& s) {
  TiffFile tf(s.file, s.file_size);
  std::string reasons;
  for (const SlideFormat& format : kFormats) {
    auto why = format.detect(tf);
    if (why) {
      reasons += std::string(reasons.empty() ? "" : "; ") + format.name + ": " + *why;
      s.refused_formats.emplace_back(format.name, *why);
      continue;
    }
    s.format = format.name;
    format.open(tf, s);
    if (s.levels.empty()) {
      throw Error(ErrorKind::unsupported, s.format + " slide without a tiled pyramid level");
    }
    // OpenSlide's downsample: the mean of the width and height ratios to level 0.
    const Level& base = s.levels.front();
    for (Level& lv : s.levels) {
      lv.downsample = (static_cast<double>(base.height) / static_cast<double>(lv.height) +
                       static_cast<double>(base.width) / static_cast<double>(lv.width)) /
                      2.0;
    }
    add_common_properties(tf, s);
    return;
  }
  throw Error(ErrorKind::unsupported, "no slide format reads this TIFF (" + reasons + ")");
}

}  // namespace slidestream::tiff
