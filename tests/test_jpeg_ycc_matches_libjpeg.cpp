// codec/jpeg_ycc.hpp (what the GPU runs after nvJPEG decodes a tile's planes) turns libjpeg's own
// component planes into exactly the RGB that libjpeg-turbo's default decode returns, for each
// chroma sampling it claims, on real slide pixels and on hard colour edges, at sizes that are not
// multiples of an MCU. And codec/jpeg_frame.hpp reads frame headers without trusting the bytes.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <vector>

// jpeglib.h needs size_t and FILE declared before it.
// clang-format off
#include <jpeglib.h>
// clang-format on

#include "codec/jpeg_frame.hpp"
#include "codec/jpeg_ycc.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

struct Rgb {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

std::vector<std::byte> encode(const Rgb& image, int h_factor, int v_factor, bool progressive) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = image.width;
  cinfo.image_height = image.height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 90, TRUE);
  cinfo.comp_info[0].h_samp_factor = h_factor;
  cinfo.comp_info[0].v_samp_factor = v_factor;
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row =
        const_cast<uint8_t*>(&image.pixels[size_t(cinfo.next_scanline) * image.width * 3]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<std::byte> out(reinterpret_cast<std::byte*>(buffer),
                             reinterpret_cast<std::byte*>(buffer) + size);
  std::free(buffer);
  return out;
}

// A libjpeg decoder with the stream's header read; the test's streams are its own, so libjpeg's
// default error handling (exit) is acceptable here.
struct Decoder {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  explicit Decoder(std::span<const std::byte> stream) {
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(stream.data()), stream.size());
    jpeg_read_header(&cinfo, TRUE);
  }
  ~Decoder() { jpeg_destroy_decompress(&cinfo); }
};

std::vector<uint8_t> decode_rgb(std::span<const std::byte> stream) {
  Decoder decoder(stream);
  jpeg_decompress_struct& cinfo = decoder.cinfo;
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  std::vector<uint8_t> out(size_t(cinfo.output_width) * cinfo.output_height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = &out[size_t(cinfo.output_scanline) * cinfo.output_width * 3];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  return out;
}

// libjpeg's component planes after the IDCT, before upsampling, cropped to their real size
// (what nvJPEG's NVJPEG_OUTPUT_YUV gives).
struct DecodedPlanes {
  int width = 0, height = 0;
  std::vector<uint8_t> plane[3];
  uint32_t plane_width[3] = {}, plane_height[3] = {};
  codec::ycc::Planes view() const {
    codec::ycc::Planes p;
    p.y = plane[0].data();
    p.cb = plane[1].data();
    p.cr = plane[2].data();
    p.y_pitch = plane_width[0];
    p.c_pitch = plane_width[1];
    p.c_width = plane_width[1];
    p.c_height = plane_height[1];
    p.h_factor = static_cast<uint8_t>(plane_width[0] == plane_width[1] ? 1 : 2);
    p.v_factor = static_cast<uint8_t>(plane_height[0] == plane_height[1] ? 1 : 2);
    return p;
  }
};

DecodedPlanes decode_planes(std::span<const std::byte> stream) {
  Decoder decoder(stream);
  jpeg_decompress_struct& cinfo = decoder.cinfo;
  cinfo.raw_data_out = TRUE;
  cinfo.out_color_space = JCS_YCbCr;
  jpeg_start_decompress(&cinfo);
  DecodedPlanes d;
  d.width = static_cast<int>(cinfo.image_width);
  d.height = static_cast<int>(cinfo.image_height);
  const int group_rows = cinfo.max_v_samp_factor * DCTSIZE;
  std::vector<std::vector<std::vector<uint8_t>>> rows(3);
  std::vector<std::vector<JSAMPROW>> pointers(3);
  for (int c = 0; c < 3; ++c) {
    const jpeg_component_info& info = cinfo.comp_info[c];
    d.plane_width[c] = info.downsampled_width;
    d.plane_height[c] = info.downsampled_height;
    d.plane[c].assign(size_t(d.plane_width[c]) * d.plane_height[c], 0);
    const int component_rows = info.v_samp_factor * DCTSIZE;
    rows[c].assign(component_rows, std::vector<uint8_t>(info.width_in_blocks * DCTSIZE + 64));
    for (auto& r : rows[c]) pointers[c].push_back(r.data());
  }
  JSAMPARRAY planes[3] = {pointers[0].data(), pointers[1].data(), pointers[2].data()};
  int group = 0;
  while (cinfo.output_scanline < cinfo.output_height) {
    jpeg_read_raw_data(&cinfo, planes, group_rows);
    for (int c = 0; c < 3; ++c) {
      const int component_rows = cinfo.comp_info[c].v_samp_factor * DCTSIZE;
      for (int r = 0; r < component_rows; ++r) {
        const uint32_t row = uint32_t(group * component_rows + r);
        if (row >= d.plane_height[c]) break;
        std::memcpy(&d.plane[c][size_t(row) * d.plane_width[c]], rows[c][r].data(),
                    d.plane_width[c]);
      }
    }
    ++group;
  }
  jpeg_finish_decompress(&cinfo);
  return d;
}

// Saturated colour bars and a checkerboard of complementary colours: the chroma edges where
// replication and libjpeg's triangle filter differ most.
Rgb colour_edges(int width, int height) {
  Rgb image{width, height, std::vector<uint8_t>(size_t(width) * height * 3)};
  std::mt19937 random(7);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.pixels[(size_t(y) * width + x) * 3];
      if (y < height / 2) {
        const int bar = (x / 3) % 6;
        p[0] = (bar == 0 || bar == 3 || bar == 4) ? 250 : 5;
        p[1] = (bar == 1 || bar == 3 || bar == 5) ? 250 : 5;
        p[2] = (bar == 2 || bar == 4 || bar == 5) ? 250 : 5;
      } else {
        const bool on = ((x / 2) + (y / 2)) % 2 == 0;
        p[0] = on ? 200 : 30;
        p[1] = on ? 40 : 220;
        p[2] = static_cast<uint8_t>(random() % 256);
      }
    }
  }
  return image;
}

Rgb slide_region(int width, int height) {
  Slide slide = Slide::open(test::shared_testdata() / "cmu-1-small-region.svs");
  Image region = slide.read_region(0, 900, 700, width, height);
  Rgb image{width, height, {}};
  for (int64_t y = 0; y < height; ++y) {
    auto* row = reinterpret_cast<const uint8_t*>(region.view().row(y));
    image.pixels.insert(image.pixels.end(), row, row + size_t(width) * 3);
  }
  return image;
}

void expect_exact(const Rgb& image, int h_factor, int v_factor) {
  SCOPED_TRACE(::testing::Message()
               << image.width << "x" << image.height << " h" << h_factor << "v" << v_factor);
  std::vector<std::byte> stream = encode(image, h_factor, v_factor, false);
  std::vector<uint8_t> want = decode_rgb(stream);
  DecodedPlanes planes = decode_planes(stream);
  codec::ycc::Planes view = planes.view();
  ASSERT_EQ(view.h_factor, h_factor);
  ASSERT_EQ(view.v_factor, v_factor);
  ASSERT_TRUE(codec::ycc::supported(view.h_factor, view.v_factor, view.c_width));
  size_t differing = 0;
  int worst = 0;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      uint8_t got[3];
      codec::ycc::pixel(view, uint32_t(x), uint32_t(y), got);
      for (int c = 0; c < 3; ++c) {
        int d = std::abs(int(got[c]) - int(want[(size_t(y) * image.width + x) * 3 + c]));
        differing += d != 0;
        worst = std::max(worst, d);
      }
    }
  }
  EXPECT_EQ(worst, 0) << differing << " samples differ from libjpeg-turbo";

  std::optional<codec::JpegFrame> frame = codec::read_jpeg_frame(stream);
  ASSERT_TRUE(frame);
  EXPECT_TRUE(frame->baseline_huffman());
  EXPECT_EQ(frame->width, image.width);
  EXPECT_EQ(frame->height, image.height);
  EXPECT_EQ(frame->components, 3);
  EXPECT_EQ(frame->h[0], h_factor);
  EXPECT_EQ(frame->v[0], v_factor);
  EXPECT_EQ(frame->h[1], 1);
  EXPECT_EQ(frame->v[2], 1);
}

TEST(JpegYcc, EqualsLibjpegTurboOnColourEdgesForEverySampling) {
  for (auto [h, v] : {std::pair{2, 2}, std::pair{2, 1}, std::pair{1, 1}}) {
    expect_exact(colour_edges(128, 128), h, v);
    expect_exact(colour_edges(37, 23), h, v);  // partial MCUs, odd chroma widths
    expect_exact(colour_edges(256, 48), h, v);
  }
}

TEST(JpegYcc, EqualsLibjpegTurboOnSlidePixels) {
  for (auto [h, v] : {std::pair{2, 2}, std::pair{2, 1}, std::pair{1, 1}}) {
    expect_exact(slide_region(256, 256), h, v);
    expect_exact(slide_region(301, 199), h, v);
  }
}

TEST(JpegYcc, ClaimsOnlyWhatItReproduces) {
  EXPECT_TRUE(codec::ycc::supported(2, 2, 64));
  EXPECT_TRUE(codec::ycc::supported(2, 1, 3));
  EXPECT_FALSE(codec::ycc::supported(2, 2, 2));   // libjpeg replicates chroma this narrow
  EXPECT_FALSE(codec::ycc::supported(1, 2, 64));  // 4:4:0
  EXPECT_FALSE(codec::ycc::supported(4, 1, 64));  // 4:1:1
}

TEST(JpegFrame, ProgressiveIsNotBaseline) {
  std::vector<std::byte> stream = encode(colour_edges(64, 64), 2, 2, true);
  std::optional<codec::JpegFrame> frame = codec::read_jpeg_frame(stream);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->sof, 2);
  EXPECT_FALSE(frame->baseline_huffman());
}

TEST(JpegFrame, DamagedStreamsNeverReadOutsideTheirBytes) {
  std::vector<std::byte> stream = encode(colour_edges(64, 64), 2, 2, false);
  size_t frames = 0;
  for (size_t cut = 0; cut < stream.size(); ++cut) {
    // A copy of exactly `cut` bytes, so that ASan sees any read past its end.
    std::vector<std::byte> head(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(cut));
    frames += codec::read_jpeg_frame(head).has_value();
  }
  EXPECT_GT(frames, 0u);  // once the frame header is complete, it is found
  std::mt19937 random(11);
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::byte> bytes(random() % 64);
    for (auto& b : bytes) b = std::byte(random() % 256);
    if (!bytes.empty() && i % 2 == 0) bytes[0] = std::byte{0xFF};
    if (bytes.size() > 1 && i % 2 == 0) bytes[1] = std::byte{0xD8};
    (void)codec::read_jpeg_frame(bytes);
  }
  const std::byte not_jpeg[] = {std::byte{'I'}, std::byte{'I'}, std::byte{42}, std::byte{0}};
  EXPECT_FALSE(codec::read_jpeg_frame(not_jpeg));
}

}  // namespace
}  // namespace slidestream
