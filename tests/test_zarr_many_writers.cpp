// One array written by many processes (what slidestream.dask.to_zarr does on Dask workers): one
// process create()s it, forked writers attach() and each lands its own units, and the metadata
// appears only when the creator finish()es after all of them. The result must equal, file for
// file, the same array written by one writer, and nothing before finish() may look complete.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"
#include "support/test_support.hpp"

namespace slidestream::zarr {
namespace {

namespace fs = std::filesystem;

Image noise(int64_t w, int64_t h, int c) {
  Image img = Image::allocate(w, h, c, DataType::uint8);
  std::mt19937 rng(7);
  for (size_t i = 0; i < img.size_bytes(); ++i) img.data()[i] = static_cast<std::byte>(rng());
  return img;
}

// Every file under `root` by relative path, with its bytes.
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

bool has_metadata(const fs::path& root) {
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    auto name = entry.path().filename().string();
    if (name == "zarr.json" || name == ".zarray" || name == ".zattrs") return true;
  }
  return false;
}

// Writes units (rows of the unit grid) `worker`, `worker + workers`, ... of `img` through an
// attached writer in a forked child; returns the child's exit status (0: all landed).
int write_rows_in_child(const fs::path& path, const ArraySpec& spec, const Image& img, int worker,
                        int workers) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int status = 0;
    try {
      auto writer = ArrayWriter::attach(path, spec, {.threads = 2});
      const int64_t unit_h = spec.shard_height ? spec.shard_height : spec.chunk_height;
      for (int64_t row = worker; row * unit_h < spec.height; row += workers) {
        const int64_t y = row * unit_h, h = std::min(unit_h, spec.height - y);
        writer.write_region(y, 0, img.view().crop(0, y, spec.width, h));
      }
      writer.finish_chunks();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: %s\n", worker, e.what());
      status = 1;
    }
    ::_exit(status);
  }
  int status = -1;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

class ZarrManyWriters : public ::testing::TestWithParam<ArraySpec> {};

TEST_P(ZarrManyWriters, ChunksFromTwoProcessesAndMetadataOnceEqualOneWriter) {
  const ArraySpec spec = GetParam();
  auto dir =
      test::scratch_dir("zarr_many_writers_" + std::to_string(static_cast<int>(spec.format)) + "_" +
                        std::to_string(spec.shard_height));
  Image img = noise(spec.width, spec.height, spec.channels);

  auto single = ArrayWriter::create(dir / "single.zarr", spec);
  single.write(img.view());
  single.finish();

  // One thread and one unit in flight: no pool threads in this process across the forks.
  auto creator = ArrayWriter::create(dir / "many.zarr", spec, {.threads = 1, .io_depth = 1});
  ASSERT_EQ(write_rows_in_child(dir / "many.zarr", spec, img, 0, 2), 0);
  ASSERT_EQ(write_rows_in_child(dir / "many.zarr", spec, img, 1, 2), 0);
  EXPECT_FALSE(has_metadata(dir / "many.zarr")) << "metadata before finish()";
  EXPECT_THROW((void)ArrayReader::open(dir / "many.zarr"), Error);
  creator.finish();

  EXPECT_EQ(files_under(dir / "many.zarr"), files_under(dir / "single.zarr"));
  Image back = ArrayReader::open(dir / "many.zarr").read();
  ASSERT_EQ(back.size_bytes(), img.size_bytes());
  EXPECT_EQ(std::memcmp(back.data(), img.data(), img.size_bytes()), 0);
}

INSTANTIATE_TEST_SUITE_P(Layouts, ZarrManyWriters,
                         ::testing::Values(ArraySpec{.height = 700,
                                                     .width = 300,
                                                     .channels = 3,
                                                     .chunk_height = 128,
                                                     .chunk_width = 128,
                                                     .format = Format::v2,
                                                     .codec = Codec::zstd},
                                           ArraySpec{.height = 700,
                                                     .width = 300,
                                                     .channels = 3,
                                                     .chunk_height = 64,
                                                     .chunk_width = 64,
                                                     .shard_height = 256,
                                                     .shard_width = 256,
                                                     .format = Format::v3,
                                                     .codec = Codec::blosc_lz4}),
                         [](const auto& info) {
                           return std::string(info.param.format == Format::v2 ? "v2_zstd"
                                                                              : "v3_sharded_lz4");
                         });

TEST(ZarrAttach, RefusesAMissingArrayAndACompleteOne) {
  auto dir = test::scratch_dir("zarr_attach_refusals");
  ArraySpec spec{.height = 64, .width = 64, .chunk_height = 32, .chunk_width = 32};
  try {
    (void)ArrayWriter::attach(dir / "absent.zarr", spec);
    FAIL() << "expected not_found";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::not_found) << e.what();
  }
  auto writer = ArrayWriter::create(dir / "done.zarr", spec);
  writer.write(noise(64, 64, 1).view());
  writer.finish();
  auto before = files_under(dir / "done.zarr");
  try {
    (void)ArrayWriter::attach(dir / "done.zarr", spec, {.overwrite = true});
    FAIL() << "expected already_exists";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::already_exists) << e.what();
  }
  EXPECT_EQ(files_under(dir / "done.zarr"), before);
}

TEST(ZarrAttach, FinishChunksWritesNoMetadataAndEndsWriting) {
  auto dir = test::scratch_dir("zarr_finish_chunks");
  ArraySpec spec{.height = 64, .width = 64, .chunk_height = 32, .chunk_width = 32};
  Image img = noise(64, 64, 1);
  auto creator = ArrayWriter::create(dir / "a.zarr", spec);
  auto attached = ArrayWriter::attach(dir / "a.zarr", spec);
  attached.write_region(0, 0, img.view().crop(0, 0, 64, 32));
  WriteReport report = attached.finish_chunks();
  EXPECT_EQ(report.chunks_written, 2u);
  EXPECT_FALSE(has_metadata(dir / "a.zarr"));
  EXPECT_THROW(attached.write_region(32, 0, img.view().crop(0, 32, 64, 32)), Error);
  creator.write_region(32, 0, img.view().crop(0, 32, 64, 32));
  creator.finish();
  Image back = ArrayReader::open(dir / "a.zarr").read();
  EXPECT_EQ(std::memcmp(back.data(), img.data(), img.size_bytes()), 0);
}

// Siblings "<name>.partial-*" of `path`.
std::vector<std::string> partial_siblings(const fs::path& path) {
  std::vector<std::string> names;
  const std::string prefix = path.filename().string() + ".partial-";
  for (const auto& entry : fs::directory_iterator(path.parent_path())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  return names;
}

TEST(ZarrStagedReplacement, OldOutputStaysUntilTheStagedOneIsCompleteThenIsSwappedOut) {
  auto dir = test::scratch_dir("zarr_staged_replacement");
  ArraySpec spec{.height = 64, .width = 64, .chunk_height = 32, .chunk_width = 32};
  const fs::path out = dir / "out.zarr";
  auto old_writer = ArrayWriter::create(out, spec);
  old_writer.write(noise(64, 64, 1).view());
  old_writer.finish();
  const auto old_files = files_under(out);

  const fs::path staged = stage_replacement(out, false);
  EXPECT_EQ(staged.parent_path(), out.parent_path());
  EXPECT_TRUE(fs::is_directory(staged) && fs::is_empty(staged));
  EXPECT_EQ(files_under(out), old_files);
  try {
    commit_replacement(staged, out, true);
    FAIL() << "an incomplete staged output replaced the old one";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument) << e.what();
    EXPECT_NE(std::string(e.what()).find(staged.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(files_under(out), old_files);

  Image fresh = Image::allocate(64, 64, 1, DataType::uint8);
  std::memset(fresh.data(), 0x5a, fresh.size_bytes());
  auto creator = ArrayWriter::create(staged, spec, {.overwrite = true, .stage_overwrite = false});
  auto attached = ArrayWriter::attach(staged, spec);
  attached.write_region(0, 0, fresh.view().crop(0, 0, 64, 32));
  attached.finish_chunks();
  creator.write_region(32, 0, fresh.view().crop(0, 32, 64, 32));
  creator.finish();
  EXPECT_EQ(files_under(out), old_files) << "the old output changed before the commit";

  commit_replacement(staged, out, true);
  EXPECT_TRUE(partial_siblings(out).empty());
  EXPECT_TRUE(is_complete(out));
  Image back = ArrayReader::open(out).read();
  EXPECT_EQ(std::memcmp(back.data(), fresh.data(), fresh.size_bytes()), 0);
}

TEST(ZarrStagedReplacement, RefusesWhatTheOverwritePolicyRefuses) {
  auto dir = test::scratch_dir("zarr_staged_replacement_policy");
  const fs::path notes = dir / "notes";
  fs::create_directories(notes);
  std::ofstream(notes / "keep.txt") << "not a Zarr";
  try {
    (void)stage_replacement(notes, false);
    FAIL() << "a directory that is not a Zarr was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument) << e.what();
  }
  EXPECT_TRUE(partial_siblings(notes).empty());
  const fs::path staged = stage_replacement(notes, true);
  EXPECT_EQ(partial_siblings(notes).size(), 1u);
  fs::remove_all(staged);
  EXPECT_TRUE(fs::exists(notes / "keep.txt"));
}

}  // namespace
}  // namespace slidestream::zarr
