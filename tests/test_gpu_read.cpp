// Every level of every test slide read into GPU memory equals the host read (our CPU path,
// itself checked against OpenSlide and libtiff in the CPU tests) exactly, JPEG included (nvJPEG's
// engines plus our libjpeg-turbo-exact upsampling), under every I/O backend and with one and many
// threads. Plus reads into a caller's pitched buffer and the error paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "shim/nvjpeg.hpp"
#include "support/gpu_images.hpp"
#endif

namespace slidestream {
namespace {

namespace fs = std::filesystem;

// Slides found at run time: the public ones in shared testdata and whatever make_fixtures made.
std::vector<fs::path> all_slides() {
  std::vector<fs::path> slides;
  for (const fs::path& dir : {test::shared_testdata(), test::fixture_dir()}) {
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
      if (!entry.is_regular_file()) continue;
      std::string ext = entry.path().extension().string();
      if (ext == ".tif" || ext == ".tiff" || ext == ".svs") slides.push_back(entry.path());
    }
  }
  std::sort(slides.begin(), slides.end());
  return slides;
}

#if SLIDESTREAM_HAVE_CUDA
using test::max_abs_difference;
using test::PitchedDeviceImage;
using test::tight;
using test::to_host;

bool gds_usable() {
  return std::filesystem::exists("/proc/driver/nvidia-fs") ||
         std::filesystem::exists("/dev/nvidia-fs0");
}
#endif

struct Case {
  IoBackend io;
  int threads;
};

TEST(GpuRead, EveryLevelOfEverySlideEqualsTheHostRead) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  auto slides = all_slides();
  ASSERT_FALSE(slides.empty()) << "no test slides found";
  int compared = 0;
  const Case cases[] = {{IoBackend::posix, 1},
                        {IoBackend::posix, 0},
                        {IoBackend::automatic, 1},
                        {IoBackend::automatic, 0},
                        {IoBackend::cufile, 0}};
  for (const fs::path& path : slides) {
    std::optional<Slide> slide;
    try {
      slide.emplace(Slide::open(path));
    } catch (const Error&) {
      continue;  // the unopenable ones: the CPU tests check their errors
    }
    for (const Level& l : slide->levels()) {
      SCOPED_TRACE(path.string() + " level " + std::to_string(l.index));
      std::optional<Image> cpu;
      std::optional<Error> cpu_error;
      try {
        cpu.emplace(slide->read_level(l.index));
      } catch (const Error& e) {
        cpu_error.emplace(e);
      }
      for (const Case& c : cases) {
        SCOPED_TRACE(std::string("io ") + std::string(to_string(c.io)) + ", threads " +
                     std::to_string(c.threads));
        ReadOptions options;
        options.device = Device::cuda;
        // nvJPEG decoders made on first use, not in the background: JPEG tiles go through them.
        options.gpu_jpeg_wait = true;
        options.io = c.io;
        options.threads = c.threads;
        Image gpu = Image::allocate(l.width, l.height, l.channels, l.dtype, Device::cuda);
        ReadReport report;
        if (cpu_error) {
          // A level the host cannot read (damaged tiles) fails on the GPU path too, same kind.
          try {
            slide->read_level(l.index, gpu.view(), options, &report);
            ADD_FAILURE() << "GPU read succeeded where the host read failed: " << cpu_error->what();
          } catch (const Error& e) {
            if (c.io == IoBackend::cufile && e.kind() == ErrorKind::cufile) continue;
            EXPECT_EQ(e.kind(), cpu_error->kind()) << e.what();
          }
          continue;
        }
        if (c.io == IoBackend::cufile && !gds_usable()) {
          // No nvidia-fs: an explicit cuFile request must say so, not quietly read with POSIX.
          // (Slides whose tiles all need decoding never touch cuFile for bytes; they still
          // refuse when cuFile cannot register the file.)
          try {
            slide->read_level(l.index, gpu.view(), options, &report);
            EXPECT_NE(report.io_path.find("cufile"), std::string::npos) << report.io_path;
          } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::cufile) << e.what();
            EXPECT_NE(std::string(e.what()).find("cuFile"), std::string::npos) << e.what();
          }
          continue;
        }
        slide->read_level(l.index, gpu.view(), options, &report);
        EXPECT_FALSE(report.io_path.empty());
        EXPECT_FALSE(report.decoder.empty());
        if (c.io == IoBackend::automatic && !gds_usable()) {
          EXPECT_EQ(report.io_path.find("cufile"), std::string::npos)
              << "a POSIX read reported as cuFile: " << report.io_path;
        }
        EXPECT_EQ(report.pixel_bytes, gpu.view().tight_bytes());
        auto got = to_host(gpu.view());
        auto want = tight(cpu->view());
        ASSERT_EQ(got.size(), want.size());
        size_t differing = 0;
        int worst = max_abs_difference(got, want, &differing);
        EXPECT_EQ(worst, 0) << differing << " bytes differ; decoder " << report.decoder;
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 0);
  std::printf("compared %d GPU level reads with host reads\n", compared);
#endif
}

TEST(GpuRead, RegionIntoACallersPitchedBufferWithFill) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  int regions = 0;
  for (const fs::path& path : all_slides()) {
    std::optional<Slide> slide;
    try {
      slide.emplace(Slide::open(path));
    } catch (const Error&) {
      continue;
    }
    const Level& l = slide->level(0);
    // A region hanging over the level's left/top and right/bottom edges, not tile-aligned.
    const int64_t x = -37, y = -11;
    const int64_t w = std::min<int64_t>(l.width + 80, 3000),
                  h = std::min<int64_t>(l.height + 50, 2000);
    ReadOptions host_options;
    host_options.fill = 7;
    Image cpu;
    try {
      cpu = slide->read_region(0, x, y, w, h, host_options);
    } catch (const Error&) {
      continue;
    }
    SCOPED_TRACE(path.string());
    PitchedDeviceImage device(w, h, l.channels, l.dtype, 100);
    const ImageView& view = device.view();
    ReadOptions options = host_options;
    options.device = Device::cuda;
    options.gpu_jpeg_wait = true;
    ReadReport report;
    slide->read_region(0, x, y, w, h, view, options, &report);
    auto got = to_host(view);
    auto want = tight(cpu.view());
    size_t differing = 0;
    int worst = max_abs_difference(got, want, &differing);
    EXPECT_EQ(worst, 0) << differing << " differ; decoder " << report.decoder;
    ++regions;
  }
  EXPECT_GT(regions, 0);
#endif
}

// The YCbCr JPEG fixtures (4:2:0, 4:2:2, 4:4:4; 99 tiles, more than one 64-tile batch) really go
// through the JPEG engines, and the pixels equal libjpeg-turbo's, whole level and a region whose
// edges cut through tiles.
TEST(GpuRead, JpegEnginesGiveLibjpegTurboPixels) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  const auto& nvjpeg = shim::nvjpeg::availability();
  if (!nvjpeg.hardware_backend) {
    GTEST_SKIP() << "this GPU has no nvJPEG hardware backend (" << nvjpeg.why
                 << "): JPEG tiles decode on CPU threads, covered by the test above";
  }
  int read = 0;
  for (const char* name :
       {"tf-jpeg-ycbcr420-128.tif", "tf-jpeg-ycbcr422-128.tif", "tf-jpeg-ycbcr444-128.tif"}) {
    const fs::path path = test::fixture_dir() / name;
    if (!fs::exists(path)) {
      ADD_FAILURE() << "missing fixture " << path;
      continue;
    }
    SCOPED_TRACE(path.string());
    Slide slide = Slide::open(path);
    const Level& l = slide.level(0);
    {
      // The process's first reads fill the staging pools; then the engines are ready at once.
      ReadOptions options;
      options.device = Device::cuda;
      options.gpu_jpeg_wait = true;
      Image warm_up = Image::allocate(l.width, l.height, l.channels, l.dtype, Device::cuda);
      slide.read_level(0, warm_up.view(), options);
    }
    struct Box {
      int64_t x, y, w, h;
    };
    for (Box b : {Box{0, 0, l.width, l.height}, Box{77, 45, l.width - 150, l.height - 100}}) {
      Image cpu = slide.read_region(0, b.x, b.y, b.w, b.h);
      for (int threads : {1, 0}) {
        ReadOptions options;
        options.device = Device::cuda;
        options.gpu_jpeg_wait = true;
        options.threads = threads;
        Image gpu = Image::allocate(b.w, b.h, l.channels, l.dtype, Device::cuda);
        ReadReport report;
        slide.read_region(0, b.x, b.y, b.w, b.h, gpu.view(), options, &report);
        EXPECT_NE(report.decoder.find("nvjpeg-hardware"), std::string::npos)
            << "the JPEG engines decoded nothing: " << report.decoder;
        size_t differing = 0;
        int worst = max_abs_difference(to_host(gpu.view()), tight(cpu.view()), &differing);
        EXPECT_EQ(worst, 0) << differing << " bytes differ; decoder " << report.decoder;
        ++read;
      }
    }
  }
  EXPECT_EQ(read, 12);
#endif
}

TEST(GpuRead, DestinationTooSmallIsInvalidArgument) {
  SLIDESTREAM_REQUIRE_GPU();
  Slide slide = Slide::open(test::shared_testdata() / "boxes.tiff");
  const Level& l = slide.level(0);
  Image small = Image::allocate(l.width - 1, l.height, l.channels, l.dtype, Device::cuda);
  ReadOptions options;
  options.device = Device::cuda;
  options.gpu_jpeg_wait = true;
  try {
    slide.read_level(0, small.view(), options);
    FAIL() << "a too-small destination was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument) << e.what();
  }
}

TEST(GpuRead, HostPointerInAGpuViewIsInvalidArgument) {
  SLIDESTREAM_REQUIRE_GPU();
  Slide slide = Slide::open(test::shared_testdata() / "boxes.tiff");
  const Level& l = slide.level(0);
  Image host = Image::allocate(l.width, l.height, l.channels, l.dtype, Device::cpu);
  ImageView lie = host.view();
  lie.device = Device::cuda;  // says GPU, points at host memory
  ReadOptions options;
  options.device = Device::cuda;
  options.gpu_jpeg_wait = true;
  try {
    slide.read_level(0, lie, options);
    FAIL() << "a host pointer was accepted as GPU memory";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument) << e.what();
  }
}

TEST(GpuRead, OutOfGpuMemoryIsOutOfMemory) {
  SLIDESTREAM_REQUIRE_GPU();
  // 2^21 × 2^21 × 3 bytes = 12 TiB: no GPU has it.
  try {
    Image huge =
        Image::allocate(int64_t{1} << 21, int64_t{1} << 21, 3, DataType::uint8, Device::cuda);
    FAIL() << "a 12 TiB GPU allocation succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::out_of_memory) << e.what();
  }
  // And the library still works afterwards (no sticky CUDA error).
  Slide slide = Slide::open(test::shared_testdata() / "boxes.tiff");
  ReadOptions options;
  options.device = Device::cuda;
  options.gpu_jpeg_wait = true;
  Image ok = slide.read_level(0, options);
  EXPECT_TRUE(ok);
}

TEST(GpuRead, AutomaticSaysWhyItDidNotUseCufile) {
  SLIDESTREAM_REQUIRE_GPU();
#if SLIDESTREAM_HAVE_CUDA
  if (gds_usable()) GTEST_SKIP() << "nvidia-fs present: cuFile may be used";
  // An uncompressed fixture, so that bytes actually travel through the I/O backend.
  for (const fs::path& path : all_slides()) {
    std::optional<Slide> slide;
    try {
      slide.emplace(Slide::open(path));
    } catch (const Error&) {
      continue;
    }
    const Level& l = slide->level(0);
    // Plain 8-bit tiles (a big-endian float file goes through the decoders instead).
    if (l.compression != Compression::none || l.planar_configuration != 1 ||
        l.dtype != DataType::uint8) {
      continue;
    }
    ReadOptions options;
    options.device = Device::cuda;
    options.gpu_jpeg_wait = true;
    ReadReport report;
    Image gpu = Image::allocate(l.width, l.height, l.channels, l.dtype, Device::cuda);
    slide->read_level(0, gpu.view(), options, &report);
    EXPECT_EQ(report.io_path.rfind("posix", 0), 0u) << report.io_path;
    EXPECT_NE(report.io_note.find("cufile"), std::string::npos) << report.io_note;
    return;
  }
  GTEST_SKIP() << "no uncompressed test slide";
#endif
}

TEST(GpuRead, CliChecksumOnTheGpuEqualsTheCpuChecksum) {
  SLIDESTREAM_REQUIRE_GPU();
  // Lossless slides only: the checksum must not depend on device, backend or threads.
  for (const fs::path& path : all_slides()) {
    std::optional<Slide> slide;
    try {
      slide.emplace(Slide::open(path));
    } catch (const Error&) {
      continue;
    }
    if (slide->level(0).compression == Compression::jpeg) continue;
    auto checksum_of = [&](const std::string& args) {
      std::string out;
      int rc = test::run_command(test::cli_path() + " read '" + path.string() + "' " + args, &out);
      auto at = out.find("checksum: ");
      return rc == 0 && at != std::string::npos ? out.substr(at, 27) : "failed: " + out;
    };
    std::string cpu = checksum_of("--device cpu");
    if (cpu.rfind("checksum", 0) != 0) continue;  // unreadable slides: the CPU tests cover them
    SCOPED_TRACE(path.string());
    EXPECT_EQ(checksum_of("--device cuda --io posix --threads 1"), cpu);
    EXPECT_EQ(checksum_of("--device cuda --io auto"), cpu);
  }
}

}  // namespace
}  // namespace slidestream
