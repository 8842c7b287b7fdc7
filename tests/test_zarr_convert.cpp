// `slidestream convert`: slides to OME-Zarr that zarr-python reads with the pixels tifffile reads
// from the slide, for v2 / v3 / sharded and each codec; refusing to overwrite; clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>

#include "support/test_support.hpp"

namespace slidestream {
namespace {

struct ConvertCase {
  std::string name;  // test name suffix and scratch directory
  std::string fixture;
  std::string flags;
  std::string levels;  // the slide levels the output holds, in order
};

void PrintTo(const ConvertCase& c, std::ostream* os) {
  *os << c.name;
}

class ZarrConvert : public ::testing::TestWithParam<ConvertCase> {};

TEST_P(ZarrConvert, OutputEqualsTheSlideReadByTifffile) {
  const auto& c = GetParam();
  auto slide = test::fixture(c.fixture);
  auto dir = test::scratch_dir("zarr_convert_" + c.name);
  auto out = dir / "out.ome.zarr";
  std::string output;
  int rc = test::run_command(
      test::cli_path() + " convert '" + slide.string() + "' '" + out.string() + "' " + c.flags,
      &output);
  ASSERT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("converted"), std::string::npos) << output;
  rc = test::run_python("zarr_convert_check.py", {out.string(), slide.string(), c.levels}, &output);
  EXPECT_EQ(rc, 0) << output;
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, ZarrConvert,
    ::testing::Values(
        ConvertCase{"v2_zstd", "vips-lzw-512.tif", "--chunk 256 --zarr-format 2 --codec zstd",
                    "0,1"},
        ConvertCase{"v3_shard_blosc", "vips-lzw-512.tif",
                    "--chunk 128 --shard 512 --codec blosc-lz4 --threads 3", "0,1"},
        ConvertCase{"v3_levels_1_2", "vips-none-256.tif", "--chunk 200 --levels 1,2", "1,2"},
        ConvertCase{"v3_grey16_zstd", "tf-grey16-zstd-256.tif", "--chunk 256 --codec zstd", "0"},
        ConvertCase{"v2_float32", "tf-float32-none-256.tif", "--chunk 100 --zarr-format 2", "0"}),
    [](const ::testing::TestParamInfo<ConvertCase>& info) { return info.param.name; });

// --layout yxc: the seed's own files, (H, W, C) arrays with (n, n, C) chunks and no transpose,
// v2 and v3, sharded too; one level is a plain array, several a plain group.
struct YxcCase {
  std::string name;
  std::string flags;
  std::string levels;
  std::string chunk;
};

class ZarrConvertYxc : public ::testing::TestWithParam<YxcCase> {};

TEST_P(ZarrConvertYxc, ArraysAreHeightWidthChannelsInZarrPythonAndTensorstore) {
  const auto& c = GetParam();
  auto slide = test::fixture("vips-lzw-512.tif");
  auto out = test::scratch_dir("zarr_convert_yxc_" + c.name) / "out.zarr";
  std::string output;
  int rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" +
                                 out.string() + "' --layout yxc --levels " + c.levels +
                                 " --chunk " + c.chunk + " " + c.flags,
                             &output);
  ASSERT_EQ(rc, 0) << output;
  rc = test::run_python("zarr_yxc_check.py", {out.string(), slide.string(), c.levels, c.chunk},
                        &output);
  EXPECT_EQ(rc, 0) << output;
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, ZarrConvertYxc,
    ::testing::Values(YxcCase{"v2_one_level", "--zarr-format 2", "0", "256"},
                      YxcCase{"v2_levels_zstd", "--zarr-format 2 --codec zstd", "0,1", "200"},
                      YxcCase{"v3_one_level", "--zarr-format 3", "0", "256"},
                      YxcCase{"v3_sharded_levels", "--zarr-format 3 --shard 512", "0,1", "128"}),
    [](const ::testing::TestParamInfo<YxcCase>& info) { return info.param.name; });

TEST(ZarrConvertCli, RefusesAnExistingOutputWithoutOverwrite) {
  auto slide = test::fixture("vips-none-256.tif");
  auto dir = test::scratch_dir("zarr_convert_exists");
  auto out = dir / "out.ome.zarr";
  std::filesystem::create_directories(out);
  std::string output;
  int rc = test::run_command(
      test::cli_path() + " convert '" + slide.string() + "' '" + out.string() + "'", &output);
  EXPECT_NE(rc, 0);
  EXPECT_NE(output.find("exists"), std::string::npos) << output;
  EXPECT_NE(output.find(out.string()), std::string::npos) << output;
  rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" + out.string() +
                             "' --overwrite --levels 2",
                         &output);
  EXPECT_EQ(rc, 0) << output;
}

TEST(ZarrConvertCli, RejectsBadOptionsClearly) {
  auto slide = test::fixture("vips-none-256.tif");
  auto dir = test::scratch_dir("zarr_convert_bad");
  std::string output;
  int rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" +
                                 (dir / "a.zarr").string() + "' --zarr-format 2 --shard 1024",
                             &output);
  EXPECT_NE(rc, 0);
  EXPECT_NE(output.find("--shard needs --zarr-format 3"), std::string::npos) << output;
  rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" +
                             (dir / "b.zarr").string() + "' --levels 9",
                         &output);
  EXPECT_NE(rc, 0);
  EXPECT_NE(output.find("--levels"), std::string::npos) << output;
  // cuFile moves pixels between GPU memory and files: asked for with host pixels, it is refused
  // before anything is written.
  rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" +
                             (dir / "c.zarr").string() + "' --device cpu --io cufile",
                         &output);
  EXPECT_NE(rc, 0);
  EXPECT_NE(output.find("--io cufile"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(dir / "c.zarr"));
  rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" +
                             (dir / "d.zarr").string() + "' --io-depth -1",
                         &output);
  EXPECT_NE(rc, 0);
  EXPECT_NE(output.find("--io-depth"), std::string::npos) << output;
}

std::string contents(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(ZarrConvertCli, IoDepthChangesNoByte) {
  auto slide = test::fixture("vips-none-256.tif");
  auto dir = test::scratch_dir("zarr_convert_depth");
  std::string output;
  for (const char* depth : {"1", "0", "7"}) {
    int rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" +
                                   (dir / depth).string() + "' --chunk 200 --io-depth " + depth,
                               &output);
    ASSERT_EQ(rc, 0) << output;
  }
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir / "1")) {
    if (!entry.is_regular_file()) continue;
    auto rel = std::filesystem::relative(entry.path(), dir / "1");
    for (const char* other : {"0", "7"}) {
      ASSERT_TRUE(std::filesystem::exists(dir / other / rel)) << rel;
      EXPECT_EQ(contents(entry.path()), contents(dir / other / rel)) << rel;
    }
    ++files;
  }
  EXPECT_GT(files, 3u);
}

}  // namespace
}  // namespace slidestream
