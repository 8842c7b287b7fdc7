// The op table as a seam: every op is reached by its name, its parameters parse and print back,
// preparing on the slide is generic (the overview is read once, and only when an op needs it),
// and no code outside the table names a particular op.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "ops/op_table.hpp"
#include "slidestream/error.hpp"
#include "slidestream/ops.hpp"
#include "test_ops_util.hpp"

namespace slidestream::test {
namespace {

namespace fs = std::filesystem;
using ops::Op;
using ops::OpKind;

TEST(OpTable, EveryEntryIsReachedByItsNameAndAlias) {
  const auto table = ops::detail::op_table();
  ASSERT_EQ(ops::op_names().size(), table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const auto& e = table[i];
    Op op = ops::parse_op(e.name);
    EXPECT_EQ(static_cast<size_t>(op.kind), i) << e.name;
    EXPECT_EQ(ops::to_string(op), e.name);
    EXPECT_EQ(ops::halo_radius(op), e.halo) << e.name;
    EXPECT_EQ(ops::op_names()[i], e.name);
    if (e.alias != nullptr) EXPECT_EQ(ops::parse_op(e.alias).kind, op.kind) << e.alias;
    EXPECT_EQ(ops::needs_preparing(op), e.prepare != nullptr) << e.name;
  }
}

TEST(OpTable, ParametersParsePrintAndRefuse) {
  Op m = ops::parse_op("macenko:200");
  EXPECT_EQ(m.kind, OpKind::macenko);
  EXPECT_EQ(m.io, 200.0f);
  EXPECT_EQ(ops::to_string(m), "macenko:200");
  EXPECT_EQ(ops::parse_op("macenko").io, 240.0f);  // torchstain's Io when none is given
  EXPECT_EQ(ops::parse_op("od").io, 255.0f);
  EXPECT_EQ(ops::to_string(ops::parse_op("od:250.5")), "od:250.5");

  auto refused = [](const std::string& text, const std::string& mentions) {
    try {
      ops::parse_op(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::invalid_argument) << e.what();
      EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
  };
  refused("od:240:3", "parameter");
  refused("sobel:2", "parameter");
  refused("od:", "Io");
  refused("od:inf", "Io");
  refused("macenko:0", "Io");
  refused("blur", "known: sobel, sobel-u8, grey, od, hed, macenko");
}

TEST(OpTable, PrepareReadsTheOverviewOnceAndOnlyWhenAnOpNeedsIt) {
  Image overview = random_image(64, 48, 3, DataType::uint8, 7);
  int reads = 0;
  auto reader = [&] {
    ++reads;
    return overview;
  };
  std::vector<Op> plain = {ops::parse_op("grey"), ops::parse_op("sobel")};
  std::vector<Op> same = ops::prepare(plain, reader);
  EXPECT_EQ(reads, 0);
  ASSERT_EQ(same.size(), 2u);
  EXPECT_EQ(same[0].kind, OpKind::grey);

  std::vector<Op> chain = {ops::parse_op("macenko"), ops::parse_op("sobel"),
                           ops::parse_op("macenko:250")};
  std::vector<Op> prepared = ops::prepare(chain, reader);
  EXPECT_EQ(reads, 1);
  ops::StainFit want = ops::fit_macenko(overview.view(), 240.0f);
  ops::StainFit want_250 = ops::fit_macenko(overview.view(), 250.0f);
  for (int c = 0; c < 3; ++c) {
    for (int k = 0; k < 2; ++k) {
      EXPECT_EQ(prepared[0].stains.he[c][k], want.he[c][k]);
      EXPECT_EQ(prepared[2].stains.he[c][k], want_250.he[c][k]);
    }
  }
  EXPECT_EQ(prepared[0].stains.max_c[0], want.max_c[0]);
  EXPECT_EQ(prepared[2].stains.max_c[1], want_250.max_c[1]);
}

TEST(OpTable, PrepareErrorsSayWhatWasBeingPrepared) {
  Image blank = Image::allocate(20, 10, 3, DataType::uint8);
  std::memset(blank.data(), 250, blank.size_bytes());
  try {
    ops::prepare({ops::parse_op("macenko")}, [&] { return blank; });
    ADD_FAILURE() << "a blank overview was fitted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fitting Macenko stains"), std::string::npos) << e.what();
  }
}

// The point of the table: ops.cpp, the kernels and the pipeline name no op. A file outside
// src/ops/op_table.cpp that does is an op's knowledge leaking out of its entry.
TEST(OpTable, NoFileOutsideTheTableNamesAnOp) {
  const fs::path src = fs::path(SLIDESTREAM_SOURCE_DIR) / "src";
  const std::regex named(R"(OpKind::[a-z])");
  std::vector<std::string> leaks;
  for (const auto& entry : fs::recursive_directory_iterator(src)) {
    const fs::path& p = entry.path();
    std::string ext = p.extension().string();
    if (ext != ".cpp" && ext != ".hpp" && ext != ".cu") continue;
    if (p.filename() == "op_table.cpp") continue;
    std::ifstream f(p);
    std::stringstream text;
    text << f.rdbuf();
    if (std::regex_search(text.str(), named)) leaks.push_back(fs::relative(p, src).string());
  }
  EXPECT_TRUE(leaks.empty()) << "name an op outside the table: " << ::testing::PrintToString(leaks);
}

}  // namespace
}  // namespace slidestream::test
