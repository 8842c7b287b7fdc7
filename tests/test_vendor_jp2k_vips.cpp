// libvips' JPEG 2000 TIFF (`vips tiffsave --compression jp2k`, compression 33004), which
// OpenSlide cannot read: every level equals libvips' own reader (the writer's; the same
// OpenJPEG as ours) exactly, and tifffile + imagecodecs' decoding of the codestreams, turned to
// RGB with libvips' formula, exactly for the lossless file and within one level for the lossy
// one (imagecodecs bundles a newer OpenJPEG whose 9/7 wavelet may round differently).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "slidestream/slide.hpp"
#include "vendor_reference.hpp"

namespace slidestream::test {
namespace {

int max_difference(const Image& ours, const std::vector<uint8_t>& theirs, size_t* differing) {
  const auto* p = reinterpret_cast<const uint8_t*>(ours.data());
  int worst = 0;
  *differing = 0;
  for (size_t i = 0; i < theirs.size(); ++i) {
    int d = std::abs(int{p[i]} - int{theirs[i]});
    worst = std::max(worst, d);
    *differing += d != 0;
  }
  return worst;
}

TEST(VendorJp2kVips, EveryLevelEqualsLibvipsAndTifffile) {
  int compared = 0;
  for (const auto& f : vendor_fixtures()) {
    if (f.reference != "tifffile") continue;
    SCOPED_TRACE(f.name);
    Slide slide = Slide::open(f.path());
    EXPECT_EQ(slide.format(), "generic-tiff");
    const bool lossless = f.name.find("lossless") != std::string::npos;
    auto dir = scratch_dir("vendor_jp2k_vips_" + f.name);
    for (const Level& l : slide.levels()) {
      SCOPED_TRACE("level " + std::to_string(l.index));
      EXPECT_EQ(l.compression, Compression::jpeg2000_vips);
      const std::string prefix = (dir / ("level-" + std::to_string(l.index))).string();
      std::string log;
      ASSERT_EQ(run_python("jp2k_vips_reference.py",
                           {f.path().string(), std::to_string(l.index), prefix}, &log),
                0)
          << log;
      Image ours = slide.read_level(l.index);
      const size_t bytes = static_cast<size_t>(l.width * l.height * 3);
      auto vips = read_bytes(prefix + ".vips.raw");
      auto tiff = read_bytes(prefix + ".tifffile.raw");
      ASSERT_EQ(vips.size(), bytes);
      ASSERT_EQ(tiff.size(), bytes);
      size_t differing = 0;
      EXPECT_EQ(max_difference(ours, vips, &differing), 0) << differing << " samples differ";
      EXPECT_LE(max_difference(ours, tiff, &differing), lossless ? 0 : 1)
          << differing << " samples differ";
      ++compared;
    }
  }
  EXPECT_GE(compared, 4);
}

}  // namespace
}  // namespace slidestream::test
