// Levels, tile sizes, compression tags, byte orders and metadata (mpp from OME-XML or the TIFF
// resolution tags, objective power, OME associated images) against tifffile
// (tests/python/metadata_reference.py), on every fixture and on small tifffile variants that
// cover big-endian, BigTIFF, SubIFD pyramids and OME-XML. These are the cases OpenSlide 3.4.1
// cannot judge (it refuses big-endian files, ignores SubIFDs and derives no generic mpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "source/slide_impl.hpp"
#include "support/test_support.hpp"
#include "tiff/metadata.hpp"

namespace fs = std::filesystem;
using slidestream::Slide;

namespace {

// ctest runs each test as its own process, in parallel: a scratch folder per test, so that one
// test's fresh folder never deletes another's files.
std::string per_test(const std::string& base) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? base + "_" + info->test_suite_name() + "_" + info->name() : base;
}

fs::path made_dir() {
  static const fs::path dir = [] {
    fs::path d = slidestream::test::scratch_dir(per_test("metadata_tiff_make"));
    std::string log;
    if (slidestream::test::run_python("tiff_make.py", {d.string()}, &log) != 0) {
      ADD_FAILURE() << "tiff_make.py failed:\n" << log;
    }
    return d;
  }();
  return dir;
}

nlohmann::json reference(const fs::path& path) {
  std::string out;
  int rc = slidestream::test::run_python("metadata_reference.py", {path.string()}, &out);
  if (rc != 0) {
    ADD_FAILURE() << "metadata_reference.py failed on " << path << ":\n" << out;
    return {};
  }
  return nlohmann::json::parse(out);
}

void expect_optional_near(std::optional<double> ours, const nlohmann::json& ref, const char* what) {
  if (ref.is_null()) {
    EXPECT_FALSE(ours.has_value()) << what << " = " << ours.value_or(0);
  } else {
    ASSERT_TRUE(ours.has_value()) << what << " missing, tifffile says " << ref;
    EXPECT_NEAR(*ours, ref.get<double>(), 1e-9 * std::abs(ref.get<double>())) << what;
  }
}

void compare_with_tifffile(const fs::path& path) {
  SCOPED_TRACE(path.string());
  nlohmann::json ref = reference(path);
  if (ref.is_null()) return;
  Slide slide = Slide::open(path);
  if (ref["is_aperio"].get<bool>()) {
    EXPECT_EQ(slide.format(), "aperio");
  } else if (ref["is_ome"].get<bool>()) {
    EXPECT_EQ(slide.format(), "ome-tiff");
  } else {
    EXPECT_EQ(slide.format(), "generic-tiff");
  }
  const auto& levels = ref["levels"];
  ASSERT_EQ(slide.levels().size(), levels.size());
  for (size_t i = 0; i < levels.size(); ++i) {
    const auto& l = slide.levels()[i];
    const auto& r = levels[i];
    EXPECT_EQ(l.width, r["width"].get<int64_t>()) << "level " << i;
    EXPECT_EQ(l.height, r["height"].get<int64_t>()) << "level " << i;
    EXPECT_EQ(l.tile_width, r["tile_width"].get<uint32_t>()) << "level " << i;
    EXPECT_EQ(l.tile_height, r["tile_height"].get<uint32_t>()) << "level " << i;
    EXPECT_EQ(static_cast<int>(l.compression), r["compression"].get<int>()) << "level " << i;
    EXPECT_EQ(l.samples_per_pixel, r["samples_per_pixel"].get<int>()) << "level " << i;
    EXPECT_EQ(l.channels, r["samples_per_pixel"].get<int>()) << "level " << i;
    EXPECT_EQ(l.bits_per_sample, r["bits_per_sample"].get<int>()) << "level " << i;
    EXPECT_EQ(l.planar_configuration, r["planar_configuration"].get<int>()) << "level " << i;
    double downsample = (static_cast<double>(levels[0]["width"].get<int64_t>()) / l.width +
                         static_cast<double>(levels[0]["height"].get<int64_t>()) / l.height) /
                        2;
    EXPECT_DOUBLE_EQ(l.downsample, downsample) << "level " << i;
    EXPECT_EQ(l.tiles_across, (l.width + l.tile_width - 1) / l.tile_width);
    EXPECT_EQ(l.tiles_down, (l.height + l.tile_height - 1) / l.tile_height);
  }
  if (!ref["is_aperio"].get<bool>()) {
    expect_optional_near(slide.mpp_x(), ref["mpp_x"], "mpp_x");
    expect_optional_near(slide.mpp_y(), ref["mpp_y"], "mpp_y");
    expect_optional_near(slide.objective_power(), ref["objective_power"], "objective_power");
    const auto& props = slide.properties();
    if (slide.mpp_x()) {
      EXPECT_EQ(props.at("openslide.mpp-x"), slidestream::tiff::format_double(*slide.mpp_x()));
    } else {
      EXPECT_EQ(props.count("openslide.mpp-x"), 0u);
    }
  }
  if (ref.contains("associated")) {
    ASSERT_EQ(slide.associated_images().size(), ref["associated"].size());
    for (const auto& a : slide.associated_images()) {
      ASSERT_TRUE(ref["associated"].contains(a.name)) << a.name;
      EXPECT_EQ(a.width, ref["associated"][a.name][0].get<int64_t>());
      EXPECT_EQ(a.height, ref["associated"][a.name][1].get<int64_t>());
    }
  }
}

std::vector<fs::path> slides_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    auto ext = entry.path().extension().string();
    if (ext == ".tif" || ext == ".tiff" || ext == ".svs") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(MetadataReference, ByteOrdersBigTiffSubIfdsAndOmeMatchTifffile) {
  int compared = 0;
  for (const fs::path& path : slides_in(made_dir())) {
    if (path.filename() == "stripped.tif" || path.filename().string().starts_with("unsupported-")) {
      continue;
    }
    compare_with_tifffile(path);
    ++compared;
  }
  EXPECT_GE(compared, 6);
}

TEST(MetadataReference, EveryFixtureMatchesTifffile) {
  // Empty while the fixtures are not generated yet (ctest's make_fixtures runs first).
  for (const fs::path& path : slides_in(slidestream::test::fixture_dir())) {
    compare_with_tifffile(path);
  }
  for (const char* name : {"cmu-1-small-region.svs", "boxes.tiff", "small.svs"}) {
    compare_with_tifffile(slidestream::test::shared_testdata() / name);
  }
}

TEST(MetadataReference, ByteOrderAndBigTiffAreVisibleInTheModel) {
  Slide be = Slide::open(made_dir() / "be-classic-rgb.tif");
  EXPECT_TRUE(be.impl().level_source(0).format().big_endian);
  Slide le = Slide::open(made_dir() / "le-bigtiff-rgb.tif");
  EXPECT_FALSE(le.impl().level_source(0).format().big_endian);
  // Resolution 4000/cm -> 2.5 µm; 50800/inch -> 0.5 µm (OpenSlide 4's rule).
  EXPECT_DOUBLE_EQ(*be.mpp_x(), 2.5);
  EXPECT_DOUBLE_EQ(*le.mpp_y(), 0.5);
  EXPECT_EQ(be.properties().at("tiff.ResolutionUnit"), "centimeter");
  EXPECT_EQ(le.properties().at("tiff.ResolutionUnit"), "inch");
}

TEST(MetadataReference, MultiPlaneOmeIsUnsupportedWithTheReason) {
  try {
    Slide::open(made_dir() / "unsupported-ome-channels.ome.tif");
    FAIL() << "no error";
  } catch (const slidestream::Error& e) {
    EXPECT_EQ(e.kind(), slidestream::ErrorKind::unsupported);
    std::string what = e.what();
    EXPECT_NE(what.find("unsupported-ome-channels.ome.tif"), std::string::npos) << what;
    EXPECT_NE(what.find("3 channels (1 per plane)"), std::string::npos) << what;
  }
}

TEST(MetadataReference, StrippedTiffIsUnsupportedWithTheReason) {
  try {
    Slide::open(made_dir() / "stripped.tif");
    FAIL() << "no error";
  } catch (const slidestream::Error& e) {
    EXPECT_EQ(e.kind(), slidestream::ErrorKind::unsupported);
    std::string what = e.what();
    EXPECT_NE(what.find("stripped.tif"), std::string::npos) << what;
    EXPECT_NE(what.find("strips, not tiles"), std::string::npos) << what;
  }
}

}  // namespace
