#include "cli/image_writers.hpp"

#include <png.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "slidestream/error.hpp"

namespace slidestream::cli {
namespace {

// A temporary path that becomes `target` on commit() and is removed otherwise.
class PendingFile {
 public:
  explicit PendingFile(const std::filesystem::path& target)
      : target_(target), temp_(target.string() + ".partial-" + std::to_string(::getpid())) {}
  ~PendingFile() {
    if (!committed_) {
      std::error_code ec;
      std::filesystem::remove(temp_, ec);
    }
  }
  const std::filesystem::path& temp() const { return temp_; }
  void commit() {
    std::error_code ec;
    std::filesystem::rename(temp_, target_, ec);
    if (ec)
      throw Error(ErrorKind::io, "cannot rename into place: " + ec.message(), {target_.string()});
    committed_ = true;
  }

 private:
  std::filesystem::path target_, temp_;
  bool committed_ = false;
};

struct FileCloser {
  void operator()(std::FILE* f) const noexcept {
    if (f) std::fclose(f);
  }
};

std::FILE* open_for_write(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    throw Error(ErrorKind::io, std::string("cannot create: ") + std::strerror(errno),
                {path.string()});
  }
  return f;
}

struct PngError {
  char message[256];
};

extern "C" void png_error_cb(png_structp png, png_const_charp msg) {
  auto* e = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(e->message, sizeof(e->message), "%s", msg);
  png_longjmp(png, 1);
}
extern "C" void png_warning_cb(png_structp, png_const_charp) {}

// Everything that can longjmp runs here, with no C++ objects in the frame.
bool png_encode(std::FILE* file, const ImageView* image, png_bytep* rows, PngError* err) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, err, png_error_cb, png_warning_cb);
  if (png == nullptr) {
    std::snprintf(err->message, sizeof(err->message), "cannot create a PNG writer");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, file);
  int color = image->channels == 1   ? PNG_COLOR_TYPE_GRAY
              : image->channels == 2 ? PNG_COLOR_TYPE_GRAY_ALPHA
              : image->channels == 3 ? PNG_COLOR_TYPE_RGB
                                     : PNG_COLOR_TYPE_RGB_ALPHA;
  int depth = image->dtype == DataType::uint16 ? 16 : 8;
  png_set_IHDR(png, info, static_cast<png_uint_32>(image->width),
               static_cast<png_uint_32>(image->height), depth, color, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 3);
  png_write_info(png, info);
  // PNG stores 16-bit samples big-endian.
  if (depth == 16 && std::endian::native == std::endian::little) png_set_swap(png);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

template <typename T>
void put(std::vector<uint8_t>& out, T value) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &value, sizeof(T));  // host order; the header says which ("II" or "MM")
  out.insert(out.end(), b, b + sizeof(T));
}

}  // namespace

void write_png(const std::filesystem::path& path, const ImageView& image) {
  if (image.dtype != DataType::uint8 && image.dtype != DataType::uint16) {
    throw Error(ErrorKind::unsupported,
                std::string("PNG holds 8- or 16-bit samples, not ") +
                    std::string(to_string(image.dtype)) + "; write a .tif instead",
                {path.string()});
  }
  if (image.channels < 1 || image.channels > 4 || image.width <= 0 || image.height <= 0 ||
      image.width > 0x7fffffff || image.height > 0x7fffffff) {
    throw Error(ErrorKind::invalid_argument, "cannot write this image as PNG", {path.string()});
  }
  PendingFile pending(path);
  std::unique_ptr<std::FILE, FileCloser> file(open_for_write(pending.temp()));
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (int64_t y = 0; y < image.height; ++y) rows[y] = reinterpret_cast<png_bytep>(image.row(y));
  PngError err{};
  if (!png_encode(file.get(), &image, rows.data(), &err)) {
    throw Error(ErrorKind::io, std::string("PNG: ") + err.message, {path.string()});
  }
  if (std::fflush(file.get()) != 0 || std::ferror(file.get())) {
    throw Error(errno == ENOSPC ? ErrorKind::disk_full : ErrorKind::io,
                std::string("write failed: ") + std::strerror(errno), {path.string()});
  }
  file.reset();
  pending.commit();
}

void write_tiff(const std::filesystem::path& path, const ImageView& image) {
  if (image.width <= 0 || image.height <= 0 || image.width > 0xffffffffLL ||
      image.height > 0xffffffffLL) {
    throw Error(ErrorKind::invalid_argument, "cannot write an empty image", {path.string()});
  }
  const uint64_t row_bytes = image.row_bytes();
  const uint64_t total = row_bytes * static_cast<uint64_t>(image.height);
  if (total > 0xF0000000ULL) {
    throw Error(ErrorKind::limit, "image too large for a classic TIFF (4 GB)", {path.string()});
  }
  // Strips of about 1 MiB, as baseline readers expect.
  const uint32_t rows_per_strip = static_cast<uint32_t>(
      std::max<uint64_t>(1, std::min<uint64_t>(image.height, (1 << 20) / row_bytes)));
  const uint32_t strips =
      static_cast<uint32_t>((image.height + rows_per_strip - 1) / rows_per_strip);
  const uint16_t spp = static_cast<uint16_t>(image.channels);
  const uint16_t bits = static_cast<uint16_t>(size_of(image.dtype) * 8);
  const uint16_t sample_format = image.dtype == DataType::float32 ? 3 : 1;
  const uint16_t photometric = spp >= 3 ? 2 : 1;

  // Layout: header, pixel data, then the IFD and its arrays.
  std::vector<uint8_t> head;
  head.push_back(std::endian::native == std::endian::little ? 'I' : 'M');
  head.push_back(std::endian::native == std::endian::little ? 'I' : 'M');
  put<uint16_t>(head, 42);
  const uint32_t data_offset = 8;
  const uint32_t ifd_offset = static_cast<uint32_t>(data_offset + total + (total & 1));
  put<uint32_t>(head, ifd_offset);

  struct Entry {
    uint16_t tag, type;
    uint32_t count, value;
  };
  std::vector<uint8_t> extra;  // arrays that do not fit in an entry
  const int entry_count = 12;
  const uint32_t extra_base = ifd_offset + 2 + entry_count * 12 + 4;
  auto array32 = [&](const std::vector<uint32_t>& v) {
    uint32_t at = extra_base + static_cast<uint32_t>(extra.size());
    for (uint32_t x : v) put<uint32_t>(extra, x);
    return at;
  };
  auto array16 = [&](const std::vector<uint16_t>& v) {
    uint32_t at = extra_base + static_cast<uint32_t>(extra.size());
    for (uint16_t x : v) put<uint16_t>(extra, x);
    if (extra.size() & 3) extra.resize((extra.size() + 3) & ~size_t{3});
    return at;
  };
  auto short_value = [](uint16_t v) {
    // A SHORT in the value field sits in its first two bytes.
    uint32_t out = 0;
    std::memcpy(&out, &v, 2);
    return out;
  };
  std::vector<uint32_t> offsets(strips), counts(strips);
  for (uint32_t s = 0; s < strips; ++s) {
    uint64_t first = uint64_t{s} * rows_per_strip;
    uint64_t rows = std::min<uint64_t>(rows_per_strip, image.height - first);
    offsets[s] = static_cast<uint32_t>(data_offset + first * row_bytes);
    counts[s] = static_cast<uint32_t>(rows * row_bytes);
  }
  auto per_sample = [&](uint16_t v, uint16_t type_tag) -> Entry {
    if (spp <= 2) {
      uint32_t packed = 0;
      for (int i = 0; i < spp; ++i) std::memcpy(reinterpret_cast<uint8_t*>(&packed) + 2 * i, &v, 2);
      return {type_tag, 3, spp, packed};
    }
    return {type_tag, 3, spp, array16(std::vector<uint16_t>(spp, v))};
  };
  std::vector<Entry> entries;
  entries.push_back({256, 4, 1, static_cast<uint32_t>(image.width)});
  entries.push_back({257, 4, 1, static_cast<uint32_t>(image.height)});
  entries.push_back(per_sample(bits, 258));
  entries.push_back({259, 3, 1, short_value(1)});
  entries.push_back({262, 3, 1, short_value(photometric)});
  entries.push_back(strips == 1 ? Entry{273, 4, 1, offsets[0]}
                                : Entry{273, 4, strips, array32(offsets)});
  entries.push_back({277, 3, 1, short_value(spp)});
  entries.push_back({278, 4, 1, rows_per_strip});
  entries.push_back(strips == 1 ? Entry{279, 4, 1, counts[0]}
                                : Entry{279, 4, strips, array32(counts)});
  entries.push_back({284, 3, 1, short_value(1)});
  entries.push_back(spp == 4 || spp == 2 ? Entry{338, 3, 1, short_value(2)}  // unassociated alpha
                                         : Entry{305, 2, 4, 0x00737373});    // Software "sss"
  entries.push_back(per_sample(sample_format, 339));
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.tag < b.tag; });

  std::vector<uint8_t> ifd;
  put<uint16_t>(ifd, static_cast<uint16_t>(entries.size()));
  for (const Entry& e : entries) {
    put<uint16_t>(ifd, e.tag);
    put<uint16_t>(ifd, e.type);
    put<uint32_t>(ifd, e.count);
    put<uint32_t>(ifd, e.value);
  }
  put<uint32_t>(ifd, 0);

  PendingFile pending(path);
  std::unique_ptr<std::FILE, FileCloser> file(open_for_write(pending.temp()));
  bool ok = std::fwrite(head.data(), 1, head.size(), file.get()) == head.size();
  for (int64_t y = 0; ok && y < image.height; ++y) {
    ok = std::fwrite(image.row(y), 1, row_bytes, file.get()) == row_bytes;
  }
  if (ok && (total & 1)) ok = std::fputc(0, file.get()) != EOF;
  ok = ok && std::fwrite(ifd.data(), 1, ifd.size(), file.get()) == ifd.size();
  ok = ok && std::fwrite(extra.data(), 1, extra.size(), file.get()) == extra.size();
  ok = ok && std::fflush(file.get()) == 0;
  if (!ok) {
    throw Error(errno == ENOSPC ? ErrorKind::disk_full : ErrorKind::io,
                std::string("write failed: ") + std::strerror(errno), {path.string()});
  }
  file.reset();
  pending.commit();
}

}  // namespace slidestream::cli
