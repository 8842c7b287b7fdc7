// 3DHISTECH MIRAX slides (tests/fixtures/make_mirax_fixtures.py: overlapping camera images at
// jittered positions, on whole pixels or between them, missing images, several data files)
// against OpenSlide 4.0.1: detected as mirax; the same levels, properties and associated
// images; every level's pixels and regions at many places (across overlaps, at the edges, past
// them) equal to OpenSlide's read_region of the whole level, including the pixels its bilinear
// resampling leaves partly transparent (compared after un-premultiplying, as OpenSlide returns
// them); level 1 of mirax-deep512 (a concat of 512, images within 1/512 px of whole pixels left
// unresampled). OpenSlide's reads of smaller regions differ from its whole-level read in places
// (its arithmetic depends on what each paint covers of the region: docs/mirax.md); there ours
// differ from them by at most 1 in opaque pixels, which RegionsAcrossOverlapsAndEdges checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>

#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"
#include "vendor_reference.hpp"

namespace slidestream::test {
namespace {

std::vector<VendorFixture> mirax_fixtures() {
  std::vector<VendorFixture> out;
  std::ifstream in(fixture_dir() / "mirax" / "manifest.json");
  if (!in) {
    ADD_FAILURE() << "no mirax/manifest.json (run ctest: make_mirax_fixtures)";
    return out;
  }
  const nlohmann::json manifest = nlohmann::json::parse(in);
  for (const auto& f : manifest.at("files")) {
    out.push_back({f.at("name").get<std::string>(), f.at("vendor").get<std::string>(),
                   f.at("reference").get<std::string>(), f.at("recipe").get<std::string>()});
  }
  return out;
}

std::filesystem::path path_of(const VendorFixture& f) {
  return fixture_dir() / "mirax" / f.name;
}

// Empty when `ours` (RGB, read with fill `fill`) equals OpenSlide's un-premultiplied RGBA
// wherever it drew something (alpha > 0: opaque and partly transparent pixels alike), and the
// fill where it drew nothing. Counts the partly transparent pixels compared in *partial.
std::string compare_drawn(const Image& ours, const std::vector<uint8_t>& rgba, uint8_t fill,
                          size_t* partial = nullptr) {
  const size_t n = static_cast<size_t>(ours.width() * ours.height());
  if (ours.channels() != 3 || rgba.size() != n * 4) return "shape differs";
  const auto* p = reinterpret_cast<const uint8_t*>(ours.data());
  size_t differing = 0, first = n;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t a = rgba[4 * i + 3];
    if (partial && a != 0 && a != 255) ++*partial;
    bool same = true;
    for (size_t c = 0; c < 3; ++c) same = same && p[3 * i + c] == (a == 0 ? fill : rgba[4 * i + c]);
    if (!same && differing++ == 0) first = i;
  }
  if (differing == 0) return {};
  std::ostringstream s;
  s << differing << " of " << n << " pixels differ, first at x "
    << first % static_cast<size_t>(ours.width()) << " y "
    << first / static_cast<size_t>(ours.width());
  return s.str();
}

bool between_pixels(const VendorFixture& f) {
  return f.name.starts_with("mirax-frac");
}

bool compared_property(const std::string& name) {
  return name != "openslide.quickhash-1" && !name.starts_with("openslide.associated.");
}

class MiraxOpenSlide4 : public ::testing::Test {
 protected:
  void SetUp() override {
    fixtures = mirax_fixtures();
    ASSERT_GE(fixtures.size(), 4u);
  }
  std::filesystem::path dir_for(const VendorFixture& f) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return scratch_dir(std::string("mirax_") + info->name() + "_" + f.name);
  }
  std::vector<VendorFixture> fixtures;
};

TEST_F(MiraxOpenSlide4, LevelsAndPropertiesEqualOpenSlide) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    auto meta = openslide4_dump(path_of(f), dir_for(f));
    ASSERT_FALSE(meta.is_null());
    EXPECT_EQ(meta.at("library_version"), "4.0.1");
    EXPECT_EQ(meta.at("vendor"), "mirax");
    Slide slide = Slide::open(path_of(f));
    EXPECT_EQ(slide.format(), "mirax");
    const auto& levels = meta.at("levels");
    ASSERT_EQ(slide.levels().size(), levels.size());
    for (size_t i = 0; i < levels.size(); ++i) {
      EXPECT_EQ(slide.levels()[i].width, levels[i].at("width").get<int64_t>()) << i;
      EXPECT_EQ(slide.levels()[i].height, levels[i].at("height").get<int64_t>()) << i;
      EXPECT_EQ(slide.levels()[i].downsample, levels[i].at("downsample").get<double>()) << i;
    }
    std::map<std::string, std::string> theirs, ours;
    for (const auto& [k, v] : meta.at("properties").items()) {
      if (compared_property(k)) theirs[k] = v.get<std::string>();
    }
    for (const auto& [k, v] : slide.properties()) {
      if (compared_property(k)) ours[k] = v;
    }
    EXPECT_GT(theirs.size(), 40u);
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
    EXPECT_EQ(slide.mpp_x(), 0.2428);
    EXPECT_EQ(slide.objective_power(), 20.0);
  }
}

TEST_F(MiraxOpenSlide4, EveryLevelEqualsOpenSlide) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    const auto dir = dir_for(f);
    auto meta = openslide4_dump(path_of(f), dir);
    ASSERT_FALSE(meta.is_null());
    Slide slide = Slide::open(path_of(f));
    for (const Level& l : slide.levels()) {
      auto rgba = read_bytes(dir / ("level-" + std::to_string(l.index) + ".rgba"));
      size_t transparent = 0, opaque = 0;
      for (size_t i = 3; i < rgba.size(); i += 4) (rgba[i] == 0 ? transparent : opaque)++;
      // The fixtures have holes (missing images) and images everywhere else.
      EXPECT_GT(transparent, 0u) << "level " << l.index;
      EXPECT_GT(opaque, transparent) << "level " << l.index;
      Image ours = slide.read_level(l.index);
      size_t partial = 0;
      EXPECT_EQ(compare_drawn(ours, rgba, 0, &partial), "") << "level " << l.index;
      // Images between pixels (all levels but 0 of mirax-frac, all of mirax-frac-div2 but
      // level 0, whose positions are whole) leave partly transparent pixels at their edges.
      if (between_pixels(f) && l.index > 0) {
        EXPECT_GT(partial, 100u) << "level " << l.index;
      } else {
        EXPECT_EQ(partial, 0u) << "level " << l.index;
      }
    }
  }
}

// A fill other than 0 reaches the grid tiles no image touches; where OpenSlide draws, ours equal.
TEST_F(MiraxOpenSlide4, FillReachesOnlyWhereNothingIsDrawn) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    const auto dir = dir_for(f);
    auto meta = openslide4_dump(path_of(f), dir);
    ASSERT_FALSE(meta.is_null());
    Slide slide = Slide::open(path_of(f));
    for (const Level& l : slide.levels()) {
      auto rgba = read_bytes(dir / ("level-" + std::to_string(l.index) + ".rgba"));
      ReadOptions options;
      options.fill = 255;
      Image ours = slide.read_level(l.index, options);
      const auto* p = reinterpret_cast<const uint8_t*>(ours.data());
      size_t differing = 0;
      for (size_t i = 0; i < rgba.size() / 4; ++i) {
        for (int c = 0; c < 3; ++c) {
          const uint8_t got = p[3 * i + static_cast<size_t>(c)];
          const bool ok = rgba[4 * i + 3] != 0 ? got == rgba[4 * i + static_cast<size_t>(c)]
                                               : (got == 0 || got == 255);
          differing += !ok;
        }
      }
      EXPECT_EQ(differing, 0u) << "level " << l.index;
    }
  }
}

TEST_F(MiraxOpenSlide4, RegionsAcrossOverlapsAndEdgesEqualOpenSlide) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    Slide slide = Slide::open(path_of(f));
    std::mt19937 rng(7);
    struct R {
      int level;
      int64_t x, y, w, h;
    };
    std::vector<R> regions;
    for (const Level& l : slide.levels()) {
      const int li = l.index;
      // Edges and corners, partly outside the level, and the whole level shifted by one.
      regions.push_back({li, -7, -5, 100, 90});
      regions.push_back({li, l.width - 60, l.height - 50, 120, 100});
      regions.push_back({li, l.width - 1, 0, 1, 1});
      regions.push_back({li, 1, 1, l.width, l.height});
      for (int i = 0; i < 24; ++i) {
        const int64_t w = 1 + static_cast<int64_t>(rng() % 300),
                      h = 1 + static_cast<int64_t>(rng() % 300);
        regions.push_back({li, static_cast<int64_t>(rng() % static_cast<uint32_t>(l.width)) - 20,
                           static_cast<int64_t>(rng() % static_cast<uint32_t>(l.height)) - 20, w,
                           h});
      }
    }
    // Straddling the overlaps of the first images at level 0 (the nominal 256 - 32 advance).
    for (int64_t k = 1; k < 4; ++k) regions.push_back({0, 224 * k - 20, 224 * k - 20, 64, 64});
    std::vector<std::string> specs;
    for (const R& r : regions) {
      specs.push_back(std::to_string(r.level) + "," + std::to_string(r.x) + "," +
                      std::to_string(r.y) + "," + std::to_string(r.w) + "," + std::to_string(r.h));
    }
    const auto dir = dir_for(f);
    auto meta = openslide4_dump(path_of(f), dir);
    ASSERT_FALSE(meta.is_null());
    std::vector<std::string> args{path_of(f).string(), dir.string()};
    args.insert(args.end(), specs.begin(), specs.end());
    std::string log;
    ASSERT_EQ(run_python("openslide4_regions.py", args, &log), 0) << log;
    size_t compared = 0, off_by_one = 0;
    for (size_t i = 0; i < regions.size(); ++i) {
      const R& r = regions[i];
      SCOPED_TRACE("region " + specs[i]);
      Image ours = slide.read_region(r.level, r.x, r.y, r.w, r.h);
      const Level& l = slide.level(r.level);
      const auto level_rgba = read_bytes(dir / ("level-" + std::to_string(r.level) + ".rgba"));
      auto rgba = read_bytes(dir / ("region-" + std::to_string(i) + ".rgba"));
      ASSERT_EQ(rgba.size(), static_cast<size_t>(r.w * r.h * 4));
      // The same pixels of OpenSlide's whole-level read. OpenSlide also draws the camera
      // images that reach past the level's size (jittered positions); our levels end at their
      // size and fill beyond it: expect the fill there.
      std::vector<uint8_t> cropped(rgba.size(), 0);
      for (int64_t y = 0; y < r.h; ++y) {
        for (int64_t x = 0; x < r.w; ++x) {
          const size_t at = static_cast<size_t>((y * r.w + x) * 4);
          if (r.x + x >= 0 && r.x + x < l.width && r.y + y >= 0 && r.y + y < l.height) {
            const size_t from = static_cast<size_t>(((r.y + y) * l.width + r.x + x) * 4);
            std::copy_n(level_rgba.begin() + static_cast<std::ptrdiff_t>(from), 4,
                        cropped.begin() + static_cast<std::ptrdiff_t>(at));
          } else {
            std::fill_n(rgba.begin() + static_cast<std::ptrdiff_t>(at), 4, uint8_t{0});
          }
        }
      }
      EXPECT_EQ(compare_drawn(ours, cropped, 0), "");
      // OpenSlide's read of the region itself: the same, except (images between pixels) by at
      // most 1 in opaque pixels where its arithmetic depends on the region (docs/mirax.md).
      const auto* p = reinterpret_cast<const uint8_t*>(ours.data());
      for (size_t k = 0; k < rgba.size() / 4; ++k, ++compared) {
        bool same = true, near = rgba[4 * k + 3] == 255 && cropped[4 * k + 3] == 255;
        for (size_t c = 0; c < 3; ++c) {
          const int want = rgba[4 * k + 3] == 0 ? 0 : rgba[4 * k + c];
          same = same && p[3 * k + c] == want;
          near = near && std::abs(p[3 * k + c] - want) <= 1;
        }
        if (same) continue;
        ASSERT_TRUE(between_pixels(f) && near)
            << "pixel " << k % static_cast<size_t>(r.w) << ", " << k / static_cast<size_t>(r.w)
            << " differs from OpenSlide's read of the region";
        ++off_by_one;
      }
    }
    std::printf("  %s: %zu region pixels, %zu of them 1 off OpenSlide's region reads\n",
                f.name.c_str(), compared, off_by_one);
  }
}

// Level 1 of mirax-deep512 concatenates 512 x 512 images (a real slide's level 9): its images lie
// at their positions / 512, some within 1/512 px of a whole pixel on both axes, where cairo keeps
// NEAREST (its 24.8 fixed point rounds them whole), the others bilinear.
TEST(MiraxDeepLevel, ImagesWithinA512thOfAPixelAreNotResampledAsInOpenSlide) {
  std::ifstream in(fixture_dir() / "mirax" / "manifest.json");
  ASSERT_TRUE(in) << "no mirax/manifest.json (run ctest: make_mirax_fixtures)";
  const nlohmann::json deep = nlohmann::json::parse(in).at("deep");
  const auto path = fixture_dir() / "mirax" / deep.at("name").get<std::string>();
  const int level = deep.at("level").get<int>();
  Slide slide = Slide::open(path);
  ASSERT_EQ(slide.levels().size(), 2u);
  const Level& l = slide.level(level);
  EXPECT_EQ(l.downsample, 512.0);
  const auto dir = scratch_dir("mirax_deep512");
  const std::string spec =
      std::to_string(level) + ",0,0," + std::to_string(l.width) + "," + std::to_string(l.height);
  std::string log;
  ASSERT_EQ(run_python("openslide4_regions.py", {path.string(), dir.string(), spec}, &log), 0)
      << log;
  size_t partial = 0;
  EXPECT_EQ(compare_drawn(slide.read_level(level), read_bytes(dir / "region-0.rgba"), 0, &partial),
            "");
  EXPECT_GT(partial, 100u);
}

TEST_F(MiraxOpenSlide4, AssociatedImagesEqualOpenSlide) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    const auto dir = dir_for(f);
    auto meta = openslide4_dump(path_of(f), dir);
    ASSERT_FALSE(meta.is_null());
    Slide slide = Slide::open(path_of(f));
    std::set<std::string> ours, theirs;
    for (const auto& a : slide.associated_images()) ours.insert(a.name);
    for (const auto& [name, size] : meta.at("associated").items()) theirs.insert(name);
    EXPECT_EQ(ours, (std::set<std::string>{"label", "macro", "thumbnail"}));
    EXPECT_EQ(ours, theirs);
    for (const auto& a : slide.associated_images()) {
      if (!theirs.contains(a.name)) continue;
      SCOPED_TRACE(a.name);
      const auto& size = meta.at("associated").at(a.name);
      EXPECT_EQ(a.width, size.at("width").get<int64_t>());
      EXPECT_EQ(a.height, size.at("height").get<int64_t>());
      Image image = slide.read_associated(a.name);
      EXPECT_EQ(compare_rgba(image, read_bytes(dir / ("associated-" + a.name + ".rgba")), 0), "");
    }
  }
}

TEST_F(MiraxOpenSlide4, InfoAndRegionCommandsTakeTheMrxsPath) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    std::string out;
    ASSERT_EQ(run_command(cli_path() + " info --json '" + path_of(f).string() + "'", &out), 0)
        << out;
    auto json = nlohmann::json::parse(out);
    EXPECT_EQ(json.at("format"), "mirax");
    Slide slide = Slide::open(path_of(f));
    const auto shown = json.at("properties").get<std::map<std::string, std::string>>();
    EXPECT_TRUE(shown == slide.properties());
    EXPECT_EQ(slide.properties().at("openslide.vendor"), "mirax");
    const auto png = dir_for(f) / "r.png";
    ASSERT_EQ(run_command(cli_path() + " region '" + path_of(f).string() +
                              "' --level 1 --x 10 --y 20 --width 300 --height 200 -o '" +
                              png.string() + "'",
                          &out),
              0)
        << out;
    EXPECT_TRUE(std::filesystem::exists(png));
  }
}

// The batch reader (random patches, with and without a tile cache) gives read_region's pixels.
TEST_F(MiraxOpenSlide4, PatchBatchesEqualRegionReads) {
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    Slide slide = Slide::open(path_of(f));
    for (const Level& l : slide.levels()) {
      std::mt19937_64 rng(static_cast<uint64_t>(l.index) + 11);
      std::vector<RegionLocation> at;
      for (int i = 0; i < 32; ++i) {
        at.push_back(
            {static_cast<int64_t>((rng() % static_cast<uint64_t>(l.width)) * l.downsample) - 100,
             static_cast<int64_t>((rng() % static_cast<uint64_t>(l.height)) * l.downsample) - 100});
      }
      TileCache cache(32u << 20);
      for (TileCache* c : {static_cast<TileCache*>(nullptr), &cache, &cache}) {
        Image batch = read_regions(slide, l.index, at, 256, 256, {}, c);
        for (size_t i = 0; i < at.size(); ++i) {
          const int64_t x = level_coordinate(at[i].x, l.downsample);
          const int64_t y = level_coordinate(at[i].y, l.downsample);
          Image one = slide.read_region(l.index, x, y, 256, 256);
          ASSERT_EQ(std::memcmp(batch.data() + i * 256 * 256 * 3, one.data(), 256 * 256 * 3), 0)
              << "level " << l.index << " patch " << i << (c ? " cached" : "");
        }
      }
    }
  }
}

}  // namespace
}  // namespace slidestream::test
