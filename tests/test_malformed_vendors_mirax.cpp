// Hostile MIRAX slides: the damaged copies tests/fixtures/make_mirax_fixtures.py writes (missing
// or truncated Slidedat.ini / Index.dat / data files, lying offsets, lengths and counts, loops in
// the index's linked lists, absurd sizes, layouts we do not serve) each end in a
// slidestream::Error naming the .mrxs and the cause; a good slide's Index.dat and data files cut
// short at many points end in a clear error. Each case runs isolated in a child
// (support/isolated_read.hpp): never a crash, a hang or another exception. A fractional overlap
// (tile advances between pixels), once refused, is read as OpenSlide reads it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../fuzz/mirax_fuzz_input.hpp"
#include "support/isolated_read.hpp"
#include "support/test_support.hpp"
#include "vendor_reference.hpp"

namespace slidestream::test {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(MalformedMirax, EachDamagedVariantIsAClearError) {
  std::ifstream in(fixture_dir() / "mirax" / "manifest.json");
  ASSERT_TRUE(in) << "no mirax/manifest.json (run ctest: make_mirax_fixtures)";
  const nlohmann::json manifest = nlohmann::json::parse(in);
  const auto& cases = manifest.at("malformed");
  ASSERT_GE(cases.size(), 25u);
  for (const auto& c : cases) {
    const fs::path path = fixture_dir() / "mirax" / "malformed" / c.at("name").get<std::string>();
    const std::string expect = c.at("expect");
    SCOPED_TRACE(path.filename().string());
    Outcome o = open_and_read_isolated(path);
    std::printf("  %-40s -> %s\n", path.filename().c_str(), o.message.c_str());
    ASSERT_EQ(o.kind, Outcome::error) << o.message;
    EXPECT_NE(o.message.find(path.filename().string()), std::string::npos) << o.message;
    EXPECT_NE(o.message.find(expect), std::string::npos)
        << "expected \"" << expect << "\" in: " << o.message;
  }
}

// Level 1 of a copy of mirax-div1 with an overlap of 15.5 px: its tile advance (128 - 15.5) is
// between pixels. This was refused before fractional placements were painted as OpenSlide
// paints them; now every level reads as OpenSlide 4.0.1 reads it.
TEST(MalformedMirax, AFractionalOverlapIsReadAsOpenSlideReadsIt) {
  const fs::path dir = scratch_dir("malformed_mirax_fractional_overlap");
  fs::copy(fixture_dir() / "mirax" / "mirax-div1", dir / "frac", fs::copy_options::recursive);
  std::ofstream(dir / "frac.mrxs").put('\n');
  std::string ini = read_all(dir / "frac" / "Slidedat.ini");
  const size_t section = ini.find("[LAYER_0_LEVEL_1_SECTION]");
  const size_t key = ini.find("OVERLAP_X = 16\r\n", section);
  ASSERT_NE(key, std::string::npos);
  ini.replace(key, 14, "OVERLAP_X = 15.5");
  std::ofstream(dir / "frac" / "Slidedat.ini", std::ios::binary) << ini;
  const fs::path mrxs = dir / "frac.mrxs";
  Outcome o = open_and_read_isolated(mrxs);
  ASSERT_EQ(o.kind, Outcome::no_error) << o.message;
  auto meta = openslide4_dump(mrxs, dir / "openslide");
  ASSERT_FALSE(meta.is_null());
  EXPECT_EQ(meta.at("properties").at("mirax.LAYER_0_LEVEL_1_SECTION.OVERLAP_X"), "15.5");
  Slide slide = Slide::open(mrxs);
  ASSERT_EQ(slide.levels().size(), meta.at("levels").size());
  for (const Level& l : slide.levels()) {
    const auto rgba =
        read_bytes(dir / "openslide" / ("level-" + std::to_string(l.index) + ".rgba"));
    EXPECT_EQ(compare_rgba(slide.read_level(l.index), rgba, 0), "") << "level " << l.index;
  }
}

// A copy of mirax-div1 whose `file` (in its directory) is cut at many points, shortest last.
void expect_cuts_are_clear_errors(const std::string& file) {
  const fs::path good = fixture_dir() / "mirax" / "mirax-div1";
  const fs::path dir = scratch_dir("malformed_mirax_" + file);
  fs::copy(good, dir / "cut", fs::copy_options::recursive);
  std::ofstream(dir / "cut.mrxs").put('\n');
  const fs::path victim = dir / "cut" / file;
  const uint64_t size = fs::file_size(victim);
  std::vector<uint64_t> cuts;
  for (uint64_t at = 0; at < size; at += size / 40 + 1) cuts.push_back(at);
  for (uint64_t at = 0; at < std::min<uint64_t>(size, 512); at += 7) cuts.push_back(at);
  std::sort(cuts.begin(), cuts.end(), std::greater<>());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  for (uint64_t at : cuts) {
    fs::resize_file(victim, at);
    expect_clear_error(dir / "cut.mrxs", "truncated " + file + " to " + std::to_string(at) +
                                             " of " + std::to_string(size));
  }
}

TEST(MalformedMirax, TruncatedIndexEndsInAClearError) {
  expect_cuts_are_clear_errors("Index.dat");
}

// Data0000.dat holds level images and, at its start, the camera positions; every cut loses
// images a level read needs.
TEST(MalformedMirax, TruncatedDataFileEndsInAClearError) {
  expect_cuts_are_clear_errors("Data0000.dat");
}

TEST(MalformedMirax, TruncatedSlidedatEndsInAClearError) {
  expect_cuts_are_clear_errors("Slidedat.ini");
}

// fuzz_mirax's seeds (fuzz/corpus/mirax) read cleanly; each with bytes flipped at random places
// (of its Slidedat.ini, its Index.dat and its data file) reads cleanly or ends in a clear error.
TEST(MalformedMirax, FuzzSeedsAndTheirMutationsAreCleanReadsOrClearErrors) {
  const fs::path corpus = fs::path(SLIDESTREAM_SOURCE_DIR) / "fuzz" / "corpus" / "mirax";
  int seeds = 0;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    const std::string seed = read_all(entry.path());
    const fs::path dir = scratch_dir("malformed_mirax_seed_" + entry.path().stem().string());
    const fs::path slide = fuzz::write_mirax_input(dir / "clean", seed);
    Outcome clean = open_and_read_isolated(slide);
    EXPECT_EQ(clean.kind, Outcome::no_error) << entry.path().filename() << ": " << clean.message;
    ++seeds;
    std::mt19937 rng(static_cast<uint32_t>(seed.size()));
    for (int i = 0; i < 60; ++i) {
      std::string mutated = seed;
      for (int k = 0; k < 1 + i % 4; ++k) {
        // Most flips in the first 3 KB (the key file and the index), some anywhere.
        const size_t span = (k % 2 == 0) ? std::min<size_t>(mutated.size(), 3072) : mutated.size();
        mutated[rng() % span] = static_cast<char>(rng() & 0xff);
      }
      const fs::path path = fuzz::write_mirax_input(dir / ("m" + std::to_string(i)), mutated);
      expect_clear_error(path, entry.path().stem().string() + " mutation " + std::to_string(i),
                         true);
    }
  }
  EXPECT_GE(seeds, 2);
}

// What fuzz_mirax once found (fuzz/regressions/mirax): each a clean read or a clear error.
TEST(MalformedMirax, FuzzFindingsAreCleanReadsOrClearErrors) {
  const fs::path findings = fs::path(SLIDESTREAM_SOURCE_DIR) / "fuzz" / "regressions" / "mirax";
  int count = 0;
  for (const auto& entry : fs::directory_iterator(findings)) {
    const fs::path dir = scratch_dir("malformed_mirax_finding_" + entry.path().stem().string());
    const fs::path slide = fuzz::write_mirax_input(dir, read_all(entry.path()));
    expect_clear_error(slide, entry.path().filename().string(), true);
    ++count;
  }
  EXPECT_GE(count, 1);
}

}  // namespace
}  // namespace slidestream::test
