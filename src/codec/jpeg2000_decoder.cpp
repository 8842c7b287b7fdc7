// JPEG 2000 tiles through OpenJPEG: raw J2K codestreams (what Aperio writes, 33003 / 33005) and
// JP2 files (which some generic writers put under 34712). Aperio's 33003 codestreams hold
// YCbCr without a multi-component transform; they are converted to RGB exactly as OpenSlide
// does (openslide-decode-jp2k.c: its lookup tables, integer rounding and clamping, chroma taken
// from the pixel's own subsampled position), so that our pixels equal OpenSlide's. libvips'
// 33004 codestreams hold the YCbCr its tiffsave converted to; OpenSlide cannot read them, so
// they are converted back exactly as libvips' own TIFF reader does.
#include <openjpeg.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "codec/decoders.hpp"
#include "slidestream/error.hpp"

namespace slidestream::codec {
namespace {

struct Buffer {
  const uint8_t* data;
  size_t size;
  size_t offset;
};

OPJ_SIZE_T read_cb(void* dst, OPJ_SIZE_T count, void* user) {
  auto* b = static_cast<Buffer*>(user);
  size_t n = std::min<size_t>(count, b->size - b->offset);
  if (n == 0) return static_cast<OPJ_SIZE_T>(-1);
  std::memcpy(dst, b->data + b->offset, n);
  b->offset += n;
  return n;
}
OPJ_OFF_T skip_cb(OPJ_OFF_T count, void* user) {
  auto* b = static_cast<Buffer*>(user);
  int64_t target = std::clamp<int64_t>(static_cast<int64_t>(b->offset) + count, 0,
                                       static_cast<int64_t>(b->size));
  int64_t moved = target - static_cast<int64_t>(b->offset);
  b->offset = static_cast<size_t>(target);
  if (count != 0 && moved == 0) return -1;
  return moved;
}
OPJ_BOOL seek_cb(OPJ_OFF_T offset, void* user) {
  auto* b = static_cast<Buffer*>(user);
  if (offset < 0 || static_cast<uint64_t>(offset) > b->size) return OPJ_FALSE;
  b->offset = static_cast<size_t>(offset);
  return OPJ_TRUE;
}

struct Messages {
  std::string first_error;
};
void on_error(const char* msg, void* user) {
  auto* m = static_cast<Messages*>(user);
  if (m->first_error.empty()) {
    m->first_error = msg;
    while (!m->first_error.empty() &&
           (m->first_error.back() == '\n' || m->first_error.back() == ' ')) {
      m->first_error.pop_back();
    }
  }
}
void on_quiet(const char*, void*) {}

struct CodecDeleter {
  void operator()(opj_codec_t* c) const noexcept { opj_destroy_codec(c); }
};
struct StreamDeleter {
  void operator()(opj_stream_t* s) const noexcept { opj_stream_destroy(s); }
};
struct ImageDeleter {
  void operator()(opj_image_t* i) const noexcept { opj_image_destroy(i); }
};

// OpenSlide's YCbCr tables (make-tables.c): round() is half away from zero, like std::lround.
struct YCbCrTables {
  std::array<int16_t, 256> r_cr, b_cb;
  std::array<int32_t, 256> g_cb, g_cr;
  YCbCrTables() {
    for (int i = 0; i < 256; ++i) {
      r_cr[i] = static_cast<int16_t>(std::lround(1.402 * (i - 128)));
      g_cb[i] = static_cast<int32_t>(std::lround(65536.0 * (0.5 - 0.34414 * (i - 128))));
      g_cr[i] = static_cast<int32_t>(std::lround(65536.0 * -0.71414 * (i - 128)));
      b_cb[i] = static_cast<int16_t>(std::lround(1.772 * (i - 128)));
    }
  }
};
const YCbCrTables& tables() {
  static const YCbCrTables t;
  return t;
}

uint8_t clamp8(int v) {
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

[[noreturn]] void fail(const Messages& m, const char* what) {
  throw Error(ErrorKind::corrupt, std::string("jpeg2000: ") + what +
                                      (m.first_error.empty() ? "" : ": " + m.first_error));
}

// libvips' YCbCr → RGB for JPEG 2000 tiles in TIFF (jp2kload.c, YCC_TO_RGB, applied by its
// TIFF reader to every 3-band 33003/33004/33005 tile): the writer's own inverse of the
// conversion its tiffsave applies before encoding. C's double arithmetic, truncated toward zero.
template <typename Sample>
void vips_ycc_to_rgb(const ImageView& out, int64_t w, int64_t h, size_t sample, Sample at,
                     uint32_t precision) {
  const int offset = 1 << (precision - 1);
  const int upb = (1 << precision) - 1;
  for (int64_t y = 0; y < h; ++y) {
    std::byte* row = out.row(y);
    for (int64_t x = 0; x < w; ++x) {
      // vips first stores each component in the image's sample type, then converts.
      const int mask = sample == 1 ? 0xff : 0xffff;
      const int luma = at(0, x, y) & mask;
      const int cb = (at(1, x, y) & mask) - offset;
      const int cr = (at(2, x, y) & mask) - offset;
      const int rgb[3] = {
          luma + static_cast<int>(1.402 * static_cast<float>(cr)),
          luma - static_cast<int>(0.344 * static_cast<float>(cb) + 0.714 * static_cast<float>(cr)),
          luma + static_cast<int>(1.772 * static_cast<float>(cb))};
      for (int c = 0; c < 3; ++c) {
        const int v = std::clamp(rgb[c], 0, upb);
        if (sample == 1) {
          reinterpret_cast<uint8_t*>(row)[3 * x + c] = static_cast<uint8_t>(v);
        } else {
          reinterpret_cast<uint16_t*>(row)[3 * x + c] = static_cast<uint16_t>(v);
        }
      }
    }
  }
}

}  // namespace

void decode_jpeg2000(std::span<const std::byte> encoded, const TileFormat& format,
                     const ImageView& out) {
  static constexpr uint8_t kJp2Signature[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 13, 10, 0x87, 10};
  const auto* bytes = reinterpret_cast<const uint8_t*>(encoded.data());
  if (encoded.size() < 2) throw Error(ErrorKind::corrupt, "jpeg2000: tile stream too short");
  bool jp2 = encoded.size() >= 12 && std::memcmp(bytes, kJp2Signature, 12) == 0;

  Buffer buffer{bytes, encoded.size(), 0};
  std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_create(encoded.size(), OPJ_TRUE));
  if (!stream) throw Error(ErrorKind::out_of_memory, "jpeg2000: cannot create a stream");
  opj_stream_set_user_data(stream.get(), &buffer, nullptr);
  opj_stream_set_user_data_length(stream.get(), encoded.size());
  opj_stream_set_read_function(stream.get(), read_cb);
  opj_stream_set_skip_function(stream.get(), skip_cb);
  opj_stream_set_seek_function(stream.get(), seek_cb);

  std::unique_ptr<opj_codec_t, CodecDeleter> codec(
      opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K));
  if (!codec) throw Error(ErrorKind::out_of_memory, "jpeg2000: cannot create a decoder");
  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  Messages messages;
  opj_set_error_handler(codec.get(), on_error, &messages);
  opj_set_warning_handler(codec.get(), on_quiet, nullptr);
  opj_set_info_handler(codec.get(), on_quiet, nullptr);
  if (!opj_setup_decoder(codec.get(), &parameters)) fail(messages, "decoder setup failed");
  // A truncated codestream is an error, never a silently blurred tile.
  opj_decoder_set_strict_mode(codec.get(), OPJ_TRUE);

  opj_image_t* raw_image = nullptr;
  if (!opj_read_header(stream.get(), codec.get(), &raw_image)) {
    opj_image_destroy(raw_image);
    fail(messages, "cannot read the codestream header");
  }
  std::unique_ptr<opj_image_t, ImageDeleter> image(raw_image);
  const int64_t w = static_cast<int64_t>(image->x1) - image->x0;
  const int64_t h = static_cast<int64_t>(image->y1) - image->y0;
  if (w != out.width || h > out.height || image->x0 != 0 || image->y0 != 0) {
    throw Error(ErrorKind::corrupt,
                "jpeg2000: codestream is " + std::to_string(w) + " x " + std::to_string(h) +
                    ", tile is " + std::to_string(out.width) + " x " + std::to_string(out.height));
  }
  const int channels = out.channels;
  if (static_cast<int>(image->numcomps) < channels || image->numcomps > 4) {
    throw Error(ErrorKind::corrupt, "jpeg2000: " + std::to_string(image->numcomps) +
                                        " components, expected " + std::to_string(channels));
  }
  if (!opj_decode(codec.get(), stream.get(), image.get()) ||
      !opj_end_decompress(codec.get(), stream.get())) {
    fail(messages, "decoding failed");
  }

  const size_t sample = size_of(out.dtype);
  for (int c = 0; c < channels; ++c) {
    const opj_image_comp_t& comp = image->comps[c];
    if (comp.data == nullptr || comp.w == 0 || comp.h == 0) fail(messages, "component missing");
    if ((sample == 1 && comp.prec > 8) || (sample == 2 && comp.prec > 16) || sample > 2) {
      throw Error(ErrorKind::unsupported, "jpeg2000: " + std::to_string(comp.prec) +
                                              "-bit component into a " +
                                              std::to_string(sample * 8) + "-bit image");
    }
  }

  // Subsampling as OpenSlide computes it: the ratio of the tile to the component.
  int sub_x[4], sub_y[4];
  for (int c = 0; c < channels; ++c) {
    sub_x[c] = static_cast<int>(w / image->comps[c].w);
    sub_y[c] = static_cast<int>(h / image->comps[c].h);
    if (sub_x[c] < 1 || sub_y[c] < 1) fail(messages, "component larger than the image");
  }
  auto at = [&](int c, int64_t x, int64_t y) {
    const opj_image_comp_t& comp = image->comps[c];
    int64_t cx = std::min<int64_t>(x / sub_x[c], comp.w - 1);
    int64_t cy = std::min<int64_t>(y / sub_y[c], comp.h - 1);
    return comp.data[cy * comp.w + cx];
  };

  const bool ycbcr = format.compression == Compression::jpeg2000_aperio_ycbcr && channels == 3;
  if (format.compression == Compression::jpeg2000_vips && channels == 3) {
    vips_ycc_to_rgb(
        out, w, h, sample, [&](int c, int64_t x, int64_t y) { return at(c, x, y); },
        image->comps[0].prec);
    return;
  }
  const YCbCrTables& t = tables();
  for (int64_t y = 0; y < h; ++y) {
    std::byte* row = out.row(y);
    if (sample == 1) {
      auto* p = reinterpret_cast<uint8_t*>(row);
      for (int64_t x = 0; x < w; ++x) {
        if (ycbcr) {
          // OpenSlide truncates each component to 8 bits before converting.
          uint8_t luma = static_cast<uint8_t>(at(0, x, y));
          uint8_t cb = static_cast<uint8_t>(at(1, x, y));
          uint8_t cr = static_cast<uint8_t>(at(2, x, y));
          int16_t r_chroma = t.r_cr[cr];
          int16_t g_chroma = static_cast<int16_t>((t.g_cb[cb] + t.g_cr[cr]) >> 16);
          int16_t b_chroma = t.b_cb[cb];
          p[3 * x + 0] = clamp8(luma + r_chroma);
          p[3 * x + 1] = clamp8(luma + g_chroma);
          p[3 * x + 2] = clamp8(luma + b_chroma);
        } else {
          for (int c = 0; c < channels; ++c) {
            p[x * channels + c] = static_cast<uint8_t>(at(c, x, y));
          }
        }
      }
    } else {
      auto* p = reinterpret_cast<uint16_t*>(row);
      for (int64_t x = 0; x < w; ++x) {
        for (int c = 0; c < channels; ++c) {
          p[x * channels + c] = static_cast<uint16_t>(at(c, x, y));
        }
      }
    }
  }
}

}  // namespace slidestream::codec
