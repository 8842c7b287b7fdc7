// Many GPUs: every GPU entry point takes the GPU's index, the last GPU of the machine works like
// the first, and an index past the last is the clear error naming the GPUs there are (the same
// error on a one-GPU machine for cuda:7). Skips without a GPU (tests/test_device.cpp covers the
// error there).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "slidestream/device.hpp"
#include "slidestream/error.hpp"
#include "slidestream/ops.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"
#include "support/gpu_images.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

// The Error that `f` throws; fails the test if it throws none.
template <typename F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no slidestream::Error thrown";
  return Error(ErrorKind::io, "none");
}

void expect_names_the_gpus(const Error& e, int missing, int count) {
  EXPECT_EQ(e.kind(), ErrorKind::invalid_argument) << e.what();
  const std::string start = "cuda:" + std::to_string(missing) +
                            " does not exist: this machine has " + std::to_string(count) +
                            (count == 1 ? " GPU (cuda:0: " : " GPUs (cuda:0: ");
  EXPECT_NE(e.cause().find(start), std::string::npos) << e.what();
}

const char* kSlide = "vips-none-256.tif";

}  // namespace

TEST(GpuDevice, TheLastGpuReadsAndProcessesLikeTheCpu) {
  SLIDESTREAM_REQUIRE_GPU();
  const int last = cuda_device_count() - 1;
  ASSERT_GE(last, 0);
  Slide slide = Slide::open(test::fixture(kSlide));
  const Level& l = slide.level(0);
  const std::vector<std::byte> host = test::tight(slide.read_level(0).view());

  ReadOptions read{.device = Device::cuda, .cuda_device = last};
  Image gpu = slide.read_region(0, 0, 0, l.width, l.height, read);
  ASSERT_EQ(gpu.view().cuda_device, last);
  cudaPointerAttributes where{};
  ASSERT_EQ(cudaPointerGetAttributes(&where, gpu.data()), cudaSuccess);
  EXPECT_EQ(where.device, last);
  EXPECT_TRUE(test::to_host(gpu.view()) == host);

  const std::vector<ops::Op> chain = {ops::parse_op("sobel")};
  pipeline::Options cpu_options;
  cpu_options.mode = pipeline::Mode::global;
  const Image cpu = pipeline::process_to_image(slide, chain, cpu_options);
  for (pipeline::Mode mode : {pipeline::Mode::global, pipeline::Mode::tiled}) {
    pipeline::Options o;
    o.mode = mode;
    o.device = Device::cuda;
    o.cuda_device = last;
    o.tile = 256;
    const Image out = pipeline::process_to_image(slide, chain, o);
    ASSERT_EQ(out.view().cuda_device, last);
    EXPECT_TRUE(test::to_host(out.view()) == test::tight(cpu.view()))
        << (mode == pipeline::Mode::tiled ? "tiled" : "global");
  }
}

TEST(GpuDevice, AGpuPastTheLastIsAClearErrorEverywhere) {
  SLIDESTREAM_REQUIRE_GPU();
  const int count = cuda_device_count();
  Slide slide = Slide::open(test::fixture(kSlide));
  for (int missing : {count, 7 < count ? count + 7 : 7}) {
    SCOPED_TRACE("cuda:" + std::to_string(missing));
    expect_names_the_gpus(error_of([&] {
                            require_device(DeviceSpec{Device::cuda, missing});
                          }),
                          missing, count);
    expect_names_the_gpus(error_of([&] {
                            ReadOptions read{.device = Device::cuda, .cuda_device = missing};
                            slide.read_region(0, 0, 0, 64, 64, read);
                          }),
                          missing, count);
    expect_names_the_gpus(error_of([&] {
                            pipeline::Options o;
                            o.device = Device::cuda;
                            o.cuda_device = missing;
                            pipeline::process_to_image(slide, {ops::parse_op("sobel")}, o);
                          }),
                          missing, count);
  }
}

}  // namespace slidestream
