// Bad arguments are one-line errors, the same in every command, before anything is written: a
// FIFO (or anything else that is not a regular file) as the slide, tiles and chunks too small,
// more chunk files than allowed, thread counts out of range. Each run is under `timeout`, so a
// hang fails the test instead of stalling it (exit 124).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace slidestream {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int rc = 0;
  std::string output;
};

CliRun run_cli(const std::string& args) {
  CliRun r;
  r.rc = test::run_command("timeout 20 " + test::cli_path() + " " + args, &r.output);
  return r;
}

// One line of output, ending in a newline.
bool one_line(const std::string& text) {
  return !text.empty() && std::count(text.begin(), text.end(), '\n') == 1 && text.back() == '\n';
}

std::string quoted(const fs::path& path) {
  return "'" + path.string() + "'";
}

// Every command, with `slide` as its input and outputs under `dir` (region's output included).
std::vector<std::string> every_command(const fs::path& slide, const fs::path& dir) {
  const std::string s = quoted(slide);
  return {"info " + s, "read " + s,
          "region " + s + " --x 0 --y 0 --width 8 --height 8 -o " + quoted(dir / "r.png"),
          "convert " + s + " " + quoted(dir / "c.zarr"),
          "process " + s + " " + quoted(dir / "p.zarr") + " --op grey"};
}

TEST(CliArguments, AFifoAsTheSlideIsAOneLineErrorInEveryCommand) {
  const auto dir = test::scratch_dir("cli_fifo");
  const auto fifo = dir / "slide.svs";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& command : every_command(fifo, dir)) {
    SCOPED_TRACE(command);
    const CliRun r = run_cli(command);
    EXPECT_NE(r.rc, 0) << r.output;
    EXPECT_NE(r.rc, 124) << "hung on the FIFO";
    EXPECT_TRUE(one_line(r.output)) << r.output;
    EXPECT_NE(r.output.find("FIFO"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(fifo.string()), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "c.zarr"));
  EXPECT_FALSE(fs::exists(dir / "p.zarr"));
}

TEST(CliArguments, ADirectoryOrDeviceAsTheSlideIsAOneLineError) {
  const auto dir = test::scratch_dir("cli_not_a_file");
  for (const fs::path& input : {fs::path(dir), fs::path("/dev/zero")}) {
    const CliRun r = run_cli("read " + quoted(input));
    EXPECT_NE(r.rc, 0) << r.output;
    EXPECT_NE(r.rc, 124) << "hung on " << input;
    EXPECT_TRUE(one_line(r.output)) << r.output;
    EXPECT_NE(r.output.find("not"), std::string::npos) << r.output;
  }
}

TEST(CliArguments, TilesAndChunksBelowTheFloorAreRefusedBeforeAnythingIsWritten) {
  const auto slide = test::fixture("vips-none-256.tif");
  const auto dir = test::scratch_dir("cli_small_chunks");
  for (const std::string& args :
       {"process " + quoted(slide) + " " + quoted(dir / "out.zarr") + " --op grey --tile 1",
        "process " + quoted(slide) + " " + quoted(dir / "out.zarr") + " --op grey --tile 15",
        "convert " + quoted(slide) + " " + quoted(dir / "out.zarr") + " --chunk 1",
        "convert " + quoted(slide) + " " + quoted(dir / "out.zarr") + " --chunk 0"}) {
    SCOPED_TRACE(args);
    const CliRun r = run_cli(args);
    EXPECT_NE(r.rc, 0);
    EXPECT_TRUE(one_line(r.output)) << r.output;
    EXPECT_TRUE(r.output.find("--tile") != std::string::npos ||
                r.output.find("--chunk") != std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(dir / "out.zarr"));
  }
}

TEST(CliArguments, MoreChunkFilesThanAllowedAreRefusedUnlessAsked) {
  const auto slide = test::fixture("vips-none-256.tif");
  const auto dir = test::scratch_dir("cli_max_chunk_files");
  for (const std::string& args :
       {"convert " + quoted(slide) + " " + quoted(dir / "out.zarr") + " --chunk 16 --levels 2",
        "process " + quoted(slide) + " " + quoted(dir / "out.zarr") +
            " --op grey --tile 16 --level 2"}) {
    SCOPED_TRACE(args);
    CliRun r = run_cli(args + " --max-chunk-files 10");
    EXPECT_NE(r.rc, 0);
    EXPECT_TRUE(one_line(r.output)) << r.output;
    EXPECT_NE(r.output.find("--max-chunk-files"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir / "out.zarr"));
    // Asked for: no limit.
    r = run_cli(args + " --max-chunk-files 0");
    EXPECT_EQ(r.rc, 0) << r.output;
    fs::remove_all(dir / "out.zarr");
  }
}

TEST(CliArguments, ThreadCountsAreCheckedTheSameInEveryCommand) {
  const auto slide = test::fixture("vips-none-256.tif");
  const auto dir = test::scratch_dir("cli_threads");
  for (const auto& command : every_command(slide, dir)) {
    if (command.rfind("info", 0) == 0) continue;  // info reads no pixels: no --threads
    for (const char* threads : {"-1", "100000", "5000"}) {
      SCOPED_TRACE(command + " --threads " + threads);
      const CliRun r = run_cli(command + " --threads " + threads);
      EXPECT_NE(r.rc, 0) << r.output;
      EXPECT_TRUE(one_line(r.output)) << r.output;
      EXPECT_NE(r.output.find("--threads"), std::string::npos) << r.output;
    }
    const CliRun ok = run_cli(command + " --threads 2");
    EXPECT_EQ(ok.rc, 0) << command << "\n" << ok.output;
  }
}

}  // namespace
}  // namespace slidestream
