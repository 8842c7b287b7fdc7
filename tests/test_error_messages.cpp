#include <gtest/gtest.h>

#include "slidestream/error.hpp"

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
