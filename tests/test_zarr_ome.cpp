// OME-Zarr pyramids (NGFF 0.4 on v2, 0.5 on v3) that ome-zarr-py reads and ome-zarr-models
// validates, with the pixels of every level intact.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"
#include "support/test_support.hpp"

namespace slidestream::zarr {
namespace {

Image random_u8(int64_t w, int64_t h, int c, uint32_t seed) {
  Image img = Image::allocate(w, h, c, DataType::uint8);
  std::mt19937 rng(seed);
  for (size_t i = 0; i < img.size_bytes(); ++i) img.data()[i] = static_cast<std::byte>(rng());
  return img;
}

struct Case {
  Format format;
  int channels;
  bool mpp;
  int64_t shard;
};

void write_and_check(const Case& k, const std::string& name) {
  auto dir = test::scratch_dir(name);
  auto root = dir / "image.ome.zarr";
  MultiscaleOptions options{.format = k.format, .name = "slide"};
  if (k.mpp) {
    options.mpp_x = 0.2527;
    options.mpp_y = 0.2501;
  }
  auto writer = OmeZarrWriter::create(root, options);
  nlohmann::json levels = nlohmann::json::array();
  int64_t w = 300, h = 200;
  for (int i = 0; i < 3; ++i) {
    Image img = random_u8(w, h, k.channels, 10 + i);
    ArraySpec spec{.height = h,
                   .width = w,
                   .channels = k.channels,
                   .chunk_height = 64,
                   .chunk_width = 64,
                   .shard_height = k.shard,
                   .shard_width = k.shard,
                   .codec = Codec::zstd};
    auto level = writer.add_level(i, double(1 << i), spec, {.threads = 2});
    level.write(img.view());
    level.finish();
    std::ofstream(dir / ("level" + std::to_string(i) + ".raw"), std::ios::binary)
        .write(reinterpret_cast<const char*>(img.data()),
               static_cast<std::streamsize>(img.size_bytes()));
    levels.push_back({{"downsample", 1 << i},
                      {"height", h},
                      {"width", w},
                      {"channels", k.channels},
                      {"dtype", "uint8"}});
    w /= 2;
    h /= 2;
  }
  writer.finish();
  std::ofstream(dir / "levels.json") << levels.dump();
  std::string output;
  int rc = test::run_python("zarr_ome_check.py",
                            {root.string(), k.format == Format::v2 ? "0.4" : "0.5",
                             k.mpp ? "0.2527" : "none", k.mpp ? "0.2501" : "none", dir.string()},
                            &output);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("OK"), std::string::npos) << output;
}

TEST(ZarrOme, Ngff04OnV2WithMicronsIsAcceptedByOmeZarrPyAndValidator) {
  write_and_check({Format::v2, 3, true, 0}, "zarr_ome_v2");
}

TEST(ZarrOme, Ngff05OnV3ShardedIsAcceptedByOmeZarrPyAndValidator) {
  write_and_check({Format::v3, 3, true, 128}, "zarr_ome_v3");
}

TEST(ZarrOme, SingleChannelWithoutPixelSize) {
  write_and_check({Format::v3, 1, false, 0}, "zarr_ome_v3_gray");
}

TEST(ZarrOme, GroupMetadataWaitsForEveryLevel) {
  auto dir = test::scratch_dir("zarr_ome_unfinished");
  auto root = dir / "image.ome.zarr";
  auto writer = OmeZarrWriter::create(root, {.format = Format::v3});
  ArraySpec spec{.height = 64, .width = 64, .chunk_height = 32, .chunk_width = 32};
  auto level = writer.add_level(0, 1.0, spec);
  // Level 0 not finished: the group must not be declared.
  EXPECT_THROW(writer.finish(), Error);
  EXPECT_FALSE(std::filesystem::exists(root / "zarr.json"));
  EXPECT_FALSE(std::filesystem::exists(root / "0" / "zarr.json"));
}

TEST(ZarrOme, RefusesAnExistingOutputUnlessOverwrite) {
  auto dir = test::scratch_dir("zarr_ome_exists");
  auto root = dir / "image.ome.zarr";
  std::filesystem::create_directories(root);
  std::ofstream(root / "keep.txt") << "user data";
  try {
    OmeZarrWriter::create(root, {});
    FAIL() << "expected already_exists";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::already_exists);
    EXPECT_NE(std::string(e.what()).find(root.string()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::exists(root / "keep.txt"));
  // Not a Zarr: overwrite alone refuses it too; overwrite_any replaces it, but only at finish().
  EXPECT_THROW(OmeZarrWriter::create(root, {.overwrite = true}), Error);
  EXPECT_TRUE(std::filesystem::exists(root / "keep.txt"));
  auto writer = OmeZarrWriter::create(root, {.overwrite = true, .overwrite_any = true});
  auto level =
      writer.add_level(0, 1.0, {.height = 8, .width = 8, .chunk_height = 8, .chunk_width = 8});
  level.write(Image::allocate(8, 8, 1, DataType::uint8).view());
  level.finish();
  EXPECT_TRUE(std::filesystem::exists(root / "keep.txt"));
  writer.finish();
  EXPECT_FALSE(std::filesystem::exists(root / "keep.txt"));
  EXPECT_TRUE(std::filesystem::exists(root / "zarr.json"));
}

}  // namespace
}  // namespace slidestream::zarr
