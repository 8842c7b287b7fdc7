// `slidestream region` writes files that other readers open with the right pixels: PNG read by
// PIL, TIFF read by tifffile, compared with OpenSlide's read_region (RGB) or libtiff (16-bit).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_read_util.hpp"

namespace slidestream::test {
namespace {

struct Decoded {
  int64_t height = 0, width = 0;
  int channels = 0;
  std::string dtype;
  std::vector<uint8_t> bytes;
};

Decoded decode_file(const std::filesystem::path& file, const std::filesystem::path& scratch) {
  Decoded d;
  auto raw = scratch / (file.filename().string() + ".raw");
  std::string out;
  EXPECT_EQ(run_python("read_image_file.py", {file.string(), raw.string()}, &out), 0) << out;
  std::istringstream(out) >> d.height >> d.width >> d.channels >> d.dtype;
  std::ifstream in(raw, std::ios::binary);
  d.bytes.assign(std::istreambuf_iterator<char>(in), {});
  return d;
}

std::string region_cmd(const std::filesystem::path& slide, int level, int64_t x, int64_t y,
                       int64_t w, int64_t h, const std::filesystem::path& out) {
  return "'" + cli_path() + "' region '" + slide.string() + "' --level " + std::to_string(level) +
         " --x " + std::to_string(x) + " --y " + std::to_string(y) + " --width " +
         std::to_string(w) + " --height " + std::to_string(h) + " -o '" + out.string() + "'";
}

TEST(CliRegion, PngAndTiffEqualOpenSlide) {
  auto scratch = scratch_dir("CliRegion.PngAndTiff");
  const auto slide = shared_testdata() / "cmu-1-small-region.svs";
  const int64_t x = 2000, y = 2800, w = 300, h = 250;  // runs past the right and bottom edges
  // OpenSlide's region: opaque inside the level, transparent black (our default fill) outside.
  openslide_t* osr = openslide_open(slide.c_str());
  ASSERT_NE(osr, nullptr);
  std::vector<uint32_t> argb(w * h);
  openslide_read_region(osr, argb.data(), x, y, 0, w, h);
  openslide_close(osr);
  std::vector<uint8_t> want;
  for (uint32_t v : argb) {
    want.push_back(static_cast<uint8_t>(v >> 16));
    want.push_back(static_cast<uint8_t>(v >> 8));
    want.push_back(static_cast<uint8_t>(v));
  }
  for (const char* name : {"region.png", "region.tif"}) {
    SCOPED_TRACE(name);
    std::string output;
    ASSERT_EQ(run_command(region_cmd(slide, 0, x, y, w, h, scratch / name), &output), 0) << output;
    Decoded d = decode_file(scratch / name, scratch);
    EXPECT_EQ(d.width, w);
    EXPECT_EQ(d.height, h);
    EXPECT_EQ(d.channels, 3);
    EXPECT_EQ(d.dtype, "uint8");
    EXPECT_TRUE(d.bytes == want);
  }
}

TEST(CliRegion, SixteenBitGreyPngEqualsLibtiff) {
  auto scratch = scratch_dir("CliRegion.Grey16");
  const auto slide = fixture("tf-grey16-zstd-256.tif");
  Slide s = Slide::open(slide);
  Pixels level = libtiff_level(slide, ifd_offset_of(s, 0));
  ASSERT_TRUE(level.error.empty()) << level.error;
  const int64_t x = 100, y = 50, w = 400, h = 300;
  std::string output;
  ASSERT_EQ(run_command(region_cmd(slide, 0, x, y, w, h, scratch / "g.png"), &output), 0) << output;
  Decoded d = decode_file(scratch / "g.png", scratch);
  EXPECT_EQ(d.channels, 1);
  EXPECT_EQ(d.dtype, "uint16");
  ASSERT_EQ(d.bytes.size(), size_t(w * h * 2));
  for (int64_t r = 0; r < h; ++r) {
    ASSERT_EQ(std::memcmp(d.bytes.data() + r * w * 2,
                          level.bytes.data() + ((y + r) * level.width + x) * 2, w * 2),
              0)
        << "row " << r;
  }
}

TEST(CliRegion, FailuresExitNonZeroWithOneLine) {
  auto scratch = scratch_dir("CliRegion.Failures");
  std::string output;
  EXPECT_NE(run_command(region_cmd(shared_testdata() / "unreadable.svs", 0, 0, 0, 16, 16,
                                   scratch / "x.png"),
                        &output),
            0);
  EXPECT_NE(output.find("unreadable.svs"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(scratch / "x.png"));
  EXPECT_NE(run_command(
                region_cmd(fixture("tf-float32-fpred-256.tif"), 0, 0, 0, 16, 16, scratch / "f.png"),
                &output),
            0);
  EXPECT_NE(output.find(".tif"), std::string::npos) << output;
  EXPECT_NE(
      run_command(region_cmd(shared_testdata() / "boxes.tiff", 9, 0, 0, 16, 16, scratch / "l.png"),
                  &output),
      0);
}

}  // namespace
}  // namespace slidestream::test
