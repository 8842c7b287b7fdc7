// Hamamatsu NDPI against OpenSlide 4.0.1 (openslide-bin, through tests/python/ndpi_reference.py):
// on every generated NDPI (tests/fixtures/make_ndpi_fixtures.py) and on one over 4 GiB made
// here as a sparse file, the same vendor, levels (OpenSlide's scaled levels included), tile
// sizes, downsamples, properties and associated images, and every level's and associated
// image's pixels identical to OpenSlide's read_region. Plus the TIFF parser's NDPI mode and
// `slidestream info` on an NDPI.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ndpi_fixtures.hpp"
#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"
#include "tiff/tiff_parser.hpp"

namespace fs = std::filesystem;
using slidestream::Image;
using slidestream::Slide;

namespace {

std::string per_test(const std::string& base) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? base + "_" + info->test_suite_name() + "_" + info->name() : base;
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// OpenSlide's RGBA as RGB. Pixels are opaque, but for the rows below a level's last whole row of
// pseudo-tiles, which OpenSlide leaves transparent (0, 0, 0, 0) and we fill with
// ReadOptions::fill (0).
std::vector<uint8_t> rgb_of(const std::vector<uint8_t>& rgba, std::string* problem) {
  std::vector<uint8_t> rgb;
  rgb.reserve(rgba.size() / 4 * 3);
  for (size_t i = 0; i + 3 < rgba.size(); i += 4) {
    const bool transparent_black = rgba[i] == 0 && rgba[i + 1] == 0 && rgba[i + 2] == 0;
    if (rgba[i + 3] != 255 && !(rgba[i + 3] == 0 && transparent_black) && problem->empty()) {
      *problem = "OpenSlide pixel " + std::to_string(i / 4) + " is partly transparent";
    }
    rgb.insert(rgb.end(), rgba.begin() + static_cast<long>(i),
               rgba.begin() + static_cast<long>(i) + 3);
  }
  return rgb;
}

std::string differences(const Image& ours, const std::vector<uint8_t>& theirs) {
  const auto* b = reinterpret_cast<const uint8_t*>(ours.data());
  std::vector<uint8_t> mine(b, b + ours.size_bytes());
  if (mine.size() != theirs.size()) {
    return "sizes differ: " + std::to_string(mine.size()) + " vs " + std::to_string(theirs.size());
  }
  size_t differing = 0, first = 0;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (mine[i] != theirs[i] && differing++ == 0) first = i;
  }
  if (differing == 0) return "";
  const size_t px = first / 3, w = static_cast<size_t>(ours.width());
  return std::to_string(differing) + " bytes differ, first at (" + std::to_string(px % w) + ", " +
         std::to_string(px / w) + ")";
}

void compare_levels(const Slide& slide, const nlohmann::json& info, const fs::path& ref) {
  const auto& levels = info.at("levels");
  ASSERT_EQ(slide.levels().size(), levels.size());
  for (size_t i = 0; i < levels.size(); ++i) {
    SCOPED_TRACE("level " + std::to_string(i));
    const auto& level = slide.level(static_cast<int>(i));
    EXPECT_EQ(level.width, levels[i].at("width").get<int64_t>());
    EXPECT_EQ(level.height, levels[i].at("height").get<int64_t>());
    EXPECT_DOUBLE_EQ(level.downsample, levels[i].at("downsample").get<double>());
    std::string problem;
    auto theirs = rgb_of(read_bytes(ref / ("level_" + std::to_string(i) + ".rgba")), &problem);
    EXPECT_EQ(problem, "");
    EXPECT_EQ(differences(slide.read_level(static_cast<int>(i)), theirs), "");
  }
}

void compare_associated(const Slide& slide, const nlohmann::json& info, const fs::path& ref) {
  std::map<std::string, std::pair<int64_t, int64_t>> ours, theirs;
  for (const auto& a : slide.associated_images()) ours[a.name] = {a.width, a.height};
  for (const auto& [name, size] : info.at("associated").items()) {
    theirs[name] = {size.at(0).get<int64_t>(), size.at(1).get<int64_t>()};
  }
  EXPECT_EQ(ours, theirs);
  for (const auto& [name, size] : theirs) {
    if (ours.count(name) == 0) continue;
    SCOPED_TRACE("associated image " + name);
    std::string problem;
    auto pixels = rgb_of(read_bytes(ref / ("associated_" + name + ".rgba")), &problem);
    EXPECT_EQ(problem, "");
    EXPECT_EQ(differences(slide.read_associated(name), pixels), "");
  }
}

// Everything OpenSlide reports but openslide.quickhash-1 (a hash of raw tiles we do not compute).
void compare_properties(const Slide& slide, const nlohmann::json& info) {
  std::map<std::string, std::string> theirs;
  for (const auto& [key, value] : info.at("properties").items()) {
    if (key != "openslide.quickhash-1") theirs[key] = value.get<std::string>();
  }
  EXPECT_EQ(slide.properties(), theirs);
}

void compare_with_openslide_4(const fs::path& path) {
  SCOPED_TRACE(path.string());
  const fs::path ref = slidestream::test::scratch_dir(per_test("ndpi_ref_" + path.stem().string()));
  std::string log;
  ASSERT_EQ(slidestream::test::run_python("ndpi_reference.py", {path.string(), ref.string()}, &log),
            0)
      << log;
  std::ifstream in(ref / "info.json");
  const nlohmann::json info = nlohmann::json::parse(in);
  ASSERT_EQ(info.at("library").get<std::string>(), "4.0.1");
  Slide slide = Slide::open(path);
  EXPECT_EQ(slide.format(), info.at("vendor").get<std::string>());
  compare_levels(slide, info, ref);
  compare_associated(slide, info, ref);
  compare_properties(slide, info);
  fs::remove_all(ref);
}

TEST(VendorNdpi, EveryFixtureEqualsOpenSlide401) {
  const auto fixtures = slidestream::test::ndpi_fixtures();
  ASSERT_FALSE(fixtures.empty()) << "no NDPI fixtures in " << slidestream::test::ndpi_fixture_dir();
  for (const fs::path& path : fixtures) compare_with_openslide_4(path);
}

TEST(VendorNdpi, SlideOver4GiBEqualsOpenSlide401) {
  const fs::path dir = slidestream::test::scratch_dir(per_test("ndpi_sparse"));
  std::string why;
  bool unsupported = false;
  const fs::path path = slidestream::test::make_sparse_ndpi(dir, &why, &unsupported);
  if (unsupported) GTEST_SKIP() << why;
  ASSERT_FALSE(path.empty()) << why;
  ASSERT_GT(fs::file_size(path), uint64_t{1} << 32);
  compare_with_openslide_4(path);
  fs::remove_all(dir);
}

TEST(VendorNdpi, TiffParserReadsNdpiInItsDialectAndClassicTiffAsBefore) {
  const auto fixtures = slidestream::test::ndpi_fixtures();
  ASSERT_FALSE(fixtures.empty());
  for (const fs::path& path :
       {fixtures.front(), slidestream::test::shared_testdata() / "boxes.tiff"}) {
    SCOPED_TRACE(path.string());
    slidestream::io::File file(path, slidestream::io::File::Mode::read);
    slidestream::tiff::TiffFile tf(file, fs::file_size(path));
    const bool ndpi = path.extension() == ".ndpi";
    EXPECT_EQ(tf.ndpi(), ndpi);
    const auto* flag = tf.ifds().front().find(slidestream::tiff::tag::ndpi_format_flag);
    EXPECT_EQ(flag != nullptr, ndpi);
  }
}

TEST(VendorNdpi, InfoShowsTheVendorAndEveryProperty) {
  const auto fixtures = slidestream::test::ndpi_fixtures();
  ASSERT_FALSE(fixtures.empty());
  Slide slide = Slide::open(fixtures.front());
  std::string out;
  ASSERT_EQ(
      slidestream::test::run_command(
          "'" + slidestream::test::cli_path() + "' info '" + fixtures.front().string() + "'", &out),
      0)
      << out;
  EXPECT_NE(out.find("format:            " + slide.format() + "\n"), std::string::npos) << out;
  EXPECT_EQ(slide.format(), "hamamatsu");
  for (const auto& [key, value] : slide.properties()) {
    EXPECT_NE(out.find("  " + key + " = " + value + "\n"), std::string::npos) << key;
  }
}

}  // namespace
