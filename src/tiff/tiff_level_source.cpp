// Loading a TIFF image's tile source from its IFD, one step per concern: geometry, sample
// format, codec, tile grid, tile table. Every value is checked against the file, so that the
// readers can trust the source's answers.
#include "tiff/tiff_level_source.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "slidestream/error.hpp"

namespace slidestream::tiff {
namespace {

// A tile side beyond this is not a slide tile; it would only make a decoder allocate gigabytes.
constexpr uint64_t kMaxTileSide = 65536;
// Decoded bytes of one tile or strip: 1 GiB is far beyond any real file (4096² RGBA float is
// 256 MiB) and keeps a hostile header from asking a decoder for terabytes.
constexpr uint64_t kMaxTileBytes = uint64_t{1} << 30;
constexpr uint64_t kMaxSamplesPerPixel = 64;
constexpr uint64_t kMaxDimension = std::numeric_limits<uint32_t>::max();

Error ifd_error(ErrorKind kind, const Ifd& ifd, const std::string& cause) {
  return Error(kind, "IFD at offset " + std::to_string(ifd.offset) + ": " + cause);
}

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return a / b + (a % b != 0);
}

bool is_tiled_ifd(const Ifd& ifd) {
  return ifd.find(tag::tile_width) != nullptr || ifd.find(tag::tile_offsets) != nullptr;
}

void read_size(const TiffFile& tf, const Ifd& ifd, Level& lv) {
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
}

// SamplesPerPixel, BitsPerSample and SampleFormat, as the data type readers deliver.
void read_samples(const TiffFile& tf, const Ifd& ifd, Level& lv) {
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
}

// Compression, photometric, planar configuration, predictor and YCbCr subsampling.
void read_codec(const TiffFile& tf, const Ifd& ifd, Level& lv, codec::TileFormat& f) {
  lv.compression = static_cast<Compression>(
      static_cast<uint16_t>(tf.get_uint(ifd, tag::compression).value_or(1)));
  lv.photometric = static_cast<uint16_t>(
      tf.get_uint(ifd, tag::photometric).value_or(lv.samples_per_pixel >= 3 ? 2 : 1));
  uint64_t planar = tf.get_uint(ifd, tag::planar_configuration).value_or(1);
  if (planar != 1 && planar != 2) {
    throw ifd_error(ErrorKind::format, ifd,
                    "PlanarConfiguration is " + std::to_string(planar) + " (must be 1 or 2)");
  }
  lv.planar_configuration = static_cast<uint16_t>(planar);
  lv.predictor = static_cast<uint16_t>(tf.get_uint(ifd, tag::predictor).value_or(1));
  std::array<uint16_t, 2> subsampling{2, 2};
  if (auto sub = tf.get_uints(ifd, tag::ycbcr_subsampling, 2); sub.size() == 2) {
    for (size_t i = 0; i < 2; ++i) {
      if (sub[i] != 1 && sub[i] != 2 && sub[i] != 4) {
        throw ifd_error(ErrorKind::format, ifd,
                        "YCbCrSubSampling value " + std::to_string(sub[i]) + " is not 1, 2 or 4");
      }
      subsampling[i] = static_cast<uint16_t>(sub[i]);
    }
  }
  f.compression = lv.compression;
  f.photometric = lv.photometric;
  f.samples_per_pixel = lv.planar_configuration == 2 ? 1 : lv.samples_per_pixel;
  f.bits_per_sample = lv.bits_per_sample;
  f.sample_format = lv.sample_format;
  f.predictor = lv.predictor;
  f.ycbcr_subsampling_h = subsampling[0];
  f.ycbcr_subsampling_v = subsampling[1];
  f.big_endian = tf.big_endian();
}

// The tile (or strip) grid, bounded so that no tile decodes to more than kMaxTileBytes.
void read_grid(const TiffFile& tf, const Ifd& ifd, bool tiled, Level& lv) {
  const uint64_t width = static_cast<uint64_t>(lv.width), height = static_cast<uint64_t>(lv.height);
  uint64_t tw = 0, th = 0;
  if (tiled) {
    auto w = tf.get_uint(ifd, tag::tile_width), h = tf.get_uint(ifd, tag::tile_length);
    if (!w || !h) {
      throw ifd_error(ErrorKind::format, ifd, "tiled, but TileWidth/TileLength missing");
    }
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
    uint64_t rows = tf.get_uint(ifd, tag::rows_per_strip).value_or(height);
    if (rows == 0) throw ifd_error(ErrorKind::format, ifd, "RowsPerStrip is 0");
    tw = width;
    th = std::min(rows, height);
  }
  const uint64_t tile_bytes_limit =
      kMaxTileBytes /
      (size_of(lv.dtype) * (lv.planar_configuration == 2 ? 1 : lv.samples_per_pixel));
  if (tw > tile_bytes_limit / th) {
    throw ifd_error(ErrorKind::limit, ifd,
                    std::string(tiled ? "tile" : "strip") + " of " + std::to_string(tw) + " x " +
                        std::to_string(th) + " pixels would decode to more than 1 GiB");
  }
  lv.tile_width = static_cast<uint32_t>(tw);
  lv.tile_height = static_cast<uint32_t>(th);
  lv.tiles_across = static_cast<int64_t>(ceil_div(width, tw));
  lv.tiles_down = static_cast<int64_t>(ceil_div(height, th));
}

// The offset and byte-count tables: one entry per tile per plane, each range inside the file.
TiffLevelSource::Tables read_tables(const TiffFile& tf, const Ifd& ifd, bool tiled,
                                    const Level& lv) {
  const uint64_t planes = lv.planar_configuration == 2 ? lv.samples_per_pixel : 1;
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
      std::string geometry = std::to_string(lv.width) + " x " + std::to_string(lv.height) +
                             " image in " + std::to_string(lv.tile_width) + " x " +
                             std::to_string(lv.tile_height) + (tiled ? " tiles" : " strips");
      if (planes > 1) geometry += " of " + std::to_string(planes) + " planes";
      throw ifd_error(ErrorKind::format, ifd,
                      tag_name(e->tag) + " has " + std::to_string(e->count) + " entries, but a " +
                          geometry + " needs " +
                          std::to_string(static_cast<uint64_t>(
                              std::min<unsigned __int128>(expected_wide, UINT64_MAX))));
    }
  }
  const uint64_t expected = static_cast<uint64_t>(expected_wide);
  TiffLevelSource::Tables t;
  t.ifd_offset = ifd.offset;
  t.offsets = tf.get_uints(ifd, offsets_tag, expected);
  t.byte_counts = tf.get_uints(ifd, counts_tag, expected);
  const uint64_t size = tf.file_size();
  for (uint64_t i = 0; i < expected; ++i) {
    uint64_t off = t.offsets[i], count = t.byte_counts[i];
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
  return t;
}

}  // namespace

std::shared_ptr<TiffLevelSource> TiffLevelSource::load(
    const TiffFile& tf, const Ifd& ifd, std::shared_ptr<const source::ByteStore> store) {
  Level lv;
  codec::TileFormat format;
  read_size(tf, ifd, lv);
  read_samples(tf, ifd, lv);
  read_codec(tf, ifd, lv, format);
  const bool tiled = is_tiled_ifd(ifd);
  read_grid(tf, ifd, tiled, lv);
  format.width = lv.tile_width;
  format.height = lv.tile_height;
  Tables tables = read_tables(tf, ifd, tiled, lv);
  return std::make_shared<TiffLevelSource>(lv, format, tf.get_bytes(ifd, tag::jpeg_tables),
                                           std::move(tables), std::move(store), !tiled);
}

TiffLevelSource::TiffLevelSource(const Level& layout, const codec::TileFormat& format,
                                 std::vector<std::byte> jpeg_tables, Tables tables,
                                 std::shared_ptr<const source::ByteStore> store, bool strips)
    : LevelSource(layout, format, std::move(jpeg_tables), {std::move(store)}, strips),
      offsets_(std::move(tables.offsets)),
      byte_counts_(std::move(tables.byte_counts)),
      ifd_offset_(tables.ifd_offset),
      per_plane_(static_cast<size_t>(layout.tiles_across * layout.tiles_down)) {}

source::TileBytes TiffLevelSource::tile(int64_t col, int64_t row, int plane) const {
  const size_t i = static_cast<size_t>(plane) * per_plane_ +
                   static_cast<size_t>(row * layout().tiles_across + col);
  if (i >= byte_counts_.size() || byte_counts_[i] == 0) return {};
  return source::TileBytes({offsets_[i], byte_counts_[i], 0});
}

}  // namespace slidestream::tiff
