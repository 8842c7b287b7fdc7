// checksum_crc32c and for_each_host_band (slidestream/checksum.hpp) on GPU views: a level read
// into GPU memory, tight and pitched, gives the checksum of the same level read on the host, and
// its bands (several, with a small band size) are the host pixels in order.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <span>
#include <vector>

#include "slidestream/checksum.hpp"
#include "slidestream/slide.hpp"
#include "support/gpu_images.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

TEST(GpuChecksum, AGpuLevelHasTheChecksumOfTheHostLevel) {
  SLIDESTREAM_REQUIRE_GPU();
  for (const char* name : {"vips-none-bigtiff-512.tif", "tf-grey16-zstd-256.tif"}) {
    SCOPED_TRACE(name);
    Slide slide = Slide::open(test::fixture(name));
    Image host = slide.read_level(0);
    Image dev = slide.read_level(0, ReadOptions{.device = Device::cuda});
    const uint32_t want = checksum_crc32c(host.view(), 1);
    EXPECT_EQ(checksum_crc32c(dev.view()), want);
    // A pitched GPU view of the same pixels: a crop of a wider image.
    const Level& l = slide.level(0);
    Image wide = Image::allocate(l.width + 3, l.height, l.channels, l.dtype, Device::cuda);
    ImageView view = wide.view().crop(1, 0, l.width, l.height);
    slide.read_level(0, view);
    EXPECT_EQ(checksum_crc32c(view), want);
    // Bands of 7 rows: the host's tight bytes, in order.
    std::vector<std::byte> joined;
    int bands = 0;
    for_each_host_band(
        view,
        [&](std::span<const std::byte> band) {
          joined.insert(joined.end(), band.begin(), band.end());
          ++bands;
        },
        view.row_bytes() * 7);
    EXPECT_GT(bands, 1);
    EXPECT_TRUE(joined == test::tight(host.view()));
  }
}

}  // namespace
}  // namespace slidestream
