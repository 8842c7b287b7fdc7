// The level checksum equals google_crc32c over tifffile's decoding of the same level, for tight
// and pitched views and any thread count.
#include <gtest/gtest.h>

#include "read/image_checksum.hpp"
#include "test_read_util.hpp"

namespace slidestream::test {
namespace {

TEST(ReadChecksum, EqualsGoogleCrc32cOfTifffilesPixels) {
  for (const char* name : {"vips-none-bigtiff-512.tif", "tf-grey16-zstd-256.tif",
                           "tf-float32-fpred-256.tif", "vips-jpeg90-512.tif"}) {
    SCOPED_TRACE(name);
    const auto path = fixture(name);
    std::string expected;
    ASSERT_EQ(run_python("read_crc32c.py", {path.string(), "0"}, &expected), 0) << expected;
    // The last line (tifffile may warn on stderr before it).
    while (!expected.empty() && std::isspace(static_cast<unsigned char>(expected.back()))) {
      expected.pop_back();
    }
    expected = expected.substr(expected.find_last_of('\n') + 1);
    Slide slide = Slide::open(path);
    const Level& l = slide.level(0);
    Image tight = slide.read_level(0);
    for (int threads : {1, 4}) {
      EXPECT_EQ(checksum_text(read::image_crc32c(tight.view(), 0, threads)), expected);
    }
    // The same pixels in a view with padded rows.
    const size_t pitch = tight.view().row_bytes() + 24;
    std::vector<std::byte> padded(pitch * l.height);
    ImageView view = tight.view();
    view.data = padded.data();
    view.row_pitch = pitch;
    slide.read_level(0, view);
    EXPECT_EQ(checksum_text(read::image_crc32c(view, 0, 0)), expected);
  }
}

}  // namespace
}  // namespace slidestream::test
