// `slidestream process --list L --out-dir D --shard-index I --shard-count N`: the shards of a job
// array together write exactly what one `slidestream process` per slide writes, each shard its
// own slides only; a rerun skips every complete output and changes nothing; a partial output is
// redone; an unreadable slide is reported by name and the others still finish.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "slidestream/zarr.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> files_under(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    files[fs::relative(entry.path(), root).string()] = bytes.str();
  }
  return files;
}

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

int cli(const std::string& arguments, std::string* output = nullptr) {
  return test::run_command(test::cli_path() + " " + arguments + " 2>&1", output);
}

// Three slides of different codecs and tile sizes; their single-process outputs in dir/single.
struct Batch {
  fs::path dir;
  std::vector<fs::path> slides;
  fs::path list;
  const std::string options = "--op sobel --pyramid --tile 128";

  explicit Batch(const std::string& name) : dir(test::scratch_dir(name)) {
    slides = {test::fixture("vips-jpeg90-256.tif"), test::fixture("tf-zstd-128.tif"),
              test::fixture("tf-ome-subifd-256.ome.tif")};
    list = dir / "slides.txt";
    std::ofstream out(list);
    out << "# slides of the test batch\n\n";
    for (const auto& slide : slides) out << slide.string() << "\n";
  }
  fs::path output(const fs::path& out_dir, size_t i) const {
    static const char* names[] = {"vips-jpeg90-256.zarr", "tf-zstd-128.zarr",
                                  "tf-ome-subifd-256.zarr"};
    return out_dir / names[i];
  }
  std::string shard(const fs::path& out_dir, int index, int count, std::string* log) const {
    int status =
        cli("process --list " + quoted(list) + " --out-dir " + quoted(out_dir) + " --shard-index " +
                std::to_string(index) + " --shard-count " + std::to_string(count) + " " + options,
            log);
    return status == 0 ? "" : "exit status " + std::to_string(status) + ": " + *log;
  }
  void write_single(const fs::path& out_dir) const {
    for (size_t i = 0; i < slides.size(); ++i) {
      std::string log;
      ASSERT_EQ(
          cli("process " + quoted(slides[i]) + " " + quoted(output(out_dir, i)) + " " + options,
              &log),
          0)
          << log;
    }
  }
};

TEST(CliProcessBatch, ShardsOfAJobArrayEqualOneProcessPerSlide) {
  Batch batch("cli_batch_shards");
  batch.write_single(batch.dir / "single");
  const fs::path out = batch.dir / "out";
  std::string log;
  ASSERT_EQ(batch.shard(out, 1, 2, &log), "");  // slide 1 only
  EXPECT_FALSE(fs::exists(batch.output(out, 0))) << log;
  EXPECT_TRUE(zarr::is_complete(batch.output(out, 1))) << log;
  EXPECT_FALSE(fs::exists(batch.output(out, 2))) << log;
  ASSERT_EQ(batch.shard(out, 0, 2, &log), "");  // slides 0 and 2
  for (size_t i = 0; i < batch.slides.size(); ++i) {
    EXPECT_EQ(files_under(batch.output(out, i)), files_under(batch.output(batch.dir / "single", i)))
        << batch.slides[i];
  }
}

TEST(CliProcessBatch, RerunSkipsCompleteOutputsAndRedoesPartialOnes) {
  Batch batch("cli_batch_rerun");
  batch.write_single(batch.dir / "single");
  const fs::path out = batch.dir / "out";
  std::string log;
  ASSERT_EQ(batch.shard(out, 0, 1, &log), "");
  const auto first = files_under(out);
  std::map<fs::path, fs::file_time_type> times;
  for (const auto& e : fs::recursive_directory_iterator(out)) times[e.path()] = e.last_write_time();

  ASSERT_EQ(batch.shard(out, 0, 1, &log), "");
  EXPECT_NE(log.find("0 processed, 3 skipped"), std::string::npos) << log;
  EXPECT_EQ(files_under(out), first);
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    EXPECT_EQ(e.last_write_time(), times[e.path()]) << e.path();
  }

  // An interrupted run: some chunks, no metadata; and a stray file that must not survive.
  const fs::path partial = batch.output(out, 2);
  fs::remove(partial / "zarr.json");
  ASSERT_FALSE(zarr::is_complete(partial));
  std::ofstream(partial / "0" / "stray") << "left by a killed run";
  ASSERT_EQ(batch.shard(out, 0, 1, &log), "");
  EXPECT_NE(log.find("1 processed, 2 skipped"), std::string::npos) << log;
  EXPECT_EQ(files_under(partial), files_under(batch.output(batch.dir / "single", 2)));
}

TEST(CliProcessBatch, AnUnreadableSlideIsReportedAndTheOthersFinish) {
  Batch batch("cli_batch_failure");
  // The first slide is cut short after the batch was listed: its tiles point past the end.
  const fs::path cut = batch.dir / "cut.tif";
  fs::copy_file(batch.slides[0], cut);
  fs::resize_file(cut, fs::file_size(cut) / 2);
  {
    std::ofstream out(batch.list);
    out << cut.string() << "\n" << batch.slides[1].string() << "\n" << batch.slides[2].string();
  }
  const fs::path out = batch.dir / "out";
  std::string log;
  EXPECT_NE(batch.shard(out, 0, 1, &log), "");  // non-zero exit: a slide failed
  EXPECT_NE(log.find("error: " + cut.string()), std::string::npos) << log;
  EXPECT_NE(log.find("2 processed, 0 skipped (complete), 1 failed"), std::string::npos) << log;
  EXPECT_FALSE(zarr::is_complete(out / "cut.zarr"));
  EXPECT_TRUE(zarr::is_complete(batch.output(out, 1)));
  EXPECT_TRUE(zarr::is_complete(batch.output(out, 2)));
}

TEST(CliProcessBatch, RefusesMixedOrInvalidArguments) {
  Batch batch("cli_batch_arguments");
  std::string log;
  const std::string list = " --list " + quoted(batch.list) + " --out-dir " + quoted(batch.dir);
  EXPECT_NE(cli("process " + quoted(batch.slides[0]) + list + " --op sobel", &log), 0) << log;
  EXPECT_NE(cli("process" + list + " --shard-index 2 --shard-count 2 --op sobel", &log), 0) << log;
  EXPECT_NE(log.find("shard-index"), std::string::npos) << log;
  EXPECT_NE(cli("process --op sobel", &log), 0) << log;
  // Two slides that would write the same output: refused before anything runs.
  {
    std::ofstream out(batch.list);
    out << batch.slides[0].string() << "\n" << (batch.dir / "vips-jpeg90-256.svs").string();
  }
  EXPECT_NE(cli("process" + list + " --op sobel", &log), 0) << log;
  EXPECT_NE(log.find("would both write"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(batch.dir / "vips-jpeg90-256.zarr"));
}

}  // namespace
}  // namespace slidestream
