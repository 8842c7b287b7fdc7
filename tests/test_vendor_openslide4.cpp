// Every vendor slide (Philips TIFF, Leica SCN, Ventana BIF; tests/fixtures/make_vendor_fixtures.py)
// against OpenSlide 4.0.1: detected as the same vendor; the same levels (sizes, downsamples),
// the same properties (OpenSlide's names and values) and associated images; and every level's
// pixels equal to OpenSlide's read_region, with our fill where OpenSlide draws nothing (missing
// tiles, padding past the image).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "slidestream/slide.hpp"
#include "vendor_reference.hpp"

namespace slidestream::test {
namespace {

// Not computed by slidestream (see tiff::add_common_properties): OpenSlide's SHA-256 of the
// lowest level's tiles, and the associated images' sizes (in associated_images()).
bool compared_property(const std::string& name) {
  return name != "openslide.quickhash-1" && !name.starts_with("openslide.associated.");
}

// A Leica SCN level off the tile grid is composed (vendor/tilemap_compose.hpp): 256² tiles,
// uncompressed; every stored level of the fixtures is JPEG.
int64_t composed_tile(const Level& l) {
  return l.compression == Compression::none ? l.tile_width : 0;
}

class VendorOpenSlide4 : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& f : vendor_fixtures()) {
      if (f.reference == "openslide4") fixtures.push_back(f);
    }
    ASSERT_FALSE(fixtures.empty());
  }
  nlohmann::json dump(const VendorFixture& f) {
    // ctest runs each test as its own process, in parallel: a folder per test and slide.
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    auto dir = scratch_dir(std::string("vendor_openslide4_") + info->name() + "_" + f.name);
    dirs[f.name] = dir;
    return openslide4_dump(f.path(), dir);
  }
  std::vector<VendorFixture> fixtures;
  std::map<std::string, std::filesystem::path> dirs;
};

TEST_F(VendorOpenSlide4, LevelsAndPropertiesEqualOpenSlide) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    auto meta = dump(f);
    ASSERT_FALSE(meta.is_null());
    EXPECT_EQ(meta.at("library_version"), "4.0.1");
    EXPECT_EQ(meta.at("vendor"), f.vendor);
    Slide slide = Slide::open(f.path());
    EXPECT_EQ(slide.format(), f.vendor);
    const auto& levels = meta.at("levels");
    ASSERT_EQ(slide.levels().size(), levels.size());
    for (size_t i = 0; i < levels.size(); ++i) {
      EXPECT_EQ(slide.levels()[i].width, levels[i].at("width").get<int64_t>()) << "level " << i;
      EXPECT_EQ(slide.levels()[i].height, levels[i].at("height").get<int64_t>()) << "level " << i;
      EXPECT_EQ(slide.levels()[i].downsample, levels[i].at("downsample").get<double>())
          << "level " << i;
    }
    std::map<std::string, std::string> theirs;
    for (const auto& [k, v] : meta.at("properties").items()) {
      if (compared_property(k)) theirs[k] = v.get<std::string>();
    }
    std::map<std::string, std::string> ours;
    for (const auto& [k, v] : slide.properties()) {
      if (compared_property(k)) ours[k] = v;
    }
    for (const auto& [k, v] : theirs) {
      auto it = ours.find(k);
      if (it == ours.end()) {
        ADD_FAILURE() << "missing property " << k << " = " << v;
      } else {
        EXPECT_EQ(it->second, v) << k;
      }
    }
    for (const auto& [k, v] : ours) {
      EXPECT_TRUE(theirs.contains(k)) << "property OpenSlide does not report: " << k << " = " << v;
    }
  }
}

TEST_F(VendorOpenSlide4, EveryLevelEqualsOpenSlideWithFillWhereItDrawsNothing) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    auto meta = dump(f);
    ASSERT_FALSE(meta.is_null());
    Slide slide = Slide::open(f.path());
    ASSERT_EQ(slide.levels().size(), meta.at("levels").size());
    for (const Level& l : slide.levels()) {
      auto rgba = read_bytes(dirs[f.name] / ("level-" + std::to_string(l.index) + ".rgba"));
      // Two fills, so that a filled pixel cannot pass by chance.
      for (uint8_t fill : {uint8_t{0}, uint8_t{255}}) {
        ReadOptions options;
        options.fill = fill;
        Image ours = slide.read_level(l.index, options);
        EXPECT_EQ(compare_rgba(ours, rgba, fill, composed_tile(l)), "")
            << "level " << l.index << ", fill " << int{fill};
      }
    }
  }
}

TEST_F(VendorOpenSlide4, AssociatedImagesEqualOpenSlide) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    auto meta = dump(f);
    ASSERT_FALSE(meta.is_null());
    Slide slide = Slide::open(f.path());
    std::set<std::string> ours, theirs;
    for (const auto& a : slide.associated_images()) ours.insert(a.name);
    for (const auto& [name, size] : meta.at("associated").items()) theirs.insert(name);
    EXPECT_EQ(ours, theirs);
    for (const auto& a : slide.associated_images()) {
      if (!theirs.contains(a.name)) continue;
      SCOPED_TRACE(a.name);
      const auto& size = meta.at("associated").at(a.name);
      EXPECT_EQ(a.width, size.at("width").get<int64_t>());
      EXPECT_EQ(a.height, size.at("height").get<int64_t>());
      Image image = slide.read_associated(a.name);
      auto rgba = read_bytes(dirs[f.name] / ("associated-" + a.name + ".rgba"));
      EXPECT_EQ(compare_rgba(image, rgba, 0), "");
    }
  }
}

TEST_F(VendorOpenSlide4, InfoShowsTheVendorAndItsProperties) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    std::string out;
    ASSERT_EQ(run_command(cli_path() + " info --json '" + f.path().string() + "'", &out), 0) << out;
    auto json = nlohmann::json::parse(out);
    EXPECT_EQ(json.at("format"), f.vendor);
    Slide slide = Slide::open(f.path());
    const auto shown = json.at("properties").get<std::map<std::string, std::string>>();
    EXPECT_TRUE(shown == slide.properties());
    int vendor_properties = 0;
    for (const auto& [k, v] : slide.properties())
      vendor_properties += k.starts_with(f.vendor + ".");
    EXPECT_GE(vendor_properties, 3);
  }
}

}  // namespace
}  // namespace slidestream::test
