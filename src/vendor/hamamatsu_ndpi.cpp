// One NDPI directory as an image (hamamatsu_ndpi.hpp), step by step: the TIFF fields, the JPEG
// header, the pseudo-tile grid, the restart intervals.
#include "vendor/hamamatsu_ndpi.hpp"

#include <algorithm>
#include <utility>

#include "slidestream/error.hpp"
#include "vendor/hamamatsu_jpeg.hpp"

namespace slidestream::vendor::ndpi {
namespace {

// libjpeg's JPEG_MAX_DIMENSION: OpenSlide reads SOF sides beyond it, or 0, as this.
constexpr uint32_t kJpegMaxDimension = 65500;
// Decoded bytes of one pseudo-tile (or of a whole image without restart markers), as the TIFF
// sources bound a tile: beyond it a hostile header would make a decoder allocate gigabytes.
constexpr uint64_t kMaxTileBytes = uint64_t{1} << 30;
constexpr uint64_t kMaxSide = 0xFFFFFFFF;  // TIFF's LONG; NDPI's LONG8 sizes are hostile

Error dir_error(ErrorKind kind, int index, const std::string& cause) {
  return Error(kind, "NDPI directory " + std::to_string(index) + ": " + cause);
}

struct Stream {
  uint64_t start = 0, end = 0;  // the JPEG's bytes in the file
};

Stream read_stream(const tiff::TiffFile& tf, const tiff::Ifd& ifd, int index, Image& image) {
  auto width = tf.get_uint(ifd, tiff::tag::image_width);
  auto height = tf.get_uint(ifd, tiff::tag::image_length);
  if (!width || !height) throw dir_error(ErrorKind::format, index, "no ImageWidth/ImageLength");
  if (*width == 0 || *height == 0 || *width > kMaxSide || *height > kMaxSide) {
    throw dir_error(ErrorKind::limit, index,
                    "image is " + std::to_string(*width) + " x " + std::to_string(*height) +
                        " pixels (a side is 0 or beyond 2^32-1)");
  }
  const tiff::Entry* offsets = ifd.find(tiff::tag::strip_offsets);
  auto bytes = tf.get_uint(ifd, tiff::tag::strip_byte_counts);
  if (offsets == nullptr || !bytes) {
    throw dir_error(ErrorKind::format, index, "no StripOffsets/StripByteCounts");
  }
  if (offsets->count != 1) {
    throw dir_error(ErrorKind::format, index,
                    std::to_string(offsets->count) + " strips (an NDPI image is one JPEG)");
  }
  Stream s;
  s.start = *tf.get_uint(ifd, tiff::tag::strip_offsets);
  if (s.start > tf.file_size() || *bytes > tf.file_size() - s.start) {
    throw dir_error(ErrorKind::format, index,
                    "JPEG of " + std::to_string(*bytes) + " bytes at offset " +
                        std::to_string(s.start) + " runs past the end of the file (" +
                        std::to_string(tf.file_size()) + " bytes)");
  }
  s.end = s.start + *bytes;
  image.width = static_cast<int64_t>(*width);
  image.height = static_cast<int64_t>(*height);
  return s;
}

// The pseudo-tile size and the level's size, as validate_jpeg_header and hamamatsu_ndpi_open
// decide them.
void size_tiles(const JpegHeader& h, int index, Image& image) {
  const bool sides_valid = image.width <= kJpegMaxDimension && image.height <= kJpegMaxDimension;
  auto jpeg_side = [](uint16_t side) -> int64_t {
    return side == 0 || side > kJpegMaxDimension ? kJpegMaxDimension : side;
  };
  const int64_t jw = sides_valid ? jpeg_side(h.width) : image.width;
  const int64_t jh = sides_valid ? jpeg_side(h.height) : image.height;
  int64_t tw = jw, th = jh;
  if (h.restart_interval == 0) {
    if (!sides_valid) {
      throw dir_error(ErrorKind::unsupported, index,
                      "a side above 65,500 pixels needs restart markers, and the JPEG has none");
    }
  } else {
    const int64_t mcus_per_row = (jw + h.mcu_width - 1) / h.mcu_width;
    if (h.restart_interval > mcus_per_row || mcus_per_row % h.restart_interval != 0) {
      throw dir_error(ErrorKind::format, index,
                      "restart interval of " + std::to_string(h.restart_interval) +
                          " MCUs does not divide a row of " + std::to_string(mcus_per_row));
    }
    tw = int64_t{h.mcu_width} * h.restart_interval;
    th = h.mcu_height;
  }
  if (image.width != jw || image.height != jh) {
    if (jw != tw || jh != th) {
      throw dir_error(ErrorKind::format, index,
                      "TIFF says " + std::to_string(image.width) + " x " +
                          std::to_string(image.height) + ", its JPEG " + std::to_string(jw) +
                          " x " + std::to_string(jh));
    }
    image.width = jw;  // OpenSlide trusts the JPEG of an image without restart markers
    image.height = jh;
  }
  if (image.width % tw != 0) {
    // OpenSlide's grid counts whole tiles per row, and indexes its restart offsets by that
    // count: such a level would be drawn from the wrong intervals.
    throw dir_error(ErrorKind::unsupported, index,
                    "width " + std::to_string(image.width) + " is not a multiple of the " +
                        std::to_string(tw) + "-pixel restart interval");
  }
  if (static_cast<uint64_t>(tw) * static_cast<uint64_t>(th) * 3 > kMaxTileBytes) {
    throw dir_error(ErrorKind::limit, index,
                    "one tile of " + std::to_string(tw) + " x " + std::to_string(th) +
                        " pixels is more than 1 GiB decoded");
  }
  image.tile_width = static_cast<uint32_t>(tw);
  image.tile_height = static_cast<uint32_t>(th);
}

// Recorded restart offsets (relative to the stream), or nullopt where OpenSlide would scan for
// the markers instead: a count that is not the tile count, or values it cannot read.
std::optional<std::vector<uint64_t>> recorded_starts(const tiff::TiffFile& tf, const tiff::Ifd& ifd,
                                                     uint64_t count) {
  const tiff::Entry* low = ifd.find(tag::mcu_starts);
  const tiff::Entry* high = ifd.find(tag::mcu_starts_high);
  if (low == nullptr || low->count != count) return std::nullopt;
  if (high != nullptr && high->count != 0 && high->count != count) return std::nullopt;
  try {
    std::vector<uint64_t> starts = tf.get_uints(ifd, tag::mcu_starts, count);
    if (high != nullptr && high->count != 0) {
      std::vector<uint64_t> highs = tf.get_uints(ifd, tag::mcu_starts_high, count);
      for (size_t i = 0; i < starts.size(); ++i) starts[i] |= (highs[i] & 0xFFFFFFFF) << 32;
    }
    return starts;
  } catch (const Error&) {
    return std::nullopt;
  }
}

void check_starts(const std::vector<uint64_t>& starts, const Stream& s, int index) {
  for (size_t i = 1; i < starts.size(); ++i) {
    if (starts[i] > s.end || starts[i] < starts[i - 1] + 2) {
      throw dir_error(
          ErrorKind::format, index,
          "restart interval " + std::to_string(i - 1) + " at offset " +
              std::to_string(starts[i - 1]) + " ends at " + std::to_string(starts[i]) +
              (starts[i] > s.end ? ", past the end of its JPEG (" + std::to_string(s.end) + ")"
                                 : ", before it begins"));
    }
  }
}

std::shared_ptr<const Intervals> read_intervals(const tiff::TiffFile& tf,
                                                const source::ByteStore& file, const tiff::Ifd& ifd,
                                                const Stream& s, uint64_t data_start,
                                                const Image& image) {
  auto in = std::make_shared<Intervals>();
  in->across = image.width / image.tile_width;
  in->down = image.height / image.tile_height;
  const uint64_t count = static_cast<uint64_t>(in->across) * static_cast<uint64_t>(in->down);
  if (count == 0) throw dir_error(ErrorKind::format, image.directory, "no whole tile");
  // Each interval ends with a two-byte marker: more tiles than that cannot be in the stream.
  if (count > (s.end - data_start) / 2) {
    throw dir_error(ErrorKind::format, image.directory,
                    std::to_string(count) + " tiles cannot fit in a JPEG of " +
                        std::to_string(s.end - s.start) + " bytes");
  }
  // Nothing is allocated for `count` before the file shows that many offsets (the recorded
  // ones are values in the file; scanned ones are markers found): a lying size costs nothing.
  in->starts.push_back(data_start);  // OpenSlide ignores the first recorded offset too
  if (count > 1) {
    if (auto recorded = recorded_starts(tf, ifd, count)) {
      in->starts.reserve(recorded->size() + 1);
      for (size_t i = 1; i < recorded->size(); ++i) in->starts.push_back(s.start + (*recorded)[i]);
    } else {
      std::vector<uint64_t> found = scan_restart_markers(file, data_start, s.end, count - 1);
      if (found.size() != count - 1) {
        throw dir_error(ErrorKind::format, image.directory,
                        "found " + std::to_string(found.size()) + " restart markers of the " +
                            std::to_string(count - 1) + " its " + std::to_string(count) +
                            " tiles need");
      }
      in->starts.insert(in->starts.end(), found.begin(), found.end());
    }
  }
  if (image.height % image.tile_height == 0) {
    in->starts.push_back(s.end);
  } else {
    // A last, partial row of MCUs follows the grid (OpenSlide does not draw it): the last
    // tile ends at the next restart marker, not with the stream. (OpenSlide reads on to the end
    // and lets libjpeg warn about the extra bytes; our decoders stop at a warning.)
    std::vector<uint64_t> next = scan_restart_markers(file, in->starts.back(), s.end, 1);
    if (next.empty()) {
      throw dir_error(ErrorKind::format, image.directory,
                      "no restart marker after the last whole row of tiles");
    }
    in->starts.push_back(next.front());
  }
  check_starts(in->starts, s, image.directory);
  return in;
}

}  // namespace

std::optional<Image> read_image(const tiff::TiffFile& tf, const source::ByteStore& file,
                                const tiff::Ifd& ifd, int index) {
  Image image;
  image.directory = index;
  const Stream s = read_stream(tf, ifd, index, image);
  auto lens = tf.get_real(ifd, tag::source_lens);
  if (!lens) throw dir_error(ErrorKind::format, index, "no SourceLens (tag 65421)");
  if (*lens > 0) {
    auto plane = get_sint(tf, ifd, tag::focal_plane);
    if (!plane) throw dir_error(ErrorKind::format, index, "no focal plane (tag 65424)");
    if (*plane != 0) return std::nullopt;
  } else if (*lens == -1) {
    image.role = Role::macro;
  } else {
    return std::nullopt;  // the map, and whatever else a scanner stores
  }
  const std::string where = "NDPI directory " + std::to_string(index);
  JpegHeader h = read_jpeg_header(file, s.start, s.end, where);
  image.photometric = h.photometric;
  image.mcu_width = h.mcu_width;
  image.mcu_height = h.mcu_height;
  if (image.role == Role::macro) {
    // Read as OpenSlide reads associated JPEGs: the whole stream, its own frame size.
    if (h.width == 0 || h.height == 0) {
      throw dir_error(ErrorKind::format, index, "macro JPEG has a side of 0");
    }
    image.width = h.width;
    image.height = h.height;
    h.restart_interval = 0;  // one tile, restart markers and all
  }
  size_tiles(h, index, image);
  // A pseudo-tile is one restart interval: its header needs no DRI. A macro keeps its own.
  image.tile_header =
      tile_header(h, image.tile_width, image.tile_height, image.role == Role::level);
  image.intervals = read_intervals(tf, file, ifd, s, s.start + h.bytes.size(), image);
  return image;
}

std::shared_ptr<NdpiLevelSource> make_source(const Image& image,
                                             std::shared_ptr<const source::ByteStore> file) {
  const uint32_t d = static_cast<uint32_t>(image.scale);
  Level l;
  l.width = image.width / d;
  l.height = image.height / d;
  l.tile_width = image.tile_width / d;
  l.tile_height = image.tile_height / d;
  l.tiles_across = (l.width + l.tile_width - 1) / l.tile_width;
  l.tiles_down = (l.height + l.tile_height - 1) / l.tile_height;
  l.compression = Compression::jpeg;
  l.photometric = image.photometric;
  l.samples_per_pixel = 3;
  l.channels = 3;
  codec::TileFormat f;
  f.compression = Compression::jpeg;
  f.photometric = image.photometric;
  f.samples_per_pixel = 3;
  f.width = l.tile_width;
  f.height = l.tile_height;
  f.ycbcr_subsampling_h = static_cast<uint16_t>(image.mcu_width / 8);
  f.ycbcr_subsampling_v = static_cast<uint16_t>(image.mcu_height / 8);
  f.jpeg_scale_denom = static_cast<uint8_t>(d);
  return std::make_shared<NdpiLevelSource>(l, f, image.tile_header, std::move(file),
                                           image.intervals);
}

std::optional<int64_t> get_sint(const tiff::TiffFile& tf, const tiff::Ifd& ifd, uint16_t t) {
  const tiff::Entry* e = ifd.find(t);
  if (e == nullptr || e->count == 0) return std::nullopt;
  const bool is_signed = e->type == 6 || e->type == 8 || e->type == 9 || e->type == 17;
  const size_t size = tiff::type_size(e->type);
  const bool integer = is_signed || e->type == 1 || e->type == 3 || e->type == 4 || e->type == 16;
  if (!integer) {
    throw Error(ErrorKind::format, tiff::tag_name(t) + " of the IFD at offset " +
                                       std::to_string(ifd.offset) + " is not an integer");
  }
  tiff::Entry first = *e;
  first.count = 1;
  std::vector<std::byte> bytes = tf.value_bytes(ifd, first);
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) {
    const size_t at = tf.big_endian() ? i : size - 1 - i;
    v = (v << 8) | static_cast<uint8_t>(bytes[at]);
  }
  if (is_signed && size < 8 && (v >> (8 * size - 1)) != 0) v |= ~uint64_t{0} << (8 * size);
  return static_cast<int64_t>(v);
}

std::map<std::string, std::string> property_map(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find("\r\n", at);
    if (end == std::string::npos) end = text.size();
    const std::string record = text.substr(at, end - at);
    const size_t eq = record.find('=');
    if (eq != std::string::npos && eq > 0 && eq + 1 < record.size()) {
      out[record.substr(0, eq)] = record.substr(eq + 1);
    }
    at = end + 2;
  }
  return out;
}

}  // namespace slidestream::vendor::ndpi
