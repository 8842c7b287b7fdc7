#include "read/region_reader.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "codec/tile_decoder.hpp"
#include "core/thread_pool.hpp"
#include "slidestream/error.hpp"

namespace slidestream::read {
namespace {

// A compressed tile larger than this many times its decoded size (plus slack for headers) is not
// a tile but a damaged byte count; refusing it bounds the allocation by the image, not the file.
constexpr uint64_t kMaxExpansion = 4;
constexpr uint64_t kHeaderSlack = 1 << 20;
// No TIFF writer makes tiles or strips this large; a header claiming so is damaged.
constexpr uint64_t kMaxTileBytes = uint64_t{1} << 30;

const char* decoder_name(Compression c) {
  switch (c) {
    case Compression::none:
      return "none";
    case Compression::jpeg:
      return "libjpeg-turbo";
    case Compression::deflate:
    case Compression::adobe_deflate:
      return "libdeflate";
    case Compression::lzw:
      return "lzw";
    case Compression::zstd:
      return "zstd";
    case Compression::jpeg2000:
    case Compression::jpeg2000_aperio_rgb:
    case Compression::jpeg2000_aperio_ycbcr:
    case Compression::jpeg2000_vips:
      return "openjpeg";
    default:
      return "unknown";
  }
}

ErrorContext context_of(const RegionSource& s, int64_t tile = -1, int64_t offset = -1) {
  return ErrorContext{s.file, s.level_index, tile, offset};
}

// Per-thread buffers, grown on demand and reused for every tile the thread decodes.
struct Scratch {
  std::vector<std::byte> encoded;
  std::vector<std::byte> tile;
  std::vector<std::byte> plane;
  std::vector<std::byte> oversized;  // a decoded tile larger than the grid, before its crop
  std::vector<std::byte> skipped;    // the columns of an uncompressed tile a region does not want
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

void ensure(std::vector<std::byte>& buffer, size_t bytes) {
  if (buffer.size() < bytes) {
    buffer.clear();
    buffer.shrink_to_fit();
    buffer.resize(bytes);
  }
}

// Reads `rows` rows of dest.row_bytes() each, stored back to back at `offset`, into dest's rows
// with preadv (up to IOV_MAX rows per call).
void read_rows_direct(const io::File& file, uint64_t offset, const ImageView& dest, uint32_t rows) {
  const size_t row_bytes = dest.row_bytes();
  const int fd = file.fd();
  std::vector<iovec> iov;
  uint32_t row = 0;
  size_t done_in_row = 0;  // bytes of `row` already read (a short read can stop mid-row)
  while (row < rows) {
    iov.clear();
    for (uint32_t r = row; r < rows && iov.size() < static_cast<size_t>(IOV_MAX); ++r) {
      size_t skip = r == row ? done_in_row : 0;
      iov.push_back({dest.row(r) + skip, row_bytes - skip});
    }
    ssize_t n = ::preadv(fd, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::io, std::string("read failed: ") + std::strerror(errno),
                  ErrorContext{{}, -1, -1, static_cast<int64_t>(offset)});
    }
    if (n == 0) {
      throw Error(ErrorKind::format, "file ends inside tile data",
                  ErrorContext{{}, -1, -1, static_cast<int64_t>(offset)});
    }
    offset += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (left > 0) {
      size_t want = row_bytes - done_in_row;
      if (left >= want) {
        left -= want;
        done_in_row = 0;
        ++row;
      } else {
        done_in_row += left;
        left = 0;
      }
    }
  }
}

// Uncompressed samples in host order whose rows are exactly dest's: the file's rows can go
// straight into the destination rows.
bool rows_are_pixels(const codec::TileFormat& format, const ImageView& dest) {
  const bool host_order =
      format.bits_per_sample == 8 || format.big_endian == (std::endian::native == std::endian::big);
  return format.compression == Compression::none && format.predictor == 1 && host_order &&
         dest.row_bytes() ==
             size_t{format.width} * format.samples_per_pixel * (format.bits_per_sample / 8u);
}

// The part of an uncompressed tile a region wants, read straight from the file into `dest`
// (dest.width x dest.height pixels from column `col`, row `row` of tile (tx, ty)): one preadv
// whose vectors put each wanted row slice into its destination row and the columns around it
// into a small scratch, so a 256² patch over a 512² tile moves its rows once instead of the
// whole tile being read and then cut. Returns false (nothing decided, the caller takes the
// general path, which also reports any error) where the tile is not one plain range of
// host-order samples in one file, or a read comes short.
bool read_uncompressed_part(const RegionSource& s, int64_t tx, int64_t ty, int64_t col, int64_t row,
                            const ImageView& dest, uint64_t& bytes_read) {
  if (s.tiles.planes() != 1 || s.tiles.strips()) return false;
  const io::File* file = s.tiles.single_file();
  if (file == nullptr) return false;
  codec::TileFormat format = s.tiles.format();
  format.height = s.tiles.decoded_rows(ty);
  ImageView tile_rows = dest;
  tile_rows.width = format.width;
  if (!rows_are_pixels(format, tile_rows) || row + dest.height > format.height) return false;
  const source::TileBytes bytes = s.tiles.tile(tx, ty, 0);
  const size_t tile_row = tile_rows.row_bytes();
  if (bytes.missing() || !bytes.single() || bytes.size() < tile_row * format.height ||
      !source::within_stores(s.tiles, bytes)) {
    return false;
  }
  const size_t before = static_cast<size_t>(col) * dest.pixel_bytes();
  const size_t wanted = dest.row_bytes();
  const size_t after = tile_row - before - wanted;
  Scratch& sc = scratch();
  ensure(sc.skipped, std::max(before, after));
  constexpr int64_t kRowsPerCall = IOV_MAX / 3;
  std::vector<iovec> iov;
  for (int64_t first = 0; first < dest.height; first += kRowsPerCall) {
    const int64_t last = std::min(dest.height, first + kRowsPerCall);
    iov.clear();
    for (int64_t r = first; r < last; ++r) {
      if (before > 0) iov.push_back({sc.skipped.data(), before});
      iov.push_back({dest.row(r), wanted});
      if (after > 0) iov.push_back({sc.skipped.data(), after});
    }
    const uint64_t offset =
        bytes.front().offset + static_cast<uint64_t>(row + first) * tile_row + before;
    // The first row's leading columns and the last row's trailing ones are not read.
    if (before > 0) iov.erase(iov.begin());
    if (after > 0) iov.pop_back();
    const size_t want = static_cast<size_t>(last - first) * tile_row - before - after;
    const ssize_t n =
        ::preadv(file->fd(), iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
    if (n < 0 || static_cast<size_t>(n) != want) return false;
    bytes_read += want;
  }
  return true;
}

// Decodes `encoded` into dest, cropping a decoded tile larger than the grid to its top-left.
void decode_into(std::span<const std::byte> encoded, const codec::TileFormat& format,
                 const ImageView& dest) {
  if (format.width == dest.width) {
    codec::decode_tile(encoded, format, dest);
    return;
  }
  ImageView whole = dest;
  whole.width = format.width;
  whole.height = format.height;
  whole.row_pitch = whole.row_bytes();
  Scratch& sc = scratch();
  ensure(sc.oversized, whole.tight_bytes());
  whole.data = sc.oversized.data();
  codec::decode_tile(encoded, format, whole);
  const int64_t rows = std::min<int64_t>(dest.height, format.height);
  for (int64_t y = 0; y < rows; ++y) std::memcpy(dest.row(y), whole.row(y), dest.row_bytes());
}

// Decodes one stored tile (one plane of it when planar) into `dest`, which has the stored
// tile's samples per pixel. Returns the bytes read from the stores.
uint64_t decode_stored_tile(const RegionSource& s, const codec::TileFormat& format, int64_t tx,
                            int64_t ty, int plane, const ImageView& dest, uint8_t fill) {
  const Level& l = s.layout();
  const int64_t tile_index = (plane * l.tiles_down + ty) * l.tiles_across + tx;
  const source::TileBytes bytes = s.tiles.tile(tx, ty, plane);
  if (bytes.missing()) {
    // A missing tile (a TIFF byte count of 0): OpenSlide draws nothing there, i.e. transparent
    // black.
    fill_view(dest, fill);
    return 0;
  }
  const uint64_t count = bytes.size();
  ErrorContext where = context_of(s, tile_index, static_cast<int64_t>(bytes.where()));
  if (!source::within_stores(s.tiles, bytes)) {
    throw Error(ErrorKind::format,
                "tile data (" + std::to_string(count) + " bytes) runs past the end of its file",
                where);
  }
  // A scaled JPEG decode (NDPI's derived levels) reads a full-size tile's stream.
  const uint64_t scale = format.jpeg_scale_denom;
  const uint64_t decoded = static_cast<uint64_t>(dest.row_bytes()) * format.height * scale * scale;
  if (count > decoded * kMaxExpansion + kHeaderSlack) {
    throw Error(ErrorKind::limit,
                "tile byte count " + std::to_string(count) + " is implausible for a " +
                    std::to_string(decoded) + "-byte tile",
                where);
  }
  const io::File* file = s.tiles.single_file();
  if (file != nullptr && bytes.single() && count >= decoded && rows_are_pixels(format, dest)) {
    // Uncompressed: the file's rows go straight into the destination rows (one copy, from the
    // page cache), no staging buffer.
    try {
      read_rows_direct(*file, bytes.front().offset, dest, format.height);
    } catch (const Error& e) {
      throw e.with_context(where);
    }
    return decoded;
  }
  try {
    Scratch& sc = scratch();
    ensure(sc.encoded, count);
    std::span<std::byte> encoded{sc.encoded.data(), count};
    source::read_tile_bytes(s.tiles, bytes, encoded);
    decode_into(encoded, format, dest);
  } catch (const Error& e) {
    throw e.with_context(where);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::out_of_memory, "cannot allocate tile buffers", where);
  }
  return count;
}

// Decodes tile (tx, ty) into `dest` (tile_width wide, at least `rows` tall, interleaved), all
// planes. Returns the bytes read.
uint64_t decode_tile_at(const RegionSource& s, int64_t tx, int64_t ty, const ImageView& dest,
                        uint8_t fill) {
  codec::TileFormat format = s.tiles.format();
  format.height = s.tiles.decoded_rows(ty);
  const int planes = s.tiles.planes();
  if (planes == 1) return decode_stored_tile(s, format, tx, ty, 0, dest, fill);

  // Planar configuration 2: one stored tile per sample; decode each, then interleave.
  ImageView plane_view = dest;
  plane_view.channels = 1;
  plane_view.row_pitch = plane_view.row_bytes();
  const size_t plane_bytes = plane_view.row_pitch * static_cast<size_t>(format.height);
  Scratch& sc = scratch();
  ensure(sc.plane, plane_bytes);
  plane_view.data = sc.plane.data();
  plane_view.height = std::min<int64_t>(format.height, dest.height);
  const size_t sample = size_of(dest.dtype);
  const size_t pixel = dest.pixel_bytes();
  uint64_t bytes = 0;
  for (int p = 0; p < planes; ++p) {
    bytes += decode_stored_tile(s, format, tx, ty, p, plane_view, fill);
    for (int64_t y = 0; y < plane_view.height; ++y) {
      const std::byte* src = plane_view.row(y);
      std::byte* dst = dest.row(y) + p * sample;
      for (int64_t x = 0; x < dest.width; ++x) {
        std::memcpy(dst + x * pixel, src + x * sample, sample);
      }
    }
  }
  return bytes;
}

void fill_rect(const ImageView& out, int64_t x, int64_t y, int64_t w, int64_t h, uint8_t value) {
  if (w <= 0 || h <= 0) return;
  fill_view(out.crop(x, y, w, h), value);
}

}  // namespace

uint64_t decode_tile(const RegionSource& source, int64_t tx, int64_t ty, const ImageView& dest,
                     uint8_t fill) {
  return decode_tile_at(source, tx, ty, dest, fill);
}

int64_t decoded_tile_rows(const RegionSource& s) {
  const Level& l = s.layout();
  const int64_t rows = s.tiles.strips() ? std::min<int64_t>(l.tile_height, l.height)
                                        : static_cast<int64_t>(l.tile_height);
  const uint64_t bytes = uint64_t{l.tile_width} * static_cast<uint64_t>(rows) *
                         static_cast<uint64_t>(l.channels) * size_of(l.dtype);
  if (bytes > kMaxTileBytes) {
    throw Error(ErrorKind::limit,
                "tiles of " + std::to_string(l.tile_width) + " x " + std::to_string(rows) +
                    " are too large",
                context_of(s));
  }
  return rows;
}

void fill_view(const ImageView& view, uint8_t value) {
  if (view.width <= 0 || view.height <= 0) return;
  const size_t row = view.row_bytes();
  if (view.dtype == DataType::uint8 || value == 0) {
    for (int64_t y = 0; y < view.height; ++y) std::memset(view.row(y), value, row);
    return;
  }
  // Wider samples hold the value itself (255 stays 255, not 65535).
  std::byte sample[4];
  size_t n = size_of(view.dtype);
  if (view.dtype == DataType::uint16) {
    uint16_t v = value;
    std::memcpy(sample, &v, 2);
  } else if (view.dtype == DataType::uint32) {
    uint32_t v = value;
    std::memcpy(sample, &v, 4);
  } else {
    float v = value;
    std::memcpy(sample, &v, 4);
  }
  for (int64_t y = 0; y < view.height; ++y) {
    std::byte* p = view.row(y);
    for (size_t i = 0; i < row; i += n) std::memcpy(p + i, sample, n);
  }
}

std::string output_view_problem(const Level& l, Device device, int64_t width, int64_t height,
                                const ImageView& out) {
  if (out.device != device) {
    return device == Device::cpu ? "the output view is not in host memory"
                                 : "the output view is not in GPU memory";
  }
  if (out.channels != l.channels || out.dtype != l.dtype) {
    return "the output view has " + std::to_string(out.channels) + " x " +
           std::string(to_string(out.dtype)) + ", the image " + std::to_string(l.channels) + " x " +
           std::string(to_string(l.dtype));
  }
  if (out.width < width || out.height < height) {
    return "the output view (" + std::to_string(out.width) + " x " + std::to_string(out.height) +
           ") is smaller than the region (" + std::to_string(width) + " x " +
           std::to_string(height) + ")";
  }
  if (out.row_pitch < out.row_bytes()) return "the output view's row pitch is smaller than a row";
  if (out.data == nullptr && width > 0 && height > 0) return "the output view has no data";
  return {};
}

void check_output(const RegionSource& s, int64_t width, int64_t height, const ImageView& out) {
  std::string problem = output_view_problem(s.layout(), Device::cpu, width, height, out);
  if (!problem.empty()) throw Error(ErrorKind::invalid_argument, problem, context_of(s));
}

void read_full_tile(const RegionSource& s, int64_t tx, int64_t ty, const ImageView& out,
                    const ReadOptions& options, ReadReport* report) {
  ImageView dest = out;
  dest.width = s.layout().tile_width;
  dest.height = s.layout().tile_height;
  uint64_t bytes = decode_tile_at(s, tx, ty, dest, options.fill);
  if (report) {
    report->file_bytes += bytes;
    report->pixel_bytes += dest.tight_bytes();
    report->io_path = "posix";
    report->decoder = decoder_name(s.layout().compression);
  }
}

void read_area(const RegionSource& s, int64_t x, int64_t y, int64_t width, int64_t height,
               const ImageView& out, const ReadOptions& options, ReadReport* report) {
  const Level& l = s.layout();
  const bool strips = s.tiles.strips();
  if (width <= 0 || height <= 0) return;
  const int64_t tw = l.tile_width;
  const int64_t th = l.tile_height;
  if (tw <= 0 || th <= 0) {
    throw Error(ErrorKind::format, "image has no tile size", context_of(s));
  }
  const ImageView region = out.crop(0, 0, width, height);

  // The part of the region inside the image; the rest gets the fill value.
  const int64_t x0 = std::clamp<int64_t>(x, 0, l.width);
  const int64_t x1 = std::clamp<int64_t>(x + width, 0, l.width);
  const int64_t y0 = std::clamp<int64_t>(y, 0, l.height);
  const int64_t y1 = std::clamp<int64_t>(y + height, 0, l.height);
  if (x0 >= x1 || y0 >= y1) {
    fill_view(region, options.fill);
  } else {
    fill_rect(region, 0, 0, width, y0 - y, options.fill);                      // above
    fill_rect(region, 0, y1 - y, width, y + height - y1, options.fill);        // below
    fill_rect(region, 0, y0 - y, x0 - x, y1 - y0, options.fill);               // left
    fill_rect(region, x1 - x, y0 - y, x + width - x1, y1 - y0, options.fill);  // right
  }

  std::atomic<uint64_t> file_bytes{0};
  if (x0 < x1 && y0 < y1) {
    const int64_t tx0 = x0 / tw, tx1 = (x1 - 1) / tw;
    const int64_t ty0 = y0 / th, ty1 = (y1 - 1) / th;
    const int64_t across = tx1 - tx0 + 1;
    const size_t count = static_cast<size_t>(across * (ty1 - ty0 + 1));
    const size_t pixel = out.pixel_bytes();
    if (static_cast<uint64_t>(tw) * static_cast<uint64_t>(strips ? std::min(th, l.height) : th) *
            pixel >
        kMaxTileBytes) {
      throw Error(ErrorKind::limit,
                  "tiles of " + std::to_string(tw) + " x " + std::to_string(th) + " are too large",
                  context_of(s));
    }

    auto body = [&](size_t i) {
      const int64_t tx = tx0 + static_cast<int64_t>(i) % across;
      const int64_t ty = ty0 + static_cast<int64_t>(i) / across;
      const int64_t left = tx * tw, top = ty * th;
      // The part of this tile the region wants, in image coordinates.
      const int64_t ax0 = std::max(left, x0), ax1 = std::min(left + tw, x1);
      const int64_t ay0 = std::max(top, y0), ay1 = std::min(top + th, y1);
      const bool whole = ax0 == left && ax1 == left + tw && ay0 == top && ay1 == top + th;
      if (whole && !strips) {
        // The full tile lands inside the output: decode straight into it.
        ImageView dest = region.crop(left - x, top - y, tw, th);
        file_bytes += decode_tile_at(s, tx, ty, dest, options.fill);
        return;
      }
      uint64_t part_bytes = 0;
      if (read_uncompressed_part(s, tx, ty, ax0 - left, ay0 - top,
                                 region.crop(ax0 - x, ay0 - y, ax1 - ax0, ay1 - ay0), part_bytes)) {
        file_bytes += part_bytes;
        return;
      }
      ImageView tile;
      tile.width = tw;
      tile.height = strips ? std::min(th, l.height) : th;
      tile.channels = out.channels;
      tile.dtype = out.dtype;
      tile.row_pitch = tile.row_bytes();
      Scratch& sc = scratch();
      ensure(sc.tile, tile.tight_bytes());
      tile.data = sc.tile.data();
      file_bytes += decode_tile_at(s, tx, ty, tile, options.fill);
      const size_t bytes = static_cast<size_t>(ax1 - ax0) * pixel;
      for (int64_t yy = ay0; yy < ay1; ++yy) {
        std::memcpy(region.row(yy - y) + static_cast<size_t>(ax0 - x) * pixel,
                    tile.row(yy - top) + static_cast<size_t>(ax0 - left) * pixel, bytes);
      }
    };
    int threads = options.threads > 0 ? options.threads : hardware_threads();
    if (threads == 1 || count == 1) {
      for (size_t i = 0; i < count; ++i) body(i);
    } else {
      ThreadPool::shared().parallel_for(count, body, threads);
    }
  }
  if (report) {
    report->file_bytes += file_bytes.load();
    report->pixel_bytes += region.tight_bytes();
    report->io_path = "posix";
    report->decoder = decoder_name(l.compression);
  }
}

}  // namespace slidestream::read
