// Failure behaviour: a full disk or an I/O error fails with a clear Error naming the file and
// leaves no metadata that declares the array complete and no temporaries; existing outputs are
// refused; damaged chunks, shard indices and metadata are errors, not crashes.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"
#include "support/test_support.hpp"
#include "zarr/chunk_file.hpp"

namespace slidestream::zarr {
namespace {

namespace fs = std::filesystem;

Image noise(int64_t w, int64_t h, int c) {
  Image img = Image::allocate(w, h, c, DataType::uint8);
  std::mt19937 rng(1);
  for (size_t i = 0; i < img.size_bytes(); ++i) img.data()[i] = static_cast<std::byte>(rng());
  return img;
}

// Files anywhere under `root` that would make a reader believe the array is complete, or that a
// failed write left behind.
std::vector<std::string> leftovers(const fs::path& root) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    auto name = entry.path().filename().string();
    if (name == "zarr.json" || name == ".zarray" || name == ".zgroup" ||
        name.find(".partial") != std::string::npos) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

std::string contents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Names directly under `dir`, sorted.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Every entry under `dir` ("<dir>" for directories) with the bytes of every file.
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    out[fs::relative(entry.path(), dir).string()] =
        entry.is_directory() ? "<dir>" : contents(entry.path());
  }
  return out;
}

// A small tmpfs, unmounted when the test ends.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const fs::path& where, const char* size) : where_(where) {
    fs::create_directories(where);
    std::string opts = std::string("size=") + size;
    mounted_ = ::mount("tmpfs", where.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  fs::path where_;
  bool mounted_ = false;
};

class ZarrDiskFull : public ::testing::TestWithParam<Format> {};

TEST_P(ZarrDiskFull, FailsWithDiskFullNamingTheFileAndLeavesNothingComplete) {
  auto dir = test::scratch_dir(GetParam() == Format::v2 ? "zarr_full_v2" : "zarr_full_v3");
  SmallTmpfs disk(dir / "mnt", "256k");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (not root?); see InjectedIoError";
  auto path = disk.mounted() ? dir / "mnt" / "a.zarr" : fs::path();
  Image img = noise(512, 512, 3);  // 768 KiB: three times the file system
  ArraySpec spec{.height = 512,
                 .width = 512,
                 .channels = 3,
                 .chunk_height = 128,
                 .chunk_width = 128,
                 .format = GetParam()};
  auto writer = ArrayWriter::create(path, spec, {.threads = 4});
  try {
    writer.write(img.view());
    FAIL() << "expected disk_full";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::disk_full) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(e.context().file.find(path.string()), std::string::npos) << e.context().file;
  }
  try {
    writer.finish();
    FAIL() << "finish after a failed write must refuse";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::cancelled) << e.what();
  }
  EXPECT_TRUE(leftovers(path).empty()) << leftovers(path).front();
  EXPECT_THROW(ArrayReader::open(path), Error);
}

INSTANTIATE_TEST_SUITE_P(Formats, ZarrDiskFull, ::testing::Values(Format::v2, Format::v3),
                         [](const ::testing::TestParamInfo<Format>& info) {
                           return std::string(info.param == Format::v2 ? "v2" : "v3");
                         });

TEST(ZarrSafety, InjectedIoErrorLeavesNoMetadataAndNoTemporaries) {
  auto dir = test::scratch_dir("zarr_injected");
  auto path = dir / "a.zarr";
  std::atomic<int> calls{0};
  detail::set_chunk_write_hook([&](const fs::path& file) {
    if (++calls == 5) throw Error(ErrorKind::io, "injected EIO", {.file = file.string()});
  });
  Image img = noise(256, 256, 1);
  ArraySpec spec{.height = 256,
                 .width = 256,
                 .chunk_height = 64,
                 .chunk_width = 64,
                 .format = Format::v3,
                 .codec = Codec::zstd};
  auto writer = ArrayWriter::create(path, spec, {.threads = 3});
  try {
    writer.write(img.view());
    ADD_FAILURE() << "expected the injected error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_NE(std::string(e.what()).find("injected EIO"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  detail::set_chunk_write_hook(nullptr);
  EXPECT_THROW(writer.finish(), Error);
  EXPECT_TRUE(leftovers(path).empty());
}

TEST(ZarrSafety, DestroyedWithoutFinishLeavesNothing) {
  auto dir = test::scratch_dir("zarr_unfinished");
  Image img = noise(64, 64, 1);
  {
    auto writer = ArrayWriter::create(
        dir / "a.zarr",
        {.height = 64, .width = 64, .chunk_height = 32, .chunk_width = 32, .format = Format::v2});
    writer.write(img.view());
  }
  // What the abandoned write made is gone, metadata or not.
  EXPECT_FALSE(fs::exists(dir / "a.zarr"));
  EXPECT_TRUE(leftovers(dir).empty());
}

TEST(ZarrSafety, RefusesToOverwriteUnlessAsked) {
  auto dir = test::scratch_dir("zarr_overwrite");
  auto path = dir / "a.zarr";
  ArraySpec spec{.height = 32, .width = 32, .chunk_height = 32, .chunk_width = 32};
  Image img = noise(32, 32, 1);
  auto first = ArrayWriter::create(path, spec);
  first.write(img.view());
  first.finish();
  try {
    ArrayWriter::create(path, spec);
    FAIL() << "expected already_exists";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::already_exists);
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
  }
  EXPECT_TRUE(fs::exists(path / "zarr.json"));  // untouched
  const std::string old_metadata = contents(path / "zarr.json");
  ArraySpec zstd_spec = spec;
  zstd_spec.codec = Codec::zstd;
  auto second = ArrayWriter::create(path, zstd_spec, {.overwrite = true});
  second.write(img.view());
  EXPECT_EQ(contents(path / "zarr.json"), old_metadata);  // the old array until finish
  second.finish();
  EXPECT_NE(contents(path / "zarr.json"), old_metadata);  // then the new one, and nothing else
  EXPECT_EQ(entries(dir), std::vector<std::string>{"a.zarr"});
}

// What a failed overwrite must leave: the old output byte for byte and nothing of its own.
class ZarrOverwriteFailure : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { detail::set_chunk_write_hook(nullptr); }
  // An old array at dir/a.zarr (v2, 3 channels), remembered byte for byte.
  fs::path make_old_array(const fs::path& where) {
    const fs::path path = where / "a.zarr";
    auto w = ArrayWriter::create(path, {.height = 64,
                                        .width = 64,
                                        .channels = 3,
                                        .chunk_height = 32,
                                        .chunk_width = 32,
                                        .format = Format::v2});
    w.write(noise(64, 64, 3).view());
    w.finish();
    before_ = tree(where);
    return path;
  }
  fs::path dir_;
  std::map<std::string, std::string> before_;
};

TEST_F(ZarrOverwriteFailure, AnIoErrorLeavesTheOldArrayByteForByte) {
  const fs::path path = make_old_array(dir_);
  std::atomic<int> calls{0};
  detail::set_chunk_write_hook([&](const fs::path& file) {
    if (++calls == 5) throw Error(ErrorKind::io, "injected EIO", {.file = file.string()});
  });
  {
    auto writer = ArrayWriter::create(
        path, {.height = 256, .width = 256, .chunk_height = 64, .chunk_width = 64},
        {.threads = 2, .overwrite = true});
    EXPECT_THROW(writer.write(noise(256, 256, 1).view()), Error);
    EXPECT_THROW(writer.finish(), Error);
  }
  EXPECT_TRUE(tree(dir_) == before_);
}

TEST_F(ZarrOverwriteFailure, AnAbandonedOmeZarrLeavesTheOldOutputByteForByte) {
  const fs::path path = make_old_array(dir_);
  {
    auto group = OmeZarrWriter::create(path, {.overwrite = true});
    auto level = group.add_level(
        0, 1.0, {.height = 64, .width = 64, .channels = 3, .chunk_height = 32, .chunk_width = 32});
    level.write(noise(64, 64, 3).view());
    level.finish();
    // The run fails here (a bad tile, say): the group is never finished.
  }
  EXPECT_TRUE(tree(dir_) == before_);
}

TEST_F(ZarrOverwriteFailure, AFullDiskLeavesTheOldArrayByteForByte) {
  SmallTmpfs disk(dir_ / "mnt", "256k");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
  const fs::path path = make_old_array(dir_ / "mnt");
  {
    auto writer = ArrayWriter::create(
        path, {.height = 512, .width = 512, .channels = 3, .chunk_height = 128, .chunk_width = 128},
        {.threads = 4, .overwrite = true});
    try {
      writer.write(noise(512, 512, 3).view());  // 768 KiB: three times the file system
      ADD_FAILURE() << "expected disk_full";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::disk_full) << e.what();
    }
  }
  EXPECT_TRUE(tree(dir_ / "mnt") == before_);
}

TEST_F(ZarrOverwriteFailure, OnlyAZarrIsReplacedUnlessOverwriteAny) {
  const fs::path path = dir_ / "a.zarr";
  fs::create_directories(path);
  std::ofstream(path / "notes.txt") << "mine";
  before_ = tree(dir_);
  const ArraySpec spec{.height = 8, .width = 8, .chunk_height = 8, .chunk_width = 8};
  try {
    ArrayWriter::create(path, spec, {.overwrite = true});
    ADD_FAILURE() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a Zarr"), std::string::npos) << e.what();
  }
  EXPECT_THROW(OmeZarrWriter::create(path, {.overwrite = true}), Error);
  EXPECT_TRUE(tree(dir_) == before_);
  auto w = ArrayWriter::create(path, spec, {.overwrite = true, .overwrite_any = true});
  w.write(noise(8, 8, 1).view());
  w.finish();
  EXPECT_FALSE(fs::exists(path / "notes.txt"));
  EXPECT_TRUE(fs::exists(path / "zarr.json"));
}

void flip_byte(const fs::path& file, int64_t from_end) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(from_end, std::ios::end);
  char c;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5A);
  f.seekp(from_end, std::ios::end);
  f.write(&c, 1);
}

Error read_error(const fs::path& path) {
  try {
    ArrayReader::open(path).read();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an error reading " << path;
  return Error(ErrorKind::io, "none");
}

TEST(ZarrSafety, DamagedShardIndexChunkAndMetadataAreErrorsNamingTheFile) {
  auto dir = test::scratch_dir("zarr_damaged");
  Image img = noise(128, 128, 3);
  auto make = [&](const std::string& name, Codec codec, int64_t shard) {
    auto path = dir / name;
    auto w = ArrayWriter::create(path, {.height = 128,
                                        .width = 128,
                                        .channels = 3,
                                        .layout = ChannelLayout::cyx,
                                        .chunk_height = 64,
                                        .chunk_width = 64,
                                        .shard_height = shard,
                                        .shard_width = shard,
                                        .codec = codec});
    w.write(img.view());
    w.finish();
    return path;
  };
  // Shard index: one flipped byte inside the (offset, nbytes) table fails its crc32c.
  auto sharded = make("sharded.zarr", Codec::none, 128);
  flip_byte(sharded / "c/0/0/0", -10);
  Error e1 = read_error(sharded);
  EXPECT_EQ(e1.kind(), ErrorKind::corrupt) << e1.what();
  EXPECT_NE(std::string(e1.what()).find("c/0/0/0"), std::string::npos) << e1.what();

  // A damaged zstd chunk.
  auto zstd = make("zstd.zarr", Codec::zstd, 0);
  fs::resize_file(zstd / "c/0/1/1", fs::file_size(zstd / "c/0/1/1") / 2);
  Error e2 = read_error(zstd);
  EXPECT_EQ(e2.kind(), ErrorKind::corrupt) << e2.what();
  EXPECT_NE(std::string(e2.what()).find("c/0/1/1"), std::string::npos) << e2.what();

  // A truncated uncompressed chunk.
  auto raw = make("raw.zarr", Codec::none, 0);
  fs::resize_file(raw / "c/0/0/1", 100);
  EXPECT_EQ(read_error(raw).kind(), ErrorKind::corrupt);

  // Metadata declaring an absurd chunk.
  auto meta = make("meta.zarr", Codec::none, 0);
  std::ofstream(meta / "zarr.json")
      << R"({"zarr_format":3,"node_type":"array","shape":[3,128,128],"data_type":"uint8",)"
         R"("chunk_grid":{"name":"regular","configuration":{"chunk_shape":[3,1000000,1000000]}},)"
         R"("chunk_key_encoding":{"name":"default"},"fill_value":0,)"
         R"("codecs":[{"name":"bytes"}]})";
  Error e3 = read_error(meta);
  EXPECT_EQ(e3.kind(), ErrorKind::limit) << e3.what();
  std::ofstream(meta / "zarr.json") << "{not json";
  EXPECT_EQ(read_error(meta).kind(), ErrorKind::format);
  EXPECT_EQ(read_error(dir / "nothing.zarr").kind(), ErrorKind::not_found);
}

// A fill value its data type cannot hold (converting it would be undefined behaviour: found by
// fuzz_zarr_metadata) is an Error(format) naming the metadata file, v2 and v3, and a spec asking
// for one is refused before anything is written.
TEST(ZarrSafety, AFillValueBeyondTheDataTypeIsAnErrorNamingTheFile) {
  auto dir = test::scratch_dir("zarr_fill_range");
  struct Case {
    const char* dtype_v2;
    const char* dtype_v3;
    const char* fill;
  };
  for (const Case& c : {Case{"<u2", "uint16", "9999999999999999990"}, Case{"|u1", "uint8", "256"},
                        Case{"|u1", "uint8", "-1"}, Case{"<u4", "uint32", "2.5"},
                        Case{"<f4", "float32", "1e300"}}) {
    SCOPED_TRACE(std::string(c.dtype_v3) + " " + c.fill);
    const fs::path v2 = dir / (std::string("v2-") + c.dtype_v3 + "-" + c.fill + ".zarr");
    fs::create_directories(v2);
    std::ofstream(v2 / ".zarray") << R"({"zarr_format":2,"shape":[24,20],"chunks":[16,16],)"
                                  << R"("dtype":")" << c.dtype_v2 << R"(","fill_value":)" << c.fill
                                  << R"(,"order":"C","filters":null,"compressor":null})";
    Error e2 = read_error(v2);
    EXPECT_EQ(e2.kind(), ErrorKind::format) << e2.what();
    EXPECT_NE(std::string(e2.what()).find(".zarray"), std::string::npos) << e2.what();
    EXPECT_NE(std::string(e2.what()).find("fill_value"), std::string::npos) << e2.what();

    const fs::path v3 = dir / (std::string("v3-") + c.dtype_v3 + "-" + c.fill + ".zarr");
    fs::create_directories(v3);
    std::ofstream(v3 / "zarr.json")
        << R"({"zarr_format":3,"node_type":"array","shape":[24,20],"data_type":")" << c.dtype_v3
        << R"(","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[16,16]}},)"
        << R"("chunk_key_encoding":{"name":"default"},"fill_value":)" << c.fill
        << R"(,"codecs":[{"name":"bytes","configuration":{"endian":"little"}}]})";
    Error e3 = read_error(v3);
    EXPECT_EQ(e3.kind(), ErrorKind::format) << e3.what();
    EXPECT_NE(std::string(e3.what()).find("zarr.json"), std::string::npos) << e3.what();
  }
  // In range, they open (the boundaries included).
  const fs::path ok = dir / "ok.zarr";
  fs::create_directories(ok);
  std::ofstream(ok / ".zarray") << R"({"zarr_format":2,"shape":[24,20],"chunks":[16,16],)"
                                << R"("dtype":"<u2","fill_value":65535,"order":"C",)"
                                << R"("filters":null,"compressor":null})";
  EXPECT_EQ(ArrayReader::open(ok).read().height(), 24);

  const ArraySpec spec{
      .height = 8, .width = 8, .chunk_height = 8, .chunk_width = 8, .fill_value = 300};
  try {
    (void)ArrayWriter::create(dir / "never.zarr", spec);
    FAIL() << "a uint8 array with fill value 300 was created";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "never.zarr"));
}

}  // namespace
}  // namespace slidestream::zarr

namespace slidestream::zarr {
namespace {

// Dask's way: a process create()s an array and lets its writer go; other writers attach() to it by
// path and one finish()es it. The untouched fresh array must stay, and with stage_overwrite off an
// old output (even a partial one, overwrite_any) is replaced at create(), so attach finds the new.
TEST(ZarrSafety, AnArrayCreatedForAttachedWritersStaysAndReplacesAtCreate) {
  auto dir = test::scratch_dir("zarr_created_for_attach");
  const fs::path path = dir / "a.zarr";
  const ArraySpec spec{.height = 64, .width = 64, .chunk_height = 32, .chunk_width = 32};
  fs::create_directories(path / "c" / "0");
  std::ofstream(path / "c" / "0" / "0") << "a chunk of a killed run";
  const WriteOptions options{.overwrite = true, .overwrite_any = true, .stage_overwrite = false};
  (void)ArrayWriter::create(path, spec, options);  // let go at once
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_FALSE(fs::exists(path / "c" / "0" / "0"));  // the old one went at create()
  auto attached = ArrayWriter::attach(path, spec);
  attached.write(noise(64, 64, 1).view());
  attached.finish();
  EXPECT_TRUE(fs::exists(path / "zarr.json"));
  EXPECT_EQ(entries(dir), std::vector<std::string>{"a.zarr"});
}

}  // namespace
}  // namespace slidestream::zarr
