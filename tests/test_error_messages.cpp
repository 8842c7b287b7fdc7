#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "slidestream/error.hpp"
#include "slidestream/image.hpp"

using slidestream::Error;
using slidestream::ErrorKind;

TEST(ErrorMessage, NamesFileLevelTileAndOffset) {
  Error e(ErrorKind::corrupt, "JPEG: premature end of data",
          {.file = "a.svs", .level = 2, .tile = 13, .offset = 4096});
  EXPECT_STREQ(e.what(), "a.svs, level 2, tile 13, offset 4096: JPEG: premature end of data");
}

TEST(ErrorMessage, OuterContextFillsOnlyUnknownFields) {
  Error inner(ErrorKind::corrupt, "bad", {.tile = 7});
  Error outer = inner.with_context({.file = "b.tif", .level = 1, .tile = 99});
  EXPECT_EQ(outer.context().tile, 7);
  EXPECT_EQ(outer.context().level, 1);
  EXPECT_EQ(outer.kind(), ErrorKind::corrupt);
  EXPECT_STREQ(outer.what(), "b.tif, level 1, tile 7: bad");
}

// A host image larger than the machine's memory is refused before any allocation: under
// overcommit malloc can succeed and the process is killed later, while pixels are written.
TEST(ImageAllocation, LargerThanPhysicalMemoryIsOutOfMemoryNotAKill) {
  using slidestream::DataType;
  using slidestream::Image;
  try {
    Image::allocate(int64_t{1} << 22, int64_t{1} << 22, 3, DataType::uint8);
    FAIL() << "a 48 TB image was allocated";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::out_of_memory);
    EXPECT_NE(std::string(e.what()).find("more than the machine's"), std::string::npos) << e.what();
  }
}

TEST(ImageAllocation, SizeOverflowIsAnErrorNotAWrap) {
  using slidestream::DataType;
  using slidestream::Image;
  try {
    Image::allocate(int64_t{1} << 40, int64_t{1} << 40, 3, DataType::float32);
    FAIL() << "an overflowing size was allocated";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::out_of_memory);
    EXPECT_NE(std::string(e.what()).find("overflows"), std::string::npos) << e.what();
  }
}
