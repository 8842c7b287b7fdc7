// Every level of every test slide reads pixel-identical to an independent decoder: OpenSlide
// 3.4.1 where it opens the file, libtiff's own decoding where OpenSlide cannot represent the
// pixels (16-bit, float, big-endian), tifffile + imagecodecs where neither decodes the codec.
#include <gtest/gtest.h>

#include <string>

#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "test_read_util.hpp"

namespace slidestream::test {
namespace {

// OpenSlide 3.4.1 draws levels through libtiff's TIFFRGBAImage, which (libtiff 4.5) refuses a
// raster larger than the image: where one tile is bigger than the level, OpenSlide returns
// transparent pixels. Those levels are checked against libtiff's tile decoding instead.
bool openslide_can_draw(const Level& level) {
  return level.tile_width <= level.width && level.tile_height <= level.height;
}

Pixels reference_for(const std::string& reference, const std::filesystem::path& path,
                     const Slide& slide, const Level& level, const std::filesystem::path& scratch) {
  if (reference == "openslide" && openslide_can_draw(level)) {
    return openslide_level(path, level.index, level.channels);
  }
  if (reference == "openslide" || reference == "libtiff") {
    return libtiff_level(path, ifd_offset_of(slide, level.index));
  }
  return tifffile_level(path, level.index, scratch);
}

TEST(PixelsSharedTestdata, EveryLevelEqualsOpenSlide) {
  for (const auto& path : shared_good_slides()) {
    SCOPED_TRACE(path.string());
    Slide slide = Slide::open(path);
    openslide_t* osr = openslide_open(path.c_str());
    ASSERT_NE(osr, nullptr);
    EXPECT_EQ(static_cast<int>(slide.levels().size()), openslide_get_level_count(osr));
    openslide_close(osr);
    for (const Level& level : slide.levels()) {
      SCOPED_TRACE("level " + std::to_string(level.index));
      Pixels theirs = reference_for("openslide", path, slide, level, {});
      ASSERT_TRUE(theirs.error.empty()) << theirs.error;
      Pixels ours = our_level(slide, level.index);
      EXPECT_EQ(compare(ours, theirs, 3), "");
      Pixels one_thread = our_level(slide, level.index, 1);
      EXPECT_TRUE(one_thread.bytes == ours.bytes) << "1 thread and all threads differ";
    }
  }
}

TEST(PixelsSharedTestdata, AssociatedImagesEqualOpenSlide) {
  const auto path = shared_testdata() / "cmu-1-small-region.svs";
  Slide slide = Slide::open(path);
  openslide_t* osr = openslide_open(path.c_str());
  ASSERT_NE(osr, nullptr);
  ASSERT_FALSE(slide.associated_images().empty());
  for (const AssociatedImage& a : slide.associated_images()) {
    SCOPED_TRACE(a.name);
    int64_t w = 0, h = 0;
    openslide_get_associated_image_dimensions(osr, a.name.c_str(), &w, &h);
    ASSERT_GT(w, 0) << "OpenSlide has no associated image " << a.name;
    std::vector<uint32_t> argb(static_cast<size_t>(w * h));
    openslide_read_associated_image(osr, a.name.c_str(), argb.data());
    ASSERT_EQ(openslide_get_error(osr), nullptr);
    Pixels theirs{w, h, {}, {}};
    for (uint32_t v : argb) {
      theirs.bytes.push_back(static_cast<uint8_t>(v >> 16));
      theirs.bytes.push_back(static_cast<uint8_t>(v >> 8));
      theirs.bytes.push_back(static_cast<uint8_t>(v));
    }
    Image image = slide.read_associated(a.name);
    ASSERT_EQ(image.channels(), 3);
    Pixels ours{image.width(), image.height(), {}, {}};
    const auto* b = reinterpret_cast<const uint8_t*>(image.data());
    ours.bytes.assign(b, b + image.size_bytes());
    EXPECT_EQ(compare(ours, theirs, 3), "");
  }
  openslide_close(osr);
}

TEST(PixelsFixtures, EveryLevelEqualsItsReference) {
  auto entries = manifest();
  ASSERT_GE(entries.size(), 20u);
  auto scratch = scratch_dir("PixelsFixtures");
  for (const auto& entry : entries) {
    SCOPED_TRACE(entry.name + " (" + entry.recipe + "; reference " + entry.reference + ")");
    const auto path = fixture(entry.name);
    Slide slide = Slide::open(path);
    ASSERT_FALSE(slide.levels().empty());
    if (entry.reference == "openslide") {
      openslide_t* osr = openslide_open(path.c_str());
      ASSERT_NE(osr, nullptr) << "OpenSlide should open this fixture";
      EXPECT_EQ(static_cast<int>(slide.levels().size()), openslide_get_level_count(osr));
      openslide_close(osr);
    }
    for (const Level& level : slide.levels()) {
      SCOPED_TRACE("level " + std::to_string(level.index) + " " + std::to_string(level.width) +
                   "x" + std::to_string(level.height));
      Pixels theirs = reference_for(entry.reference, path, slide, level, scratch);
      ASSERT_TRUE(theirs.error.empty()) << theirs.error;
      Pixels ours;
      try {
        ours = our_level(slide, level.index);
      } catch (const Error& e) {
        ADD_FAILURE() << "read_level failed: " << e.what();
        continue;
      }
      size_t pixel = static_cast<size_t>(level.channels) * size_of(level.dtype);
      EXPECT_EQ(compare(ours, theirs, pixel), "");
    }
  }
}

}  // namespace
}  // namespace slidestream::test
