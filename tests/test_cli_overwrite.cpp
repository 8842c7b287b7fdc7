// `--overwrite` never loses the old output: bad arguments, an input that cannot be decoded (from
// its first tile, or only late in the run) and a directory that is not a Zarr all leave the old
// output byte for byte, and the failed run leaves nothing of its own beside it. A run that
// succeeds replaces the old output whole and leaves nothing else either.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

namespace fs = std::filesystem;

std::string contents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Every entry under `dir` (directories as "<dir>"), with the bytes of every file.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string rel = fs::relative(entry.path(), dir).string();
    out[rel] = entry.is_directory() ? "<dir>" : contents(entry.path());
  }
  return out;
}

std::string quoted(const fs::path& path) {
  return "'" + path.string() + "'";
}

int run_cli(const std::string& args, std::string* output) {
  return test::run_command("timeout 120 " + test::cli_path() + " " + args, output);
}

// A copy of `fixture` whose last tile of level 0 is garbage: the slide opens and its first tiles
// decode, so a run fails only after it has written part of its output.
fs::path slide_with_a_bad_last_tile(const fs::path& fixture, const fs::path& dir) {
  const fs::path copy = dir / ("bad-last-tile-" + fixture.filename().string());
  fs::copy_file(fixture, copy, fs::copy_options::overwrite_existing);
  const Slide slide = Slide::open(copy);
  const Level& l = slide.level(0);
  const TileLocation at = slide.tile_location(0, l.tiles_across - 1, l.tiles_down - 1);
  std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at.offset));
  const std::string garbage(at.byte_count, '\x5a');
  f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  return copy;
}

class CliOverwrite : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    slide_ = test::fixture("vips-deflate-128.tif");
  }
  // The old output: a finished conversion (or processing) at dir_/out.zarr.
  void make_old_output(const std::string& command) {
    std::string output;
    const std::string extra = command == "process" ? " --op grey" : " --levels 1";
    ASSERT_EQ(run_cli(command + " " + quoted(slide_) + " " + quoted(out()) + extra, &output), 0)
        << output;
    before_ = snapshot(dir_);
  }
  fs::path out() const { return dir_ / "out.zarr"; }
  // The old output is there byte for byte, and nothing else is.
  void expect_old_output_alone() const { EXPECT_TRUE(snapshot(dir_) == before_); }

  fs::path dir_, slide_;
  std::map<std::string, std::string> before_;
};

TEST_F(CliOverwrite, BadArgumentsLeaveTheOldOutput) {
  for (const std::string command : {"convert", "process"}) {
    SCOPED_TRACE(command);
    fs::remove_all(out());
    make_old_output(command);
    const std::string base = command + " " + quoted(slide_) + " " + quoted(out()) +
                             (command == "process" ? " --op grey" : "") + " --overwrite ";
    for (const std::string bad : {"--threads -1", "--threads 5000", "--levels 9", "--shard 100",
                                  "--chunk 1", "--tile 1", "--level 7", "--max-chunk-files 1"}) {
      SCOPED_TRACE(bad);
      std::string output;
      EXPECT_NE(run_cli(base + bad, &output), 0) << output;
      expect_old_output_alone();
    }
  }
}

TEST_F(CliOverwrite, AnInputThatCannotBeDecodedLeavesTheOldOutput) {
  // libvips' WebP TIFF (which we cannot decode), a slide whose tile data is corrupt
  // (unreadable.svs), and one whose last tile only is bad: the run fails late, after writing.
  const fs::path scratch = test::scratch_dir("cli_overwrite_inputs");
  const fs::path webp = scratch / "vips-webp.tif";
  std::string output;
  ASSERT_EQ(test::run_command("vips tiffsave " + quoted(slide_) + " " + quoted(webp) +
                                  " --tile --compression webp",
                              &output),
            0)
      << output;
  const std::vector<fs::path> inputs = {webp, test::shared_testdata() / "unreadable.svs",
                                        slide_with_a_bad_last_tile(slide_, scratch)};
  for (const std::string command : {"convert", "process"}) {
    fs::remove_all(out());
    make_old_output(command);
    for (const fs::path& input : inputs) {
      SCOPED_TRACE(command + " " + input.string());
      const std::string args = command + " " + quoted(input) + " " + quoted(out()) +
                               (command == "process" ? " --op grey" : "") + " --overwrite";
      EXPECT_NE(run_cli(args, &output), 0) << output;
      expect_old_output_alone();
    }
  }
}

TEST_F(CliOverwrite, ADirectoryThatIsNotAZarrIsReplacedOnlyWithOverwriteAny) {
  fs::create_directories(out());
  std::ofstream(out() / "notes.txt") << "not a Zarr\n";
  before_ = snapshot(dir_);
  std::string output;
  const std::string args = "convert " + quoted(slide_) + " " + quoted(out()) + " --levels 2";
  EXPECT_NE(run_cli(args + " --overwrite", &output), 0);
  EXPECT_NE(output.find("not a Zarr"), std::string::npos) << output;
  EXPECT_NE(output.find("--overwrite-any"), std::string::npos) << output;
  expect_old_output_alone();
  // A plain file in the output's place likewise.
  fs::remove_all(out());
  std::ofstream(out()) << "a file\n";
  before_ = snapshot(dir_);
  EXPECT_NE(run_cli(args + " --overwrite", &output), 0);
  expect_old_output_alone();
  ASSERT_EQ(run_cli(args + " --overwrite-any", &output), 0) << output;
  EXPECT_TRUE(fs::exists(out() / "zarr.json"));
}

TEST_F(CliOverwrite, ASuccessfulOverwriteReplacesTheOutputAndLeavesNothingElse) {
  make_old_output("convert");
  std::string output;
  ASSERT_EQ(run_cli("convert " + quoted(slide_) + " " + quoted(out()) +
                        " --levels 2 --zarr-format 2 --overwrite",
                    &output),
            0)
      << output;
  std::vector<std::string> top;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    top.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(top, std::vector<std::string>{"out.zarr"});
  EXPECT_TRUE(fs::exists(out() / ".zgroup"));     // the new output (v2)
  EXPECT_FALSE(fs::exists(out() / "zarr.json"));  // not a mix with the old one (v3)
  EXPECT_EQ(test::run_python("zarr_convert_check.py",
                             {out().string(), slide_.string(), std::string("2")}, &output),
            0)
      << output;
}

}  // namespace
}  // namespace slidestream
