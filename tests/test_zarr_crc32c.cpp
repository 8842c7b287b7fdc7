// CRC-32C against google_crc32c: hardware and table paths, piecewise continuation and combine.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <utility>
#include <vector>

#include "core/crc32c.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

std::vector<std::byte> seeded_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFF);
  return out;
}

using Slice = std::pair<size_t, size_t>;

// google_crc32c's value for each [start, end) of `data`.
std::map<Slice, uint32_t> reference(const std::vector<std::byte>& data,
                                    const std::vector<Slice>& slices) {
  auto dir = test::scratch_dir("zarr_crc32c");
  auto file = dir / "data.bin";
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  std::vector<std::string> args{file.string()};
  for (auto [s, e] : slices) args.push_back(std::to_string(s) + ":" + std::to_string(e));
  std::string output;
  int rc = test::run_python("zarr_crc32c.py", args, &output);
  EXPECT_EQ(rc, 0) << output;
  std::map<Slice, uint32_t> values;
  std::istringstream lines(output);
  size_t s, e;
  std::string hex;
  while (lines >> s >> e >> hex)
    values[{s, e}] = static_cast<uint32_t>(std::stoul(hex, nullptr, 16));
  EXPECT_EQ(values.size(), slices.size()) << output;
  return values;
}

TEST(Crc32c, KnownCheckValue) {
  // The catalogue check value of CRC-32/ISCSI: crc("123456789") = 0xE3069283.
  const char* text = "123456789";
  auto bytes = std::as_bytes(std::span(text, 9));
  EXPECT_EQ(crc32c(bytes), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(bytes), 0xE3069283u);
}

TEST(Crc32c, MatchesGoogleCrc32cOnManySizesAndAlignments) {
  auto data = seeded_bytes(300000, 7);
  std::vector<Slice> slices;
  for (size_t len : {0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 4095, 4096, 24575, 24576, 24577, 49152,
                     100003, 299990}) {
    for (size_t start : {0, 1, 5, 8}) slices.push_back({start, start + len});
  }
  auto ref = reference(data, slices);
  std::span<const std::byte> all(data);
  for (auto [s, e] : slices) {
    auto piece = all.subspan(s, e - s);
    EXPECT_EQ(crc32c(piece), ref[Slice(s, e)]) << "slice " << s << ":" << e;
    EXPECT_EQ(crc32c_portable(piece), ref[Slice(s, e)]) << "slice " << s << ":" << e;
  }
}

TEST(Crc32c, ContinuesPiecewiseAndCombines) {
  auto data = seeded_bytes(250001, 11);
  auto ref = reference(data, {{0, data.size()}});
  uint32_t whole = ref[Slice(0, data.size())];
  std::span<const std::byte> all(data);
  std::mt19937 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    size_t cut1 = rng() % data.size();
    size_t cut2 = cut1 + rng() % (data.size() - cut1);
    auto a = all.subspan(0, cut1), b = all.subspan(cut1, cut2 - cut1), c = all.subspan(cut2);
    // Continued: each piece starts from the previous result.
    EXPECT_EQ(crc32c(c, crc32c(b, crc32c(a))), whole);
    EXPECT_EQ(crc32c_portable(c, crc32c_portable(b, crc32c_portable(a))), whole);
    // Combined: each piece computed alone, as parallel workers would.
    uint32_t ab = crc32c_combine(crc32c(a), crc32c(b), b.size());
    EXPECT_EQ(crc32c_combine(ab, crc32c(c), c.size()), whole) << cut1 << " " << cut2;
  }
  // Empty pieces are neutral.
  EXPECT_EQ(crc32c_combine(whole, 0, 0), whole);
  EXPECT_EQ(crc32c_combine(0, whole, data.size()), whole);
}

TEST(Crc32c, ReportsWhichImplementationRuns) {
  RecordProperty("hardware", crc32c_hardware() ? "sse4.2" : "table");
  SUCCEED();
}

}  // namespace
}  // namespace slidestream
