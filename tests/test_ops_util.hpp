// Helpers shared by the ops tests: images from raw files, whole vs tiled application, comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"

namespace slidestream::test {

inline std::vector<char> read_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

inline Image image_from_file(const std::filesystem::path& path, int64_t w, int64_t h, int c,
                             DataType dtype) {
  Image image = Image::allocate(w, h, c, dtype);
  std::vector<char> bytes = read_file(path);
  EXPECT_EQ(bytes.size(), image.size_bytes()) << path;
  if (bytes.size() == image.size_bytes()) std::memcpy(image.data(), bytes.data(), bytes.size());
  return image;
}

inline void write_image(const Image& image, const std::filesystem::path& path) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(image.data()),
          static_cast<std::streamsize>(image.size_bytes()));
}

inline std::vector<double> doubles_from_file(const std::filesystem::path& path) {
  std::vector<char> bytes = read_file(path);
  std::vector<double> v(bytes.size() / sizeof(double));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(double));
  return v;
}

// Uniform random samples; float images in [lo, hi).
inline Image random_image(int64_t w, int64_t h, int c, DataType dtype, uint32_t seed,
                          float lo = 0.0f, float hi = 1.0f) {
  Image image = Image::allocate(w, h, c, dtype);
  std::mt19937 rng(seed);
  size_t n = static_cast<size_t>(w * h * c);
  if (dtype == DataType::uint8) {
    auto* p = reinterpret_cast<uint8_t*>(image.data());
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(rng() & 0xff);
  } else {
    std::uniform_real_distribution<float> d(lo, hi);
    auto* p = reinterpret_cast<float*>(image.data());
    for (size_t i = 0; i < n; ++i) p[i] = d(rng);
  }
  return image;
}

// A macenko op with a fit unlike the reference (CMU-1's, rounded), so that it changes pixels.
inline ops::Op macenko_op() {
  ops::Op op = ops::parse_op("macenko");
  op.stains = ops::StainFit{{{0.68, 0.18}, {0.65, 0.92}, {0.33, 0.34}}, {3.48, 2.53}};
  return op;
}

inline Image allocate_output(const std::vector<ops::Op>& chain, const ImageView& in) {
  ops::PixelFormat f = ops::output_format(chain, {in.channels, in.dtype});
  return Image::allocate(in.width, in.height, f.channels, f.dtype);
}

// The chain over the whole image at once.
inline Image apply_whole(const std::vector<ops::Op>& chain, const Image& in) {
  Image out = allocate_output(chain, in.view());
  ops::apply_chain(chain, in.view(), {0, 0}, out.view(), {0, 0}, {in.width(), in.height()});
  return out;
}

// The chain tile by tile: each tile's input is a crop of `in` holding exactly the tile plus the
// chain's halo (clipped to the image), each tile's output a separate buffer copied into place.
inline Image apply_tiled(const std::vector<ops::Op>& chain, const Image& in, int64_t tile_w,
                         int64_t tile_h) {
  Image out = allocate_output(chain, in.view());
  const int64_t r = ops::halo_radius(chain);
  const int64_t W = in.width(), H = in.height();
  for (int64_t y = 0; y < H; y += tile_h) {
    for (int64_t x = 0; x < W; x += tile_w) {
      int64_t w = std::min(tile_w, W - x), h = std::min(tile_h, H - y);
      int64_t x0 = std::max<int64_t>(0, x - r), y0 = std::max<int64_t>(0, y - r);
      int64_t x1 = std::min(W, x + w + r), y1 = std::min(H, y + h + r);
      ImageView src = in.view().crop(x0, y0, x1 - x0, y1 - y0);
      Image tile = Image::allocate(w, h, out.channels(), out.dtype());
      ops::apply_chain(chain, src, {x0, y0}, tile.view(), {x, y}, {W, H});
      for (int64_t row = 0; row < h; ++row) {
        std::memcpy(out.view().row(y + row) + x * out.view().pixel_bytes(), tile.view().row(row),
                    tile.view().row_bytes());
      }
    }
  }
  return out;
}

// Byte-for-byte equality, reporting the first differing sample.
inline ::testing::AssertionResult same_bytes(const Image& a, const Image& b) {
  if (a.width() != b.width() || a.height() != b.height() || a.channels() != b.channels() ||
      a.dtype() != b.dtype()) {
    return ::testing::AssertionFailure() << "shapes or types differ";
  }
  const size_t sample = size_of(a.dtype());
  const size_t n = a.size_bytes();
  const auto* pa = reinterpret_cast<const unsigned char*>(a.data());
  const auto* pb = reinterpret_cast<const unsigned char*>(b.data());
  int64_t differing = 0;
  size_t first = n;
  for (size_t i = 0; i < n; ++i) {
    if (pa[i] != pb[i]) {
      if (first == n) first = i;
      ++differing;
    }
  }
  if (differing == 0) return ::testing::AssertionSuccess();
  size_t s = first / sample;
  int64_t px = static_cast<int64_t>(s) / a.channels();
  return ::testing::AssertionFailure()
         << differing << " bytes differ; first at x " << px % a.width() << ", y " << px / a.width()
         << ", channel " << static_cast<int64_t>(s) % a.channels();
}

inline double sample_as_double(const Image& image, size_t i) {
  if (image.dtype() == DataType::uint8) return reinterpret_cast<const uint8_t*>(image.data())[i];
  return reinterpret_cast<const float*>(image.data())[i];
}

}  // namespace slidestream::test
