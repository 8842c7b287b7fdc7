// The I/O backend as a value (names, parsing), what `info --system` says about cuFile/nvJPEG, and
// the `read` command's checksum against an independent one (tifffile pixels + google_crc32c).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "slidestream/error.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/system.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

TEST(IoBackend, NamesParseBackToTheSameBackend) {
  for (IoBackend b : {IoBackend::automatic, IoBackend::posix, IoBackend::cufile}) {
    EXPECT_EQ(parse_io_backend(to_string(b)), b);
  }
  EXPECT_EQ(parse_io_backend("auto"), IoBackend::automatic);
}

TEST(IoBackend, UnknownNameIsInvalidArgument) {
  try {
    parse_io_backend("gds");
    FAIL() << "accepted an unknown backend";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("gds"), std::string::npos) << e.what();
  }
}

TEST(IoBackend, SystemDescriptionHasEverySection) {
  auto j = nlohmann::json::parse(describe_system(true));
  for (const char* key : {"cuda", "gpus", "cufile", "nvjpeg", "slidestream"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  // GDS is usable only with nvidia-fs; a report claiming otherwise would mislabel POSIX reads.
  bool nvidia_fs = j["cufile"]["nvidia_fs"].get<bool>();
  if (!nvidia_fs) EXPECT_FALSE(j["cufile"]["gds_usable"].get<bool>());
  if (!j["cufile"]["gds_usable"].get<bool>()) EXPECT_TRUE(j["cufile"].contains("why_not"));
  std::string text = describe_system(false);
  EXPECT_NE(text.find("cuFile"), std::string::npos);
  EXPECT_NE(text.find("nvJPEG"), std::string::npos);
}

TEST(ReadCommand, ChecksumEqualsGoogleCrc32cOfTifffilePixels) {
  const auto slide = test::shared_testdata() / "boxes.tiff";  // deflate: lossless everywhere
  for (int level = 0; level < 4; ++level) {
    std::string want;
    ASSERT_EQ(test::run_python("read_checksum.py", {slide.string(), std::to_string(level)}, &want),
              0)
        << want;
    want = want.substr(0, want.find('\n'));
    for (const char* threads : {"1", "0"}) {
      std::string out;
      ASSERT_EQ(test::run_command(test::cli_path() + " read '" + slide.string() + "' --level " +
                                      std::to_string(level) + " --threads " + threads,
                                  &out),
                0)
          << out;
      EXPECT_NE(out.find("checksum: " + want), std::string::npos)
          << "level " << level << ": want " << want << "\n"
          << out;
      EXPECT_NE(out.find("GB/s"), std::string::npos) << out;
    }
  }
}

}  // namespace
}  // namespace slidestream
