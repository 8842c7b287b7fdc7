// Hostile DICOM series: the damaged copies tests/fixtures/make_dicom_fixtures.py writes
// (truncated files, a lying NumberOfFrames, a Basic Offset Table and a fragment length pointing
// past the end, sequences nested 200 deep, an element longer than the file, no "DICM", a
// concatenation missing a part, two series in one directory, an empty directory) each end in a
// slidestream::Error naming the file (or directory) and the cause; and each good series' level-0
// file cut short at many points ends in a clear error. Each case runs isolated in a child
// (support/isolated_read.hpp): never a crash, a hang or another exception.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "dicom_reference.hpp"
#include "support/isolated_read.hpp"
#include "support/test_support.hpp"

namespace slidestream::test {
namespace {

namespace fs = std::filesystem;

TEST(MalformedDicom, EachDamagedSeriesIsAClearError) {
  const auto cases = dicom_malformed();
  ASSERT_GE(cases.size(), 15u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path path = c.path();
    Outcome o = open_and_read_isolated(path);
    std::printf("  %-28s -> %s\n", c.name.c_str(), o.message.c_str());
    ASSERT_EQ(o.kind, Outcome::error) << o.message;
    // The error names the damaged series' directory (in the path of the file it names).
    EXPECT_NE(o.message.find("/" + c.name), std::string::npos) << o.message;
    EXPECT_NE(o.message.find(c.cause), std::string::npos)
        << "expected \"" << c.cause << "\" in: " << o.message;
  }
}

TEST(MalformedDicom, TruncatedLevelFilesEndInAClearError) {
  const auto fixtures = dicom_fixtures();
  ASSERT_GE(fixtures.size(), 6u);
  for (const auto& f : fixtures) {
    const fs::path dir = scratch_dir("malformed_dicom_" + f.name);
    for (const auto& entry : fs::directory_iterator(f.dir())) {
      fs::copy_file(entry.path(), dir / entry.path().filename());
    }
    const fs::path cut = dir / f.open;
    const uint64_t size = fs::file_size(cut);
    // About 30 cuts through the file plus every 37th byte of its first 4 KB (preamble, meta
    // group, data set), descending, so that one copy is cut shorter each time.
    std::vector<uint64_t> cuts;
    for (uint64_t at = 0; at < size; at += size / 30 + 1) cuts.push_back(at);
    for (uint64_t at = 0; at < std::min<uint64_t>(size, 4096); at += 37) cuts.push_back(at);
    cuts.push_back(size - 1);
    std::sort(cuts.begin(), cuts.end(), std::greater<>());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    for (uint64_t at : cuts) {
      fs::resize_file(cut, at);
      expect_clear_error(cut, "truncated " + f.name + "/" + f.open + " to " + std::to_string(at) +
                                  " of " + std::to_string(size));
    }
  }
}

// fuzz_dicom's seeds (fuzz/corpus/dicom) and findings (fuzz/regressions/dicom), each the only
// file of a directory as the target writes it, open and read cleanly or end in a clear error.
TEST(MalformedDicom, FuzzSeedsAndFindingsEndCleanly) {
  int replayed = 0;
  for (const char* sub : {"corpus", "regressions"}) {
    const fs::path inputs = fs::path(SLIDESTREAM_SOURCE_DIR) / "fuzz" / sub / "dicom";
    for (const auto& entry : fs::directory_iterator(inputs)) {
      const fs::path lone =
          scratch_dir(std::string("malformed_dicom_") + sub + "_" + entry.path().stem().string()) /
          (entry.path().extension() == ".dcm" ? entry.path().filename().string()
                                              : entry.path().filename().string() + ".dcm");
      fs::copy_file(entry.path(), lone, fs::copy_options::overwrite_existing);
      Outcome o = open_and_read_isolated(lone);
      SCOPED_TRACE(entry.path().string());
      EXPECT_TRUE(o.kind == Outcome::error || o.kind == Outcome::no_error) << o.message;
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 7);
}

}  // namespace
}  // namespace slidestream::test
