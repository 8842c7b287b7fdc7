// Arrays written from GPU memory (through pinned staging) equal the same arrays written from the
// host, read back by zarr-python/tensorstore and our reader; reads into GPU views are exact.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "shim/cufile.hpp"
#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"
#include "support/test_support.hpp"
#include "zarr/device_staging.hpp"

namespace slidestream::zarr {
namespace {

Image random_image(int64_t w, int64_t h, int c, DataType t, uint32_t seed) {
  Image img = Image::allocate(w, h, c, t);
  std::mt19937 rng(seed);
  for (size_t i = 0; i < img.size_bytes(); ++i) img.data()[i] = static_cast<std::byte>(rng());
  if (t == DataType::float32) {  // keep floats finite, so numpy comparisons stay simple
    auto* p = reinterpret_cast<float*>(img.data());
    for (size_t i = 0; i < img.size_bytes() / 4; ++i)
      p[i] = static_cast<float>(rng() % 100000) / 7.f;
  }
  return img;
}

Image to_device(const Image& host) {
  Image dev =
      Image::allocate(host.width(), host.height(), host.channels(), host.dtype(), Device::cuda);
  device::copy_view(dev.view(), host.view());
  return dev;
}

Image to_host(const ImageView& dev) {
  Image host = Image::allocate(dev.width, dev.height, dev.channels, dev.dtype);
  device::copy_view(host.view(), dev);
  return host;
}

bool equal(const Image& a, const Image& b) {
  return a.size_bytes() == b.size_bytes() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

// Every file of tree a equals the same file of tree b, byte for byte.
void expect_same_tree(const std::filesystem::path& a, const std::filesystem::path& b) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(a)) {
    if (!entry.is_regular_file()) continue;
    auto rel = std::filesystem::relative(entry.path(), a);
    std::ifstream fa(entry.path(), std::ios::binary), fb(b / rel, std::ios::binary);
    std::string sa((std::istreambuf_iterator<char>(fa)), {}),
        sb((std::istreambuf_iterator<char>(fb)), {});
    EXPECT_EQ(sa, sb) << rel;
    ++files;
  }
  EXPECT_GT(files, 3u);
}

struct GpuCase {
  Format format;
  int64_t shard;
  Codec codec;
  DataType dtype;
  int channels;
  ChannelLayout layout = ChannelLayout::cyx;
};

TEST(GpuZarrWrite, DeviceSourcesWriteTheSameArraysAsHostSources) {
  SLIDESTREAM_REQUIRE_GPU();
  auto dir = test::scratch_dir("gpu_zarr_write");
  nlohmann::json manifest = nlohmann::json::array();
  const int64_t H = 300, W = 410;  // edge chunks on both axes
  // auto takes cuFile where it is GPUDirect Storage proper (registration works, nvidia-fs there).
  const bool cufile_usable =
      device::cufile_write_problem(dir).empty() && !device::cufile_compat_mode();
  const GpuCase cases[] = {
      {Format::v3, 0, Codec::none, DataType::uint8, 3},  // the identity path: pinned → file
      {Format::v3, 0, Codec::none, DataType::float32, 3},
      {Format::v3, 256, Codec::none, DataType::uint8, 3},
      {Format::v3, 256, Codec::zstd, DataType::uint16, 1},
      {Format::v2, 0, Codec::none, DataType::uint8, 3},  // planar
      {Format::v2, 0, Codec::blosc_lz4, DataType::float32, 1},
      // (y, x, c): the seed's own files, chunks going out as the GPU holds them.
      {Format::v2, 0, Codec::none, DataType::uint8, 3, ChannelLayout::yxc},
      {Format::v2, 0, Codec::zstd, DataType::float32, 3, ChannelLayout::yxc},
      {Format::v3, 0, Codec::none, DataType::uint8, 3, ChannelLayout::yxc},
      {Format::v3, 256, Codec::none, DataType::uint16, 3, ChannelLayout::yxc},
  };
  int n = 0;
  for (const auto& k : cases) {
    const std::string name = "case" + std::to_string(n++);
    SCOPED_TRACE(name);
    Image host = random_image(W, H, k.channels, k.dtype, 100 + n);
    // A pitched device view: a crop of a wider device image.
    Image wide_host = random_image(W + 37, H, k.channels, k.dtype, 7);
    for (int64_t y = 0; y < H; ++y) {
      std::memcpy(wide_host.view().row(y) + 5 * host.view().pixel_bytes(), host.view().row(y),
                  host.view().row_bytes());
    }
    Image wide_dev = to_device(wide_host);
    ImageView src = wide_dev.view().crop(5, 0, W, H);
    ArraySpec spec{.height = H,
                   .width = W,
                   .channels = k.channels,
                   .layout = k.layout,
                   .dtype = k.dtype,
                   .chunk_height = 128,
                   .chunk_width = 128,
                   .shard_height = k.shard,
                   .shard_width = k.shard,
                   .format = k.format,
                   .codec = k.codec};
    auto gpu_path = dir / (name + "_gpu.zarr");
    auto writer = ArrayWriter::create(gpu_path, spec, {.threads = 4});
    writer.write(src);
    WriteReport report = writer.finish();
    // auto: cuFile where it can write here (uncompressed interleaved chunks), POSIX otherwise.
    const bool interleaved =
        k.format == Format::v3 || k.channels == 1 || k.layout == ChannelLayout::yxc;
    const bool cufile_expected = cufile_usable && interleaved && k.codec == Codec::none;
    EXPECT_EQ(report.io_path.rfind(cufile_expected ? "cufile" : "posix", 0), 0u) << report.io_path;
    // Our reader, to the host and to a GPU view.
    auto reader = ArrayReader::open(gpu_path);
    EXPECT_TRUE(equal(reader.read(), host));
    Image back_dev = reader.read({.device = Device::cuda});
    EXPECT_TRUE(equal(to_host(back_dev.view()), host));
    // Byte-identical files to a host-source write of the same pixels.
    auto cpu_path = dir / (name + "_cpu.zarr");
    auto cpu_writer = ArrayWriter::create(cpu_path, spec, {.threads = 2, .io_depth = 1});
    cpu_writer.write(host.view());
    cpu_writer.finish();
    for (const auto& entry : std::filesystem::recursive_directory_iterator(cpu_path)) {
      if (!entry.is_regular_file()) continue;
      auto rel = std::filesystem::relative(entry.path(), cpu_path);
      std::ifstream a(entry.path(), std::ios::binary), b(gpu_path / rel, std::ios::binary);
      std::string sa((std::istreambuf_iterator<char>(a)), {}),
          sb((std::istreambuf_iterator<char>(b)), {});
      EXPECT_EQ(sa, sb) << rel;
    }
    auto raw = dir / (name + ".raw");
    std::ofstream(raw, std::ios::binary)
        .write(reinterpret_cast<const char*>(host.data()),
               static_cast<std::streamsize>(host.size_bytes()));
    const char* dtype = k.dtype == DataType::uint8    ? "uint8"
                        : k.dtype == DataType::uint16 ? "<u2"
                                                      : "<f4";
    manifest.push_back({{"path", gpu_path.string()},
                        {"raw", raw.string()},
                        {"format", static_cast<int>(k.format)},
                        {"dtype", dtype},
                        {"height", H},
                        {"width", W},
                        {"channels", k.channels},
                        {"layout", to_string(k.layout)},
                        {"chunk", {128, 128}},
                        {"fill_value", 0}});
  }
  std::ofstream(dir / "manifest.json") << manifest.dump();
  std::string output;
  EXPECT_EQ(test::run_python("zarr_check_read.py", {(dir / "manifest.json").string()}, &output), 0)
      << output;
}

// Units larger than one write piece (8 MiB) go to disk piece by piece while their later bytes are
// still being copied from the GPU: the files must equal a host-source write, edge chunks and
// shard indices included, with row pitches that are and are not multiples of 4 KiB.
TEST(GpuZarrWrite, LargeUnitsWrittenInPiecesEqualHostWrites) {
  SLIDESTREAM_REQUIRE_GPU();
  auto dir = test::scratch_dir("gpu_zarr_pieces");
  struct Big {
    const char* name;
    DataType dtype;
    int64_t h, w, chunk, shard;
  };
  const Big cases[] = {
      {"float32_chunk1024", DataType::float32, 1100, 1300, 1024, 0},  // 12 MiB chunks, pitch 12 KiB
      {"uint8_chunk2000", DataType::uint8, 2100, 2300, 2000, 0},      // pitch 6000 B
      {"float32_shard1024", DataType::float32, 1100, 1300, 256, 1024},  // 12 MiB shards
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Image host = random_image(c.w, c.h, 3, c.dtype, 21);
    Image dev = to_device(host);
    ArraySpec spec{.height = c.h,
                   .width = c.w,
                   .channels = 3,
                   .dtype = c.dtype,
                   .chunk_height = c.chunk,
                   .chunk_width = c.chunk,
                   .shard_height = c.shard,
                   .shard_width = c.shard,
                   .fill_value = 3};
    auto gpu_path = dir / (std::string(c.name) + "_gpu.zarr");
    auto cpu_path = dir / (std::string(c.name) + "_cpu.zarr");
    auto gw = ArrayWriter::create(gpu_path, spec, {.io = IoBackend::posix, .io_depth = 3});
    gw.write(dev.view());
    gw.finish();
    auto cw = ArrayWriter::create(cpu_path, spec, {.threads = 2});
    cw.write(host.view());
    cw.finish();
    expect_same_tree(cpu_path, gpu_path);
    EXPECT_TRUE(equal(ArrayReader::open(gpu_path).read(), host));
  }
}

TEST(GpuZarrWrite, RegionReadIntoAGpuViewIsExact) {
  SLIDESTREAM_REQUIRE_GPU();
  auto dir = test::scratch_dir("gpu_zarr_read");
  Image host = random_image(333, 222, 3, DataType::uint16, 3);
  auto w = ArrayWriter::create(dir / "a.zarr", {.height = 222,
                                                .width = 333,
                                                .channels = 3,
                                                .dtype = DataType::uint16,
                                                .chunk_height = 64,
                                                .chunk_width = 64,
                                                .shard_height = 128,
                                                .shard_width = 128,
                                                .codec = Codec::zstd});
  w.write(host.view());
  w.finish();
  Image dev = Image::allocate(100, 90, 3, DataType::uint16, Device::cuda);
  ArrayReader::open(dir / "a.zarr").read_region(70, 51, dev.view());
  Image back = to_host(dev.view());
  const size_t px = back.view().pixel_bytes();
  for (int64_t y = 0; y < 90; ++y) {
    ASSERT_EQ(std::memcmp(back.view().row(y), host.view().row(70 + y) + 51 * px, 100 * px), 0);
  }
}

// io auto where nvidia-fs is absent writes through POSIX whatever cuFile would answer, so the
// writer must not ask cuFile (asking opens its driver and registers a probe file: time, and
// perhaps device memory, that a tiled run would pay for nothing: issue 16.4). Each gtest runs in a
// process of its own under ctest, so nothing earlier in this process asked.
TEST(GpuZarrWrite, AutoWithoutNvidiaFsWritesThroughPosixWithoutOpeningCufile) {
  SLIDESTREAM_REQUIRE_GPU();
  if (shim::cufile::nvidia_fs_present()) GTEST_SKIP() << "nvidia-fs is present here";
  ASSERT_FALSE(shim::cufile::driver_open_tried());
  auto dir = test::scratch_dir("gpu_zarr_auto_no_cufile");
  Image host = random_image(200, 150, 3, DataType::uint8, 5);
  Image dev = to_device(host);
  ArraySpec spec{.height = 150,
                 .width = 200,
                 .channels = 3,
                 .dtype = DataType::uint8,
                 .chunk_height = 64,
                 .chunk_width = 64};
  auto writer = ArrayWriter::create(dir / "auto.zarr", spec, {.io = IoBackend::automatic});
  writer.write(dev.view());
  const auto summary = writer.finish();
  EXPECT_EQ(summary.io_path.rfind("posix", 0), 0u) << summary.io_path;
  EXPECT_FALSE(shim::cufile::driver_open_tried());
  Image back = Image::allocate(200, 150, 3, DataType::uint8);
  ArrayReader::open(dir / "auto.zarr").read_region(0, 0, back.view());
  for (int64_t y = 0; y < 150; ++y) {
    ASSERT_EQ(std::memcmp(back.view().row(y), host.view().row(y), 200 * 3), 0);
  }
}

// cuFile writes as far as this machine allows. Without nvidia-fs (the lent H100 machines) cuFile
// cannot register files: `cufile` must then be a clear error before anything is written, and
// `auto` must write through POSIX and say why, never calling that run cufile. Where cuFile can
// write, `cufile` must land the same bytes as the POSIX path, edge chunks and shards included.
TEST(GpuZarrWrite, CufileIsUsedWhereItCanWriteAndOtherwiseRefusedOrReported) {
  SLIDESTREAM_REQUIRE_GPU();
  auto dir = test::scratch_dir("gpu_zarr_cufile");
  const std::string problem = device::cufile_write_problem(dir);
  const int64_t H = 333, W = 290;
  Image host = random_image(W, H, 3, DataType::float32, 11);
  Image dev = to_device(host);
  for (int64_t shard : {int64_t{0}, int64_t{256}}) {
    SCOPED_TRACE("shard " + std::to_string(shard));
    ArraySpec spec{.height = H,
                   .width = W,
                   .channels = 3,
                   .dtype = DataType::float32,
                   .chunk_height = 128,
                   .chunk_width = 128,
                   .shard_height = shard,
                   .shard_width = shard,
                   .fill_value = 7.5};
    const std::string tag = shard ? "sharded" : "chunks";
    auto posix_path = dir / (tag + "_posix.zarr");
    auto pw = ArrayWriter::create(posix_path, spec, {.io = IoBackend::posix});
    pw.write(dev.view());
    EXPECT_EQ(pw.finish().io_path.rfind("posix", 0), 0u);

    auto requested = dir / (tag + "_cufile.zarr");
    auto auto_path = dir / (tag + "_auto.zarr");
    auto aw = ArrayWriter::create(auto_path, spec, {.io = IoBackend::automatic});
    aw.write(dev.view());
    const std::string auto_io = aw.finish().io_path;
    if (problem.empty()) {
      std::printf("cuFile can write here: %s\n", auto_io.c_str());
      // auto declines cuFile's compatibility mode (no nvidia-fs) and takes GDS proper.
      EXPECT_EQ(auto_io.rfind(device::cufile_compat_mode() ? "posix" : "cufile", 0), 0u) << auto_io;
      auto cw = ArrayWriter::create(requested, spec, {.io = IoBackend::cufile});
      cw.write(dev.view());
      EXPECT_EQ(cw.finish().io_path.rfind("cufile", 0), 0u);
      expect_same_tree(posix_path, requested);
      // A host source cannot go through cuFile: refused, not silently written through POSIX.
      auto hw = ArrayWriter::create(dir / (tag + "_host.zarr"), spec, {.io = IoBackend::cufile});
      EXPECT_THROW(hw.write(host.view()), Error);
    } else {
      std::printf("cuFile cannot write here: %s\n", problem.c_str());
      EXPECT_EQ(auto_io.rfind("posix", 0), 0u) << auto_io;
      // Without nvidia-fs, auto does not ask cuFile (its driver stays closed) and says why;
      // with it, auto asked and reports cuFile's own answer.
      if (device::cufile_compat_mode()) {
        EXPECT_NE(auto_io.find("cufile not used: no nvidia-fs"), std::string::npos) << auto_io;
      } else {
        EXPECT_NE(auto_io.find("cufile unavailable"), std::string::npos) << auto_io;
        EXPECT_NE(auto_io.find(problem), std::string::npos) << auto_io;
      }
      try {
        ArrayWriter::create(requested, spec, {.io = IoBackend::cufile});
        ADD_FAILURE() << "expected Error(cufile)";
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::cufile) << e.what();
        EXPECT_NE(std::string(e.what()).find("cuFile was requested"), std::string::npos)
            << e.what();
      }
      EXPECT_FALSE(std::filesystem::exists(requested));
    }
    expect_same_tree(posix_path, auto_path);
    EXPECT_TRUE(equal(ArrayReader::open(auto_path).read(), host));
  }
  // The CLI: --io cufile where cuFile cannot write is an error naming the cause; auto reports.
  if (!problem.empty()) {
    auto slide = test::fixture("vips-none-256.tif");
    std::string output;
    int rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" +
                                   (dir / "cli.zarr").string() + "' --device cuda --io cufile",
                               &output);
    EXPECT_NE(rc, 0) << output;
    EXPECT_NE(output.find("cuFile was requested"), std::string::npos) << output;
    EXPECT_FALSE(std::filesystem::exists(dir / "cli.zarr")) << output;
    rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" +
                               (dir / "cli-auto.zarr").string() + "' --device cuda --io auto",
                           &output);
    EXPECT_EQ(rc, 0) << output;
    EXPECT_NE(output.find("io posix"), std::string::npos) << output;
    EXPECT_NE(output.find(device::cufile_compat_mode() ? "cufile not used: no nvidia-fs"
                                                       : "cufile unavailable"),
              std::string::npos)
        << output;
  }
}

TEST(GpuZarrWrite, ConvertThroughTheGpuWritesTheSameFilesAsThroughTheHost) {
  SLIDESTREAM_REQUIRE_GPU();
  auto slide = test::fixture("vips-jpeg90-256.tif");
  auto dir = test::scratch_dir("gpu_zarr_convert");
  for (std::string flags :
       {"--chunk 256", "--chunk 128 --shard 512", "--zarr-format 2 --codec zstd"}) {
    SCOPED_TRACE(flags);
    std::string output;
    for (const char* device : {"cpu", "cuda"}) {
      int rc = test::run_command(test::cli_path() + " convert '" + slide.string() + "' '" +
                                     (dir / device).string() + "' --overwrite --device " + device +
                                     " " + flags,
                                 &output);
      ASSERT_EQ(rc, 0) << output;
    }
    expect_same_tree(dir / "cpu", dir / "cuda");
  }
}

}  // namespace
}  // namespace slidestream::zarr
