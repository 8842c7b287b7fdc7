// `slidestream info SLIDE [--json]` against OpenSlide 3.4.1: the JSON carries the levels, mpp,
// objective power, associated images and properties OpenSlide reports; failures exit non-zero
// with one line naming the file.
#include <gtest/gtest.h>
#include <openslide/openslide.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support/test_support.hpp"

namespace {

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

TEST(InfoCli, JsonMatchesOpenSlide) {
  for (const char* name : {"cmu-1-small-region.svs", "boxes.tiff", "small.svs"}) {
    SCOPED_TRACE(name);
    std::string path = (slidestream::test::shared_testdata() / name).string();
    std::string out;
    ASSERT_EQ(slidestream::test::run_command(quote(slidestream::test::cli_path()) +
                                                 " info --json " + quote(path) + " 2>/dev/null",
                                             &out),
              0)
        << out;
    nlohmann::json info = nlohmann::json::parse(out);
    openslide_t* osr = openslide_open(path.c_str());
    ASSERT_NE(osr, nullptr);
    ASSERT_EQ(info["levels"].size(), static_cast<size_t>(openslide_get_level_count(osr)));
    for (int i = 0; i < openslide_get_level_count(osr); ++i) {
      int64_t w, h;
      openslide_get_level_dimensions(osr, i, &w, &h);
      const auto& l = info["levels"][i];
      EXPECT_EQ(l["width"].get<int64_t>(), w);
      EXPECT_EQ(l["height"].get<int64_t>(), h);
      EXPECT_DOUBLE_EQ(l["downsample"].get<double>(), openslide_get_level_downsample(osr, i));
      std::string prefix = "openslide.level[" + std::to_string(i) + "].";
      EXPECT_EQ(std::to_string(l["tile_width"].get<int>()),
                openslide_get_property_value(osr, (prefix + "tile-width").c_str()));
      EXPECT_EQ(std::to_string(l["tile_height"].get<int>()),
                openslide_get_property_value(osr, (prefix + "tile-height").c_str()));
      EXPECT_TRUE(l["compression"].is_string());
    }
    EXPECT_EQ(info["format"], openslide_get_property_value(osr, "openslide.vendor"));
    const char* mpp = openslide_get_property_value(osr, "openslide.mpp-x");
    if (mpp != nullptr) {
      EXPECT_DOUBLE_EQ(info["mpp_x"].get<double>(), std::strtod(mpp, nullptr));
      EXPECT_DOUBLE_EQ(info["mpp_y"].get<double>(),
                       std::strtod(openslide_get_property_value(osr, "openslide.mpp-y"), nullptr));
    }
    const char* mag = openslide_get_property_value(osr, "openslide.objective-power");
    if (mag != nullptr) {
      EXPECT_DOUBLE_EQ(info["objective_power"].get<double>(), std::strtod(mag, nullptr));
    }
    std::set<std::string> names, ref_names;
    for (const auto& a : info["associated_images"]) names.insert(a["name"].get<std::string>());
    for (const char* const* n = openslide_get_associated_image_names(osr); *n; ++n) {
      ref_names.insert(*n);
    }
    EXPECT_EQ(names, ref_names);
    for (const char* const* n = openslide_get_property_names(osr); *n; ++n) {
      std::string key = *n;
      if (key == "openslide.quickhash-1") continue;
      ASSERT_TRUE(info["properties"].contains(key)) << key;
      EXPECT_EQ(info["properties"][key], openslide_get_property_value(osr, *n)) << key;
    }
    openslide_close(osr);
  }
}

TEST(InfoCli, TextListsLevelsAndAssociatedImages) {
  std::string path = (slidestream::test::shared_testdata() / "cmu-1-small-region.svs").string();
  std::string out;
  ASSERT_EQ(slidestream::test::run_command(
                quote(slidestream::test::cli_path()) + " info " + quote(path), &out),
            0);
  EXPECT_NE(out.find("aperio"), std::string::npos) << out;
  EXPECT_NE(out.find("2220"), std::string::npos) << out;
  EXPECT_NE(out.find("label"), std::string::npos) << out;
  EXPECT_NE(out.find("macro"), std::string::npos) << out;
}

TEST(InfoCli, BrokenFileExitsNonZeroWithOneLine) {
  std::string path = (slidestream::test::shared_testdata() / "broken.svs").string();
  std::string out;
  int rc = slidestream::test::run_command(
      quote(slidestream::test::cli_path()) + " info --json " + quote(path), &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("broken.svs"), std::string::npos) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
}

}  // namespace
