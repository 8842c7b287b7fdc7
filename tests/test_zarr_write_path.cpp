// How chunk files reach the disk: the O_DIRECT body plus buffered tail lands exactly the bytes
// given (any size, any alignment, with or without O_DIRECT), temporaries never survive, the
// syncfs anchor works; the choice between cuFile and POSIX follows auto / posix / cufile with
// clear errors; the in-flight depth changes no byte of the output.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "io/file.hpp"
#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"
#include "support/test_support.hpp"
#include "zarr/chunk_codec.hpp"
#include "zarr/chunk_file.hpp"
#include "zarr/device_staging.hpp"
#include "zarr/layout.hpp"
#include "zarr/write_path.hpp"

namespace slidestream::zarr {
namespace {

namespace fs = std::filesystem;

std::string contents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::vector<std::string> partials(const fs::path& root) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().filename().string().find(".partial") != std::string::npos) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

// Whether this directory's file system takes O_DIRECT writes (ext4, xfs: yes; tmpfs: no; some
// overlay file systems open with O_DIRECT and refuse the write).
bool takes_direct(const fs::path& dir) {
  auto probe = dir / "direct-probe";
  bool ok = false;
  {
    io::File f = io::File::open_direct_or_empty(probe, io::File::Mode::write_truncate);
    detail::AlignedBuffer block(4096);
    std::memset(block.data(), 0, 4096);
    ok = f.is_open() && f.try_write_exact(std::span<const std::byte>(block.data(), 4096), 0) == 0;
  }
  fs::remove(probe);
  return ok;
}

TEST(ZarrChunkFile, LandsExactlyTheBytesGivenForEverySizeAndAlignment) {
  auto dir = test::scratch_dir("zarr_chunk_file");
  const bool direct = takes_direct(dir);
  constexpr size_t kMax = (1u << 20) + 3 * 4096 + 123;
  detail::AlignedBuffer buffer(kMax + 4096);
  std::mt19937 rng(5);
  for (size_t i = 0; i < kMax + 4096; ++i) buffer.data()[i] = static_cast<std::byte>(rng());
  struct Case {
    size_t size;
    size_t misalign;  // bytes past a 4 KiB boundary
    bool expect_direct;
  };
  const Case cases[] = {
      {0, 0, false},
      {100, 0, false},
      {4096, 0, false},
      {128 * 1024, 0, true},
      {128 * 1024 + 1, 0, true},
      {256 * 1024 + 123, 0, true},
      {1u << 20, 0, true},
      {kMax, 0, true},
      {256 * 1024 + 123, 8, false},
      {128 * 1024 - 1, 0, false},
  };
  detail::ChunkFileStats stats;
  uint64_t expected_direct = 0, expected_bytes = 0;
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE("size " + std::to_string(c.size) + " misalign " + std::to_string(c.misalign));
    const std::byte* data = buffer.data() + c.misalign;
    auto file = dir / ("chunk" + std::to_string(n++));
    detail::write_chunk_file(file, data, c.size, {}, stats);
    EXPECT_EQ(contents(file), std::string(reinterpret_cast<const char*>(data), c.size));
    EXPECT_EQ(fs::file_size(file), c.size);
    if (direct && c.expect_direct) ++expected_direct;
    expected_bytes += c.size;
  }
  EXPECT_EQ(stats.direct_files.load(), expected_direct);
  EXPECT_EQ(stats.direct_refused.load(), !direct);
  EXPECT_EQ(stats.files.load(), std::size(cases));
  EXPECT_EQ(stats.bytes.load(), expected_bytes);
  EXPECT_TRUE(partials(dir).empty());

  // Rewriting a longer file with a shorter chunk leaves no stale bytes past the new end.
  detail::write_chunk_file(dir / "chunk7", buffer.data() + 4096, 200 * 1024 + 5, {}, stats);
  EXPECT_EQ(contents(dir / "chunk7"),
            std::string(reinterpret_cast<const char*>(buffer.data() + 4096), 200 * 1024 + 5));
  // O_DIRECT off by option: everything through the page cache, same bytes.
  detail::ChunkFileStats buffered;
  detail::write_chunk_file(dir / "buffered", buffer.data(), kMax, {.allow_direct = false},
                           buffered);
  EXPECT_EQ(buffered.direct_files.load(), 0u);
  EXPECT_EQ(contents(dir / "buffered"),
            std::string(reinterpret_cast<const char*>(buffer.data()), kMax));
}

TEST(ZarrChunkFile, PiecesGoOutInOrderAsTheyBecomeReady) {
  auto dir = test::scratch_dir("zarr_chunk_file_pieces");
  constexpr size_t kSize = 3 * 1024 * 1024 + 777;  // three aligned pieces and a tail
  detail::AlignedBuffer buffer(kSize);
  std::mt19937 rng(6);
  const std::vector<size_t> ends = {1 << 20, 2 << 20, 3 << 20, kSize};
  for (bool allow_direct : {true, false}) {
    SCOPED_TRACE(allow_direct ? "direct" : "buffered");
    // Each piece's bytes are only "copied in" when ready() asks for them, as GPU copies land.
    std::memset(buffer.data(), 0, kSize);
    std::string expected(kSize, '\0');
    for (auto& c : expected) c = static_cast<char>(rng());
    std::vector<size_t> order;
    detail::ChunkFileStats stats;
    auto file = dir / (allow_direct ? "direct" : "buffered");
    detail::write_chunk_file_in_pieces(
        file, buffer.data(), kSize, ends,
        [&](size_t i) {
          const size_t begin = i ? ends[i - 1] : 0;
          std::memcpy(buffer.data() + begin, expected.data() + begin, ends[i] - begin);
          order.push_back(i);
        },
        {.allow_direct = allow_direct}, stats);
    EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3}));
    EXPECT_EQ(contents(file), expected);
  }
  // A piece that never lands (a failed GPU copy): the error names the chunk, nothing is left.
  detail::ChunkFileStats stats;
  try {
    detail::write_chunk_file_in_pieces(
        dir / "failed", buffer.data(), kSize, ends,
        [](size_t i) {
          if (i == 2) throw Error(ErrorKind::cuda, "cudaEventSynchronize: injected");
        },
        {}, stats);
    ADD_FAILURE() << "expected the copy's error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::cuda);
    EXPECT_EQ(e.context().file, (dir / "failed").string());
  }
  EXPECT_FALSE(fs::exists(dir / "failed"));
  EXPECT_TRUE(partials(dir).empty());
  EXPECT_EQ(stats.files.load(), 0u);
}

TEST(ZarrChunkFile, WriteByLandsOnlyWhatItsWriterAccepts) {
  auto dir = test::scratch_dir("zarr_chunk_file_by");
  detail::ChunkFileStats stats;
  const std::string text(300000, 'z');
  bool landed =
      detail::write_chunk_file_by(dir / "yes", text.size(), stats, [&](const io::File& f) {
        // The descriptor is O_DIRECT where the file system allows: write through a buffered one.
        io::File plain(f.path(), io::File::Mode::read_write);
        plain.write_exact(std::as_bytes(std::span(text.data(), text.size())), 0);
        return true;
      });
  EXPECT_TRUE(landed);
  EXPECT_EQ(contents(dir / "yes"), text);
  // A writer that declines (cuFile cannot register the file): nothing lands, no temporary.
  landed =
      detail::write_chunk_file_by(dir / "no", 10, stats, [](const io::File&) { return false; });
  EXPECT_FALSE(landed);
  EXPECT_FALSE(fs::exists(dir / "no"));
  // A writer that fails: the error names the chunk, not the temporary, and nothing is left.
  try {
    detail::write_chunk_file_by(dir / "fails", 10, stats, [](const io::File& f) -> bool {
      throw Error(ErrorKind::cufile, "cuFileWrite: injected", {.offset = 4096});
      (void)f;
    });
    ADD_FAILURE() << "expected the writer's error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::cufile);
    EXPECT_NE(std::string(e.what()).find("injected"), std::string::npos) << e.what();
    EXPECT_EQ(e.context().file, (dir / "fails").string());
    EXPECT_EQ(e.context().offset, 4096);
  }
  EXPECT_FALSE(fs::exists(dir / "fails"));
  EXPECT_TRUE(partials(dir).empty());
  EXPECT_EQ(stats.files.load(), 1u);
  EXPECT_EQ(stats.bytes.load(), text.size());
}

TEST(ZarrChunkFile, FileSystemSyncNamesAMissingDirectory) {
  auto dir = test::scratch_dir("zarr_fs_sync");
  detail::FileSystemSync anchor(dir);
  EXPECT_NO_THROW(anchor.sync());
  try {
    detail::FileSystemSync missing(dir / "absent");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos) << e.what();
  }
}

detail::Layout layout_of(Format format, int channels, Codec codec, int64_t shard,
                         ChannelLayout layout = ChannelLayout::cyx) {
  return detail::Layout::from_spec({.height = 64,
                                    .width = 64,
                                    .channels = channels,
                                    .layout = layout,
                                    .chunk_height = 32,
                                    .chunk_width = 32,
                                    .shard_height = shard,
                                    .shard_width = shard,
                                    .format = format,
                                    .codec = codec});
}

TEST(ZarrWritePath, OnlyPlainInterleavedChunksCanGoStraightFromTheGpu) {
  EXPECT_TRUE(detail::cufile_can_write(layout_of(Format::v3, 3, Codec::none, 0)));
  EXPECT_TRUE(detail::cufile_can_write(layout_of(Format::v3, 3, Codec::none, 64)));
  EXPECT_TRUE(detail::cufile_can_write(layout_of(Format::v2, 1, Codec::none, 0)));
  EXPECT_FALSE(detail::cufile_can_write(layout_of(Format::v3, 3, Codec::zstd, 0)));
  EXPECT_FALSE(detail::cufile_can_write(layout_of(Format::v3, 1, Codec::blosc_lz4, 64)));
  EXPECT_FALSE(detail::cufile_can_write(layout_of(Format::v2, 3, Codec::none, 0)));  // planar
  // (y, x, c): chunks are the pixels as they are, v2 and v3.
  EXPECT_TRUE(
      detail::cufile_can_write(layout_of(Format::v2, 3, Codec::none, 0, ChannelLayout::yxc)));
  EXPECT_TRUE(
      detail::cufile_can_write(layout_of(Format::v3, 3, Codec::none, 64, ChannelLayout::yxc)));
}

TEST(ZarrWritePath, AutoFallsBackAndSaysWhyCufileFailsClearlyPosixNeverAsks) {
  const fs::path where = "/data/out.zarr";
  auto posix = detail::choose_write_path(IoBackend::posix, true, "anything", true, where);
  EXPECT_FALSE(posix.cufile);
  EXPECT_TRUE(posix.note.empty());

  auto usable = detail::choose_write_path(IoBackend::automatic, true, "", false, where);
  EXPECT_TRUE(usable.cufile);
  EXPECT_TRUE(usable.note.empty());
  EXPECT_TRUE(detail::choose_write_path(IoBackend::cufile, true, "", false, where).cufile);

  auto fallback = detail::choose_write_path(IoBackend::automatic, true,
                                            "nvidia-fs kernel module absent", true, where);
  EXPECT_FALSE(fallback.cufile);
  EXPECT_NE(fallback.note.find("nvidia-fs kernel module absent"), std::string::npos);
  EXPECT_NE(fallback.note.find("fell back to posix"), std::string::npos);

  try {
    detail::choose_write_path(IoBackend::cufile, true, "nvidia-fs kernel module absent", true,
                              where);
    ADD_FAILURE() << "expected Error(cufile)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::cufile);
    EXPECT_NE(std::string(e.what()).find("cuFile was requested"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nvidia-fs kernel module absent"), std::string::npos);
    EXPECT_EQ(e.context().file, where.string());
  }

  // Registration works but only in compatibility mode: auto keeps our faster path, an explicit
  // request gets what it asked for.
  auto compat = detail::choose_write_path(IoBackend::automatic, true, "", true, where);
  EXPECT_FALSE(compat.cufile);
  EXPECT_NE(compat.note.find("compatibility mode"), std::string::npos) << compat.note;
  EXPECT_TRUE(detail::choose_write_path(IoBackend::cufile, true, "", true, where).cufile);

  auto compressed = detail::choose_write_path(IoBackend::automatic, false, "", false, where);
  EXPECT_FALSE(compressed.cufile);
  EXPECT_NE(compressed.note.find("encoded on the CPU"), std::string::npos);
  try {
    detail::choose_write_path(IoBackend::cufile, false, "", false, where);
    ADD_FAILURE() << "expected Error(invalid_argument)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
    EXPECT_EQ(e.context().file, where.string());
  }
}

Image noise(int64_t w, int64_t h, int c, DataType t = DataType::uint8) {
  Image img = Image::allocate(w, h, c, t);
  std::mt19937 rng(9);
  for (size_t i = 0; i < img.size_bytes(); ++i) img.data()[i] = static_cast<std::byte>(rng());
  return img;
}

TEST(ZarrWritePath, CufileRequestWhereItCannotWriteIsRefusedBeforeTouchingTheOutput) {
  auto dir = test::scratch_dir("zarr_cufile_request");
  const std::string problem = device::cufile_write_problem(dir);
  if (problem.empty()) GTEST_SKIP() << "cuFile can write here (a GDS machine): see GpuZarrWrite";
  ArraySpec spec{.height = 64, .width = 64, .chunk_height = 32, .chunk_width = 32};
  auto path = dir / "a.zarr";
  try {
    ArrayWriter::create(path, spec, {.io = IoBackend::cufile});
    ADD_FAILURE() << "expected Error(cufile)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::cufile) << e.what();
    EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path));
  // An existing output survives a refused overwrite.
  Image img = noise(64, 64, 1);
  auto first = ArrayWriter::create(path, spec);
  first.write(img.view());
  first.finish();
  EXPECT_THROW(ArrayWriter::create(path, spec, {.io = IoBackend::cufile, .overwrite = true}),
               Error);
  EXPECT_TRUE(fs::exists(path / "zarr.json"));
  EXPECT_TRUE(fs::exists(path / "c/1/1"));
}

TEST(ZarrWritePath, HostSourcesWithAutoGoThroughPosixAndSayHow) {
  auto dir = test::scratch_dir("zarr_host_auto");
  Image img = noise(300, 280, 3);
  auto w = ArrayWriter::create(
      dir / "a.zarr",
      {.height = 280, .width = 300, .channels = 3, .chunk_height = 256, .chunk_width = 256});
  w.write(img.view());
  WriteReport report = w.finish();
  EXPECT_EQ(report.io_path.rfind("posix", 0), 0u) << report.io_path;
  EXPECT_EQ(report.io_path.find("cufile"), std::string::npos) << report.io_path;
  EXPECT_EQ(report.chunks_written, 4u);
  EXPECT_GE(report.io_depth, 1);
  EXPECT_LE(report.io_depth, 4);
}

TEST(ZarrWritePath, OutOfRangeDepthOrThreadsAreRefused) {
  auto dir = test::scratch_dir("zarr_bad_depth");
  ArraySpec spec{.height = 8, .width = 8, .chunk_height = 8, .chunk_width = 8};
  EXPECT_THROW(ArrayWriter::create(dir / "a.zarr", spec, {.io_depth = -1}), Error);
  EXPECT_THROW(ArrayWriter::create(dir / "b.zarr", spec, {.threads = -2}), Error);
  EXPECT_THROW(ArrayWriter::create(dir / "c.zarr", spec, {.io_depth = 1 << 20}), Error);
  EXPECT_THROW(ArrayWriter::create(dir / "d.zarr", spec, {.threads = 100000}), Error);
  EXPECT_FALSE(fs::exists(dir / "a.zarr"));
}

// Every file of tree a equals the same file of tree b, byte for byte, and b has no other file.
void expect_same_tree(const fs::path& a, const fs::path& b) {
  size_t files_a = 0, files_b = 0;
  for (const auto& entry : fs::recursive_directory_iterator(a)) {
    if (!entry.is_regular_file()) continue;
    auto rel = fs::relative(entry.path(), a);
    EXPECT_EQ(contents(entry.path()), contents(b / rel)) << rel;
    ++files_a;
  }
  for (const auto& entry : fs::recursive_directory_iterator(b)) files_b += entry.is_regular_file();
  EXPECT_EQ(files_a, files_b);
  EXPECT_GT(files_a, 2u);
}

struct DepthCase {
  const char* name;
  ArraySpec spec;
};

TEST(ZarrWritePath, InFlightDepthChangesNoByteOfTheOutput) {
  auto dir = test::scratch_dir("zarr_depth");
  // Sizes that exercise the direct body + buffered tail: 300 x 300 x 3 = 270000 bytes per chunk
  // (body 266240 + tail 3760); a shard's index after its inner chunks; compressed chunks.
  const DepthCase cases[] = {
      {"plain",
       {.height = 700, .width = 650, .channels = 3, .chunk_height = 300, .chunk_width = 300}},
      {"sharded",
       {.height = 700,
        .width = 650,
        .channels = 3,
        .chunk_height = 128,
        .chunk_width = 128,
        .shard_height = 512,
        .shard_width = 512}},
      {"zstd",
       {.height = 700,
        .width = 650,
        .channels = 3,
        .chunk_height = 256,
        .chunk_width = 256,
        .codec = Codec::zstd}},
      {"v2_float",
       {.height = 700,
        .width = 650,
        .channels = 1,
        .dtype = DataType::float32,
        .chunk_height = 300,
        .chunk_width = 300,
        .format = Format::v2}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Image img = noise(c.spec.width, c.spec.height, c.spec.channels, c.spec.dtype);
    auto serial = dir / (std::string(c.name) + "_serial.zarr");
    auto deep = dir / (std::string(c.name) + "_deep.zarr");
    auto w1 = ArrayWriter::create(serial, c.spec, {.threads = 1, .io_depth = 1});
    w1.write(img.view());
    EXPECT_EQ(w1.finish().io_depth, 1);
    auto w2 = ArrayWriter::create(deep, c.spec, {.threads = 2, .io_depth = 9});
    w2.write(img.view());
    WriteReport r2 = w2.finish();
    EXPECT_GT(r2.io_depth, 1);
    expect_same_tree(serial, deep);
    Image back = ArrayReader::open(deep).read();
    ASSERT_EQ(back.size_bytes(), img.size_bytes());
    EXPECT_EQ(std::memcmp(back.data(), img.data(), img.size_bytes()), 0);
    EXPECT_TRUE(partials(deep).empty());
  }
}

// cuFile is asked whether it can write only where its answer can change the path: an explicit
// `cufile` request, or `auto` where nvidia-fs would give GDS proper. `auto` without nvidia-fs
// writes through POSIX whatever it says, so it leaves cuFile's driver closed (issue 16.4).
TEST(ZarrWritePath, CufileIsAskedOnlyWhereItsAnswerDecides) {
  using detail::cufile_problem_needed;
  for (bool compat : {false, true}) {
    EXPECT_FALSE(cufile_problem_needed(IoBackend::posix, true, compat));
    EXPECT_FALSE(cufile_problem_needed(IoBackend::cufile, false, compat));
    EXPECT_FALSE(cufile_problem_needed(IoBackend::automatic, false, compat));
    EXPECT_TRUE(cufile_problem_needed(IoBackend::cufile, true, compat));
  }
  EXPECT_TRUE(cufile_problem_needed(IoBackend::automatic, true, false));
  EXPECT_FALSE(cufile_problem_needed(IoBackend::automatic, true, true));
}
}  // namespace
}  // namespace slidestream::zarr
