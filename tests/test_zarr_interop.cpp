// Every variant we write (v2, v3, v3 sharded × none/zstd/blosc-lz4 × uint8/uint16/float32 × 1 and
// 3 channels, with edge chunks) opens in zarr-python 3 and tensorstore with exactly our pixels,
// and reads back through our own ArrayReader.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"
#include "support/test_support.hpp"

namespace slidestream::zarr {
namespace {

// Seeded pseudo-random pixels; floats get a few specials (NaN, -0, inf) to prove bit-exactness.
Image random_image(int64_t w, int64_t h, int c, DataType t, uint32_t seed) {
  Image img = Image::allocate(w, h, c, t);
  std::mt19937 rng(seed);
  size_t n = img.size_bytes() / size_of(t);
  if (t == DataType::float32) {
    auto* p = reinterpret_cast<float*>(img.data());
    std::uniform_real_distribution<float> d(-1000.f, 1000.f);
    for (size_t i = 0; i < n; ++i) p[i] = d(rng);
    if (n > 10) {
      p[3] = std::numeric_limits<float>::quiet_NaN();
      p[5] = -0.0f;
      p[7] = std::numeric_limits<float>::infinity();
    }
  } else {
    // Runs of repeated values so that the compressors have something to do.
    auto* b = img.data();
    size_t bytes = img.size_bytes();
    for (size_t i = 0; i < bytes;) {
      auto v = static_cast<std::byte>(rng() & 0xFF);
      size_t run = 1 + rng() % 6;
      for (size_t k = 0; k < run && i < bytes; ++k) b[i++] = v;
    }
  }
  return img;
}

void save_raw(const Image& img, const std::filesystem::path& file) {
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(img.data()),
             static_cast<std::streamsize>(img.size_bytes()));
}

const char* numpy_dtype(DataType t) {
  switch (t) {
    case DataType::uint8:
      return "uint8";
    case DataType::uint16:
      return "<u2";
    case DataType::uint32:
      return "<u4";
    case DataType::float32:
      return "<f4";
  }
  return "uint8";
}

struct Variant {
  Format format;
  bool sharded;
  Codec codec;
  DataType dtype;
  int channels;
  ChannelLayout layout = ChannelLayout::yxc;
  std::string name() const {
    std::string s = format == Format::v2 ? "v2" : (sharded ? "v3shard" : "v3");
    s += "_" + to_string(codec) + "_" + std::string(to_string(dtype)) + "_c" +
         std::to_string(channels);
    if (channels > 1) s += "_" + to_string(layout);
    return s;
  }
};

std::vector<Variant> all_variants() {
  std::vector<Variant> out;
  for (auto [format, sharded] :
       {std::pair{Format::v2, false}, std::pair{Format::v3, false}, std::pair{Format::v3, true}}) {
    for (Codec codec : {Codec::none, Codec::zstd, Codec::blosc_lz4}) {
      for (DataType t : {DataType::uint8, DataType::uint16, DataType::float32}) {
        out.push_back({format, sharded, codec, t, 1});
        for (ChannelLayout layout : {ChannelLayout::yxc, ChannelLayout::cyx}) {
          out.push_back({format, sharded, codec, t, 3, layout});
        }
      }
    }
  }
  return out;
}

bool same_bytes(const Image& a, const Image& b) {
  return a.size_bytes() == b.size_bytes() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

TEST(ZarrInterop, EveryVariantReadsBackInZarrPythonTensorstoreAndOurReader) {
  auto dir = test::scratch_dir("zarr_interop");
  nlohmann::json manifest = nlohmann::json::array();
  uint32_t seed = 1;
  // 150 × 230 with 64 × 48 chunks: edge chunks on both axes; shards of 2 × 3 chunks leave a
  // partly empty edge shard.
  const int64_t H = 150, W = 230;
  for (const Variant& v : all_variants()) {
    SCOPED_TRACE(v.name());
    Image img = random_image(W, H, v.channels, v.dtype, seed++);
    ArraySpec spec{.height = H,
                   .width = W,
                   .channels = v.channels,
                   .layout = v.layout,
                   .dtype = v.dtype,
                   .chunk_height = 64,
                   .chunk_width = 48,
                   .shard_height = v.sharded ? 128 : 0,
                   .shard_width = v.sharded ? 144 : 0,
                   .format = v.format,
                   .codec = v.codec,
                   .codec_level = 3,
                   .fill_value = v.dtype == DataType::float32 ? 0.5 : 7};
    auto path = dir / (v.name() + ".zarr");
    auto writer = ArrayWriter::create(path, spec, {.threads = 3});
    writer.write(img.view());
    WriteReport report = writer.finish();
    EXPECT_GT(report.chunks_written, 0u);
    EXPECT_FALSE(report.io_path.empty());
    save_raw(img, dir / (v.name() + ".raw"));
    manifest.push_back({{"path", path.string()},
                        {"raw", (dir / (v.name() + ".raw")).string()},
                        {"format", static_cast<int>(v.format)},
                        {"dtype", numpy_dtype(v.dtype)},
                        {"height", H},
                        {"width", W},
                        {"channels", v.channels},
                        {"layout", to_string(v.layout)},
                        {"chunk", {64, 48}},
                        {"fill_value", spec.fill_value}});

    // Our reader: the whole array, and an unaligned window crossing chunk and shard borders.
    auto reader = ArrayReader::open(path);
    EXPECT_EQ(reader.info().spec.height, H);
    EXPECT_EQ(reader.info().spec.codec, v.codec);
    EXPECT_EQ(reader.info().spec.shard_height, spec.shard_height);
    if (v.channels > 1) EXPECT_EQ(reader.info().spec.layout, v.layout);
    Image back = reader.read({.threads = 2});
    EXPECT_TRUE(same_bytes(img, back));
    Image window = Image::allocate(101, 77, v.channels, v.dtype);
    reader.read_region(33, 41, window.view());
    const size_t px = window.view().pixel_bytes();
    bool window_ok = true;
    for (int64_t y = 0; y < 77; ++y) {
      window_ok &=
          std::memcmp(window.view().row(y), img.view().row(33 + y) + 41 * px, 101 * px) == 0;
    }
    EXPECT_TRUE(window_ok);
  }
  std::ofstream(dir / "manifest.json") << manifest.dump(1);
  std::string output;
  int rc = test::run_python("zarr_check_read.py", {(dir / "manifest.json").string()}, &output);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("0 failures"), std::string::npos) << output;
}

TEST(ZarrInterop, WritesChunkRegionsFromSeveralCallsAndLeavesAbsentChunksAsFill) {
  auto dir = test::scratch_dir("zarr_regions");
  const int64_t H = 100, W = 90;
  Image img = random_image(W, H, 3, DataType::uint16, 99);
  ArraySpec spec{.height = H,
                 .width = W,
                 .channels = 3,
                 .dtype = DataType::uint16,
                 .chunk_height = 32,
                 .chunk_width = 32,
                 .format = Format::v3,
                 .codec = Codec::zstd,
                 .fill_value = 4242};
  auto writer = ArrayWriter::create(dir / "a.zarr", spec, {.threads = 2});
  // Bands of chunk rows, the last band reaching the bottom edge; chunk row 1 left unwritten.
  writer.write_region(0, 0, img.view().crop(0, 0, W, 32));
  writer.write_region(64, 0, img.view().crop(0, 64, W, 36));
  writer.finish();
  auto back = ArrayReader::open(dir / "a.zarr").read();
  const size_t row = img.view().row_bytes();
  for (int64_t y = 0; y < H; ++y) {
    if (y >= 32 && y < 64) {
      auto* p = reinterpret_cast<const uint16_t*>(back.view().row(y));
      for (int64_t i = 0; i < W * 3; ++i) ASSERT_EQ(p[i], 4242) << y;
    } else {
      ASSERT_EQ(std::memcmp(back.view().row(y), img.view().row(y), row), 0) << y;
    }
  }
}

TEST(ZarrInterop, RejectsRegionsOffTheChunkGrid) {
  auto dir = test::scratch_dir("zarr_grid");
  Image img = random_image(64, 64, 1, DataType::uint8, 5);
  ArraySpec spec{.height = 64, .width = 64, .chunk_height = 32, .chunk_width = 32};
  auto writer = ArrayWriter::create(dir / "a.zarr", spec);
  try {
    writer.write_region(16, 0, img.view().crop(0, 0, 32, 32));
    FAIL() << "expected invalid_argument";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
  }
  try {
    writer.write_region(0, 0, img.view().crop(0, 0, 20, 32));  // not whole chunks, not at edge
    FAIL() << "expected invalid_argument";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
  }
}

}  // namespace
}  // namespace slidestream::zarr
