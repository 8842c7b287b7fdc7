// Hostile vendor slides (Philips, Leica, Ventana, libvips JPEG 2000): the damaged variants
// tests/fixtures/make_vendor_fixtures.py writes (bad XML, lying sizes and spacings, IFD indexes
// out of range, layouts we do not serve) each end in a slidestream::Error naming the file and
// saying what is wrong; and every good vendor slide cut short at many points ends in a clear
// error or, past the bytes a reader needs, a clean read. Each case runs isolated in a child
// (support/isolated_read.hpp): never a crash, a hang or another exception.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/isolated_read.hpp"
#include "support/test_support.hpp"
#include "vendor_reference.hpp"

namespace slidestream::test {
namespace {

namespace fs = std::filesystem;

TEST(MalformedVendors, EachDamagedVariantIsAClearError) {
  std::ifstream in(fixture_dir() / "vendors" / "manifest.json");
  ASSERT_TRUE(in) << "no vendors/manifest.json (run ctest: make_vendor_fixtures)";
  const auto cases = nlohmann::json::parse(in).at("malformed");
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    const fs::path path = fixture_dir() / "vendors" / "malformed" / c.at("name").get<std::string>();
    const std::string expect = c.at("expect");
    SCOPED_TRACE(path.filename().string());
    Outcome o = open_and_read_isolated(path);
    std::printf("  %-32s -> %s\n", path.filename().c_str(), o.message.c_str());
    ASSERT_EQ(o.kind, Outcome::error) << o.message;
    EXPECT_NE(o.message.find(path.filename().string()), std::string::npos) << o.message;
    EXPECT_NE(o.message.find(expect), std::string::npos)
        << "expected \"" << expect << "\" in: " << o.message;
  }
}

// Layouts once refused as unsupported (Leica regions off the tile grid, BIF tiles that overlap,
// BIF areas off their origin's grid, downsamples that do not divide the tile) are no longer
// damaged variants: they read, as OpenSlide reads them (test_vendor_openslide4.cpp and
// test_vendor_composed_levels.cpp compare their pixels).
TEST(MalformedVendors, OnceRefusedLayoutsRead) {
  for (const char* name : {"leica-off-grid.scn", "ventana-overlap.bif",
                           "ventana-overlap-uneven.bif", "ventana-mag-steps.bif"}) {
    const fs::path path = fixture_dir() / "vendors" / name;
    SCOPED_TRACE(name);
    Outcome o = open_and_read_isolated(path);
    EXPECT_EQ(o.kind, Outcome::no_error) << o.stage << ": " << o.message;
  }
}

TEST(MalformedVendors, TruncatedVendorSlidesEndInAClearError) {
  const auto fixtures = vendor_fixtures();
  ASSERT_FALSE(fixtures.empty());
  for (const auto& f : fixtures) {
    const uint64_t size = fs::file_size(f.path());
    fs::path cut = scratch_dir("malformed_vendors_" + f.name) / f.name;
    fs::copy_file(f.path(), cut);
    // About 40 cuts through the file plus every 13th byte of its first 2 KB (header, IFDs,
    // the XML), descending, so that one copy is cut shorter each time.
    std::vector<uint64_t> cuts;
    for (uint64_t at = 0; at < size; at += size / 40 + 1) cuts.push_back(at);
    for (uint64_t at = 0; at < std::min<uint64_t>(size, 2048); at += 13) cuts.push_back(at);
    std::sort(cuts.begin(), cuts.end(), std::greater<>());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    for (uint64_t at : cuts) {
      fs::resize_file(cut, at);
      // The last tenth may hold only what no reader needs (a trailing IFD of an image we
      // skip); a cut there may read cleanly.
      expect_clear_error(
          cut, "truncated " + f.name + " to " + std::to_string(at) + " of " + std::to_string(size),
          at * 10 >= size * 9);
    }
  }
}

}  // namespace
}  // namespace slidestream::test
