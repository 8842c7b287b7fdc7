// JPEG tiles (TIFF compression 7) through libjpeg-turbo's libjpeg API, so that pixels equal
// OpenSlide's and libtiff's: default DCT (ISLOW) and fancy upsampling, libjpeg's own YCbCr→RGB.
//  - Shared JPEGTables: read first as a tables-only stream, then the tile's abbreviated stream.
//  - Colour: TIFF's Photometric decides, not libjpeg's guess. Aperio writes RGB JPEG tiles with
//    no JFIF/Adobe marker, which libjpeg would take for YCbCr; like OpenSlide (and libtiff, which
//    turns colour conversion off for them) we decode those with jpeg_color_space = JCS_RGB.
//  - libjpeg's error_exit would call exit(): ours longjmps back to a frame with no C++ objects
//    and the error is thrown from there. Warnings (libjpeg's "corrupt data" messages, after which
//    it pads with grey) are errors too: a slide must not silently return invented pixels.
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

// jpeglib.h needs size_t and FILE declared before it.
// clang-format off
#include <jpeglib.h>
// clang-format on

#include "codec/decoders.hpp"
#include "slidestream/error.hpp"

namespace slidestream::codec {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

extern "C" void on_emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;  // trace messages
  // A warning: the data is damaged. Stop here rather than return padded pixels.
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

extern "C" void on_output_message(j_common_ptr) {}

// Everything that can longjmp happens in here; only trivially destructible locals live in this
// frame, so the jump skips no destructor. Returns false with err->message set on failure.
bool run_decode(jpeg_decompress_struct* cinfo, ErrorManager* err, const unsigned char* tables,
                unsigned long tables_size, const unsigned char* data, unsigned long size,
                J_COLOR_SPACE in_space, J_COLOR_SPACE out_space, int expected_components,
                unsigned scale_denom, const ImageView* out, unsigned* rows_out) {
  if (setjmp(err->jump)) return false;
  if (tables_size > 0) {
    jpeg_mem_src(cinfo, tables, tables_size);
    if (jpeg_read_header(cinfo, FALSE) != JPEG_HEADER_TABLES_ONLY) {
      std::snprintf(err->message, sizeof(err->message), "JPEGTables is not a tables-only stream");
      return false;
    }
  }
  jpeg_mem_src(cinfo, data, size);
  if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK) {
    std::snprintf(err->message, sizeof(err->message), "no image in the tile's stream");
    return false;
  }
  if (cinfo->num_components != expected_components) {
    std::snprintf(err->message, sizeof(err->message), "stream has %d components, expected %d",
                  cinfo->num_components, expected_components);
    return false;
  }
  if (cinfo->data_precision != 8) {
    std::snprintf(err->message, sizeof(err->message), "%d-bit JPEG is not supported",
                  cinfo->data_precision);
    return false;
  }
  cinfo->jpeg_color_space = in_space;
  cinfo->out_color_space = out_space;
  cinfo->scale_num = 1;
  cinfo->scale_denom = scale_denom;
  jpeg_calc_output_dimensions(cinfo);
  if (cinfo->output_width != static_cast<JDIMENSION>(out->width) ||
      cinfo->output_height > static_cast<JDIMENSION>(out->height)) {
    std::snprintf(err->message, sizeof(err->message),
                  "stream is %u x %u (decoded at 1/%u: %u x %u), tile is %lld x %lld",
                  cinfo->image_width, cinfo->image_height, scale_denom, cinfo->output_width,
                  cinfo->output_height, static_cast<long long>(out->width),
                  static_cast<long long>(out->height));
    return false;
  }
  jpeg_start_decompress(cinfo);
  JSAMPROW rows[16];
  while (cinfo->output_scanline < cinfo->output_height) {
    unsigned n = 0;
    unsigned want = cinfo->output_height - cinfo->output_scanline;
    if (want > 16) want = 16;
    for (; n < want; ++n) {
      rows[n] = reinterpret_cast<JSAMPROW>(out->row(cinfo->output_scanline + n));
    }
    jpeg_read_scanlines(cinfo, rows, want);
  }
  *rows_out = cinfo->output_height;
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

void decode_jpeg(std::span<const std::byte> encoded, const TileFormat& format,
                 const ImageView& out) {
  J_COLOR_SPACE in_space;
  J_COLOR_SPACE out_space;
  int components;
  if (format.samples_per_pixel == 1) {
    in_space = JCS_GRAYSCALE;
    out_space = JCS_GRAYSCALE;
    components = 1;
  } else if (format.samples_per_pixel == 3) {
    in_space = format.photometric == 6 ? JCS_YCbCr : JCS_RGB;
    out_space = JCS_RGB;
    components = 3;
  } else {
    throw Error(ErrorKind::unsupported,
                "jpeg: " + std::to_string(format.samples_per_pixel) + " samples per pixel");
  }
  if (encoded.empty()) throw Error(ErrorKind::corrupt, "jpeg: empty tile stream");
  const unsigned scale = format.jpeg_scale_denom;
  if (scale != 1 && scale != 2 && scale != 4 && scale != 8) {
    throw Error(ErrorKind::unsupported, "jpeg: scale 1/" + std::to_string(scale));
  }

  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error_exit;
  err.pub.emit_message = on_emit_message;
  err.pub.output_message = on_output_message;
  err.message[0] = '\0';
  jpeg_create_decompress(&cinfo);
  unsigned rows = 0;
  bool ok = run_decode(
      &cinfo, &err, reinterpret_cast<const unsigned char*>(format.jpeg_tables.data()),
      format.jpeg_tables.size(), reinterpret_cast<const unsigned char*>(encoded.data()),
      encoded.size(), in_space, out_space, components, format.jpeg_scale_denom, &out, &rows);
  jpeg_destroy_decompress(&cinfo);
  if (!ok) throw Error(ErrorKind::corrupt, std::string("jpeg: ") + err.message);
}

}  // namespace slidestream::codec
