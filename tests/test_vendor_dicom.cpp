// Every DICOM WSI fixture (tests/fixtures/make_dicom_fixtures.py: JPEG, JPEG 2000 ICT and RGB,
// uncompressed, TILED_SPARSE, a concatenation of 3 files) against OpenSlide 4.0.1: detected as
// dicom, the same levels, properties (OpenSlide's names and values) and associated images, and
// every level's pixels equal to OpenSlide's read_region (whole levels, and regions at several
// places, across tile and image edges), with our fill where OpenSlide draws nothing (the sparse
// level's missing tiles). The series opens the same from its directory and from any of its files.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "dicom_reference.hpp"
#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"
#include "vendor_reference.hpp"

namespace slidestream::test {
namespace {

bool compared_property(const std::string& name) {
  return name != "openslide.quickhash-1" && !name.starts_with("openslide.associated.");
}

// Rows [y, y+h) and columns [x, x+w) of a width-wide RGBA image; transparent outside it.
std::vector<uint8_t> crop_rgba(const std::vector<uint8_t>& rgba, int64_t width, int64_t height,
                               int64_t x, int64_t y, int64_t w, int64_t h) {
  std::vector<uint8_t> out(static_cast<size_t>(w * h * 4), 0);
  for (int64_t r = 0; r < h; ++r) {
    for (int64_t c = 0; c < w; ++c) {
      const int64_t sx = x + c, sy = y + r;
      if (sx < 0 || sy < 0 || sx >= width || sy >= height) continue;
      const size_t from = static_cast<size_t>((sy * width + sx) * 4);
      const size_t to = static_cast<size_t>((r * w + c) * 4);
      std::copy_n(rgba.begin() + static_cast<std::ptrdiff_t>(from), 4,
                  out.begin() + static_cast<std::ptrdiff_t>(to));
    }
  }
  return out;
}

// Lossy JPEG 2000 (YBR_ICT: the irreversible 9/7 wavelet and colour transform in floating
// point) decodes differently by a rounding step between OpenJPEG releases: ours is Debian's
// 2.5.0, OpenSlide 4.0.1's wheel bundles a later 2.5. There, pixels may differ by 1 in at most
// 1 in 10,000 samples; every other series must be equal.
std::string compare_lossy_rgba(const Image& ours, const std::vector<uint8_t>& rgba, uint8_t fill,
                               bool lossy_jpeg2000) {
  if (!lossy_jpeg2000) return compare_rgba(ours, rgba, fill);
  const size_t n = static_cast<size_t>(ours.width() * ours.height());
  if (ours.channels() != 3 || rgba.size() != n * 4) return "shape differs";
  const auto* p = reinterpret_cast<const uint8_t*>(ours.data());
  size_t off = 0, far = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < 3; ++c) {
      const int want = rgba[4 * i + 3] == 0 ? fill : rgba[4 * i + c];
      const int d = std::abs(int{p[3 * i + c]} - want);
      off += d == 1;
      far += d > 1;
    }
  }
  if (far == 0 && off * 10000 <= n * 3) return {};
  return std::to_string(far) + " samples differ by more than 1, " + std::to_string(off) +
         " by 1, of " + std::to_string(n * 3);
}

class VendorDicom : public ::testing::Test {
 protected:
  void SetUp() override {
    fixtures = dicom_fixtures();
    ASSERT_GE(fixtures.size(), 6u);
  }
  nlohmann::json dump(const DicomFixture& f) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    auto dir = scratch_dir(std::string("vendor_dicom_") + info->name() + "_" + f.name);
    dirs[f.name] = dir;
    return openslide4_dump(f.file(), dir);
  }
  std::vector<DicomFixture> fixtures;
  std::map<std::string, std::filesystem::path> dirs;
};

TEST_F(VendorDicom, LevelsAndPropertiesEqualOpenSlide) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    auto meta = dump(f);
    ASSERT_FALSE(meta.is_null());
    EXPECT_EQ(meta.at("library_version"), "4.0.1");
    EXPECT_EQ(meta.at("vendor"), "dicom");
    Slide slide = Slide::open(f.file());
    EXPECT_EQ(slide.format(), "dicom");
    const auto& levels = meta.at("levels");
    ASSERT_EQ(slide.levels().size(), levels.size());
    EXPECT_GE(levels.size(), 4u);
    for (size_t i = 0; i < levels.size(); ++i) {
      EXPECT_EQ(slide.levels()[i].width, levels[i].at("width").get<int64_t>()) << "level " << i;
      EXPECT_EQ(slide.levels()[i].height, levels[i].at("height").get<int64_t>()) << "level " << i;
      EXPECT_EQ(slide.levels()[i].downsample, levels[i].at("downsample").get<double>())
          << "level " << i;
    }
    std::map<std::string, std::string> theirs, ours;
    for (const auto& [k, v] : meta.at("properties").items()) {
      if (compared_property(k)) theirs[k] = v.get<std::string>();
    }
    for (const auto& [k, v] : slide.properties()) {
      if (compared_property(k)) ours[k] = v;
    }
    EXPECT_GE(theirs.size(), 100u);
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
    ASSERT_TRUE(slide.mpp_x().has_value());
    EXPECT_DOUBLE_EQ(*slide.mpp_x(), std::stod(theirs.at("openslide.mpp-x")));
  }
}

TEST_F(VendorDicom, EveryLevelAndRegionEqualsOpenSlideWithFillWhereItDrawsNothing) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    auto meta = dump(f);
    ASSERT_FALSE(meta.is_null());
    Slide slide = Slide::open(f.file());
    ASSERT_EQ(slide.levels().size(), meta.at("levels").size());
    for (const Level& l : slide.levels()) {
      SCOPED_TRACE("level " + std::to_string(l.index));
      auto rgba = read_bytes(dirs[f.name] / ("level-" + std::to_string(l.index) + ".rgba"));
      for (uint8_t fill : {uint8_t{0}, uint8_t{255}}) {
        ReadOptions options;
        options.fill = fill;
        Image ours = slide.read_level(l.index, options);
        EXPECT_EQ(compare_lossy_rgba(ours, rgba, fill, f.name == "dcm-jp2k-ict"), "")
            << "fill " << int{fill};
      }
      // Regions: inside one tile, across tile corners, across the image's right/bottom edges,
      // partly before the origin.
      const int64_t tw = l.tile_width, th = l.tile_height;
      const std::vector<std::array<int64_t, 4>> regions = {
          {3, 5, 17, 11},
          {tw - 7, th - 9, 31, 29},
          {l.width - 50, l.height - 40, 100, 90},
          {-20, -10, 64, 48},
          {l.width / 3, l.height / 2, std::min<int64_t>(300, l.width), 256},
      };
      for (const auto& [x, y, w, h] : regions) {
        ReadOptions options;
        options.fill = 7;
        Image ours = slide.read_region(l.index, x, y, w, h, options);
        EXPECT_EQ(compare_lossy_rgba(ours, crop_rgba(rgba, l.width, l.height, x, y, w, h), 7,
                                     f.name == "dcm-jp2k-ict"),
                  "")
            << "region " << x << "," << y << " " << w << "x" << h;
      }
    }
  }
}

// The batch path (read_regions on host threads, tiles planned once across regions) over every
// level: 120 regions of 200 x 150 equal OpenSlide's pixels at those places.
TEST_F(VendorDicom, RegionBatchesEqualOpenSlide) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    auto meta = dump(f);
    ASSERT_FALSE(meta.is_null());
    Slide slide = Slide::open(f.dir());
    for (const Level& l : slide.levels()) {
      SCOPED_TRACE("level " + std::to_string(l.index));
      auto rgba = read_bytes(dirs[f.name] / ("level-" + std::to_string(l.index) + ".rgba"));
      std::vector<RegionLocation> locations;
      const auto l0 = slide.level(0);
      for (int i = 0; i < 120; ++i) {
        locations.push_back(
            {(i * 7919) % (l0.width + 200) - 100, (i * 104729) % (l0.height + 150) - 75});
      }
      ReadOptions options;
      options.fill = 3;
      const Image batch = read_regions(slide, l.index, locations, 200, 150, options);
      const size_t region_bytes = 200 * 150 * 3;
      for (size_t i = 0; i < locations.size(); ++i) {
        // A level-0 location, in the level's pixels (floor, as read_regions places it).
        const auto lx =
            static_cast<int64_t>(std::floor(static_cast<double>(locations[i].x) / l.downsample));
        const auto ly =
            static_cast<int64_t>(std::floor(static_cast<double>(locations[i].y) / l.downsample));
        Image one = Image::allocate(200, 150, 3, DataType::uint8);
        std::memcpy(one.data(), batch.data() + i * region_bytes, region_bytes);
        const std::string diff = compare_lossy_rgba(
            one, crop_rgba(rgba, l.width, l.height, lx, ly, 200, 150), 3, f.name == "dcm-jp2k-ict");
        if (!diff.empty()) {
          ADD_FAILURE() << "region " << i << " at " << locations[i].x << "," << locations[i].y
                        << ": " << diff;
          break;
        }
      }
    }
  }
}

TEST_F(VendorDicom, AssociatedImagesEqualOpenSlide) {
  std::set<std::string> seen;
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    auto meta = dump(f);
    ASSERT_FALSE(meta.is_null());
    Slide slide = Slide::open(f.file());
    std::set<std::string> ours, theirs;
    for (const auto& a : slide.associated_images()) ours.insert(a.name);
    for (const auto& [name, size] : meta.at("associated").items()) theirs.insert(name);
    EXPECT_EQ(ours, theirs);
    for (const auto& a : slide.associated_images()) {
      if (!theirs.contains(a.name)) continue;
      SCOPED_TRACE(a.name);
      seen.insert(a.name);
      const auto& size = meta.at("associated").at(a.name);
      EXPECT_EQ(a.width, size.at("width").get<int64_t>());
      EXPECT_EQ(a.height, size.at("height").get<int64_t>());
      Image image = slide.read_associated(a.name);
      auto rgba = read_bytes(dirs[f.name] / ("associated-" + a.name + ".rgba"));
      EXPECT_EQ(compare_lossy_rgba(image, rgba, 0, f.name == "dcm-jp2k-ict"), "");
    }
  }
  EXPECT_TRUE(seen.contains("label"));
  EXPECT_TRUE(seen.contains("thumbnail"));
}

// The directory, and each of the series' files, open the same slide.
TEST_F(VendorDicom, DirectoryAndEveryFileOfTheSeriesOpenTheSameSlide) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    Slide from_dir = Slide::open(f.dir());
    EXPECT_EQ(from_dir.format(), "dicom");
    const Image base = from_dir.read_level(static_cast<int>(from_dir.levels().size()) - 1);
    for (const auto& entry : std::filesystem::directory_iterator(f.dir())) {
      SCOPED_TRACE(entry.path().filename().string());
      Slide slide = Slide::open(entry.path());
      ASSERT_EQ(slide.levels().size(), from_dir.levels().size());
      EXPECT_TRUE(slide.properties() == from_dir.properties());
      const Image last = slide.read_level(static_cast<int>(slide.levels().size()) - 1);
      ASSERT_EQ(last.size_bytes(), base.size_bytes());
      EXPECT_EQ(std::memcmp(last.data(), base.data(), base.size_bytes()), 0);
    }
  }
}

TEST_F(VendorDicom, SparseLevelHasMissingTilesAndConcatenationSpansThreeFiles) {
  for (const auto& f : fixtures) {
    if (f.name != "dcm-sparse") continue;
    Slide slide = Slide::open(f.file());
    const Level& l = slide.level(0);
    int missing = 0;
    for (int64_t ty = 0; ty < l.tiles_down; ++ty) {
      for (int64_t tx = 0; tx < l.tiles_across; ++tx) {
        missing += slide.tile_location(0, tx, ty).byte_count == 0;
      }
    }
    EXPECT_EQ(missing, 3);
  }
  int parts = 0;
  for (const auto& f : fixtures) {
    if (f.name != "dcm-concat") continue;
    for (const auto& entry : std::filesystem::directory_iterator(f.dir())) {
      parts += entry.path().filename().string().starts_with("concat-part");
    }
  }
  EXPECT_EQ(parts, 3);
}

TEST_F(VendorDicom, InfoAcceptsTheDirectoryAndShowsDicomProperties) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    std::string out;
    ASSERT_EQ(run_command(cli_path() + " info --json '" + f.dir().string() + "'", &out), 0) << out;
    auto json = nlohmann::json::parse(out);
    EXPECT_EQ(json.at("format"), "dicom");
    Slide slide = Slide::open(f.dir());
    const auto shown = json.at("properties").get<std::map<std::string, std::string>>();
    EXPECT_TRUE(shown == slide.properties());
    EXPECT_EQ(shown.at("openslide.vendor"), "dicom");
    EXPECT_TRUE(shown.contains("dicom.SeriesInstanceUID"));
    // region reads from the directory too.
    const auto png = scratch_dir("vendor_dicom_region_" + f.name) / "r.png";
    ASSERT_EQ(run_command(cli_path() + " region '" + f.dir().string() +
                              "' --level 1 --x 100 --y 200 --width 300 --height 200 -o '" +
                              png.string() + "'",
                          &out),
              0)
        << out;
    EXPECT_GT(std::filesystem::file_size(png), 1000u);
  }
}

}  // namespace
}  // namespace slidestream::test
