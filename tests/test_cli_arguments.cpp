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

#include "slidestream/device.hpp"
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

// The commands that take --device (cpu, cuda, cuda:N): read, convert, process, patches.
std::vector<std::string> commands_with_device(const fs::path& slide, const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& command : every_command(slide, dir)) {
    if (command.rfind("info", 0) != 0 && command.rfind("region", 0) != 0) out.push_back(command);
  }
  out.push_back("patches " + quoted(slide) + " -o " + quoted(dir / "patches.zarr"));
  return out;
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

// --device cuda:N in every command that takes --device: a GPU that is not there (cuda:7 on a
// machine with fewer, or none, as here without a GPU) is one line naming it and the GPUs there
// are, never a crash, and nothing is written.
TEST(CliArguments, AGpuThatIsNotThereIsAOneLineErrorInEveryCommandWithDevice) {
  const auto slide = test::fixture("vips-none-256.tif");
  const auto dir = test::scratch_dir("cli_missing_gpu");
  const int count = cuda_device_count();
  const std::string gpu = "cuda:" + std::to_string(count > 7 ? count : 7);
  const std::string why = count == 0 ? " is not usable: no CUDA GPU" : " does not exist: ";
  for (const auto& command : commands_with_device(slide, dir)) {
    SCOPED_TRACE(command);
    const CliRun r = run_cli(command + " --device " + gpu);
    EXPECT_EQ(r.rc, 1) << r.output;  // an error, not a signal or a hang
    EXPECT_TRUE(one_line(r.output)) << r.output;
    EXPECT_NE(r.output.find(gpu + why), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "c.zarr"));
  EXPECT_FALSE(fs::exists(dir / "p.zarr"));
  EXPECT_FALSE(fs::exists(dir / "patches.zarr"));
}

TEST(CliArguments, AMalformedDeviceIsAOneLineErrorNamingTheForms) {
  const auto slide = test::fixture("vips-none-256.tif");
  const auto dir = test::scratch_dir("cli_bad_device");
  for (const auto& command : commands_with_device(slide, dir)) {
    for (const char* device : {"cuda:x", "cuda:-1", "gpu0", "CUDA"}) {
      SCOPED_TRACE(command + " --device " + device);
      const CliRun r = run_cli(command + " --device " + device);
      EXPECT_NE(r.rc, 0) << r.output;
      EXPECT_TRUE(one_line(r.output)) << r.output;
      EXPECT_NE(r.output.find("cpu, cuda or cuda:N"), std::string::npos) << r.output;
    }
  }
  EXPECT_FALSE(fs::exists(dir / "c.zarr"));
  EXPECT_FALSE(fs::exists(dir / "p.zarr"));
}

}  // namespace
}  // namespace slidestream
