// Device names as the front ends take them ("cpu", "cuda", "cuda:N"), and the error for a GPU
// that does not exist, which must name the GPUs there are. Runs everywhere: on a machine without
// a usable GPU every cuda:N is refused; on a GPU machine cuda:<count> is.
#include <gtest/gtest.h>

#include <string>

#include "slidestream/device.hpp"
#include "slidestream/error.hpp"
#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

namespace ss = slidestream;

namespace {

// The Error that `f` throws; fails the test if it throws none or another type.
template <typename F>
ss::Error error_of(F&& f) {
  try {
    f();
  } catch (const ss::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no slidestream::Error thrown";
  return ss::Error(ss::ErrorKind::io, "none");
}

}  // namespace

TEST(Device, ParsesCpuCudaAndCudaN) {
  EXPECT_EQ(ss::parse_device("cpu"), (ss::DeviceSpec{ss::Device::cpu, 0}));
  EXPECT_EQ(ss::parse_device("cuda"), (ss::DeviceSpec{ss::Device::cuda, 0}));
  EXPECT_EQ(ss::parse_device("cuda:0"), (ss::DeviceSpec{ss::Device::cuda, 0}));
  EXPECT_EQ(ss::parse_device("cuda:7"), (ss::DeviceSpec{ss::Device::cuda, 7}));
  EXPECT_EQ(ss::parse_device("cuda:12"), (ss::DeviceSpec{ss::Device::cuda, 12}));
}

TEST(Device, RefusesEverythingElseNamingTheText) {
  for (const char* text : {"", "gpu", "CUDA", "cuda:", "cuda:-1", "cuda:+1", "cuda:1x", "cuda: 1",
                           "cuda:99999999999", "cpu:0", " cuda", "cuda:0 "}) {
    const ss::Error e = error_of([&] { ss::parse_device(text); });
    EXPECT_EQ(e.kind(), ss::ErrorKind::invalid_argument) << text;
    EXPECT_NE(e.cause().find("\"" + std::string(text) + "\""), std::string::npos) << e.what();
    EXPECT_NE(e.cause().find("cpu, cuda or cuda:N"), std::string::npos) << e.what();
  }
}

TEST(Device, ToStringRoundTrips) {
  EXPECT_EQ(ss::to_string(ss::DeviceSpec{}), "cpu");
  EXPECT_EQ(ss::to_string(ss::parse_device("cuda")), "cuda:0");
  for (const char* text : {"cpu", "cuda:0", "cuda:3"}) {
    EXPECT_EQ(ss::to_string(ss::parse_device(text)), text);
  }
}

TEST(Device, TheCpuIsAlwaysThere) {
  EXPECT_NO_THROW(ss::require_device(ss::DeviceSpec{}));
}

TEST(Device, AGpuThatDoesNotExistIsAClearErrorNamingTheGpusThereAre) {
  const int count = ss::cuda_device_count();
  ASSERT_GE(count, 0);
  if (count == 0) {
    for (const char* text : {"cuda:0", "cuda:7"}) {
      const ss::Error e = error_of([&] { ss::require_device(ss::parse_device(text)); });
      EXPECT_EQ(e.kind(), ss::ErrorKind::invalid_argument);
      EXPECT_EQ(
          e.cause().rfind(std::string(text) + " is not usable: no CUDA GPU is usable here (", 0),
          0u)
          << e.what();
    }
    return;
  }
  const std::string missing = "cuda:" + std::to_string(count);
  const ss::Error e = error_of([&] { ss::require_device(ss::parse_device(missing)); });
  EXPECT_EQ(e.kind(), ss::ErrorKind::invalid_argument);
  const std::string has = missing + " does not exist: this machine has " + std::to_string(count) +
                          (count == 1 ? " GPU (cuda:0: " : " GPUs (cuda:0: ");
  EXPECT_EQ(e.cause().rfind(has, 0), 0u) << e.what();
  EXPECT_NE(e.cause().find("cuda:" + std::to_string(count - 1) + ": "), std::string::npos)
      << e.what();
  EXPECT_NO_THROW(ss::require_device(ss::DeviceSpec{ss::Device::cuda, count - 1}));
}

// The index of a GPU that is not there: cuda:7 unless the machine has more.
int missing_gpu() {
  const int count = ss::cuda_device_count();
  return count > 7 ? count : 7;
}

// The same clear error whichever entry point meets the missing GPU first (the allocation, the
// read, the pipeline), here without a GPU as on a GPU machine (test_gpu_device.cpp covers more).
TEST(Device, EveryEntryPointRefusesAMissingGpuWithTheClearError) {
  const int missing = missing_gpu();
  const std::string name = "cuda:" + std::to_string(missing);
  const std::string expected =
      ss::cuda_device_count() == 0 ? name + " is not usable: " : name + " does not exist: ";
  ss::Slide slide = ss::Slide::open(ss::test::fixture("vips-none-256.tif"));
  const auto check = [&](const char* what, const ss::Error& e) {
    SCOPED_TRACE(what);
    EXPECT_EQ(e.kind(), ss::ErrorKind::invalid_argument) << e.what();
    EXPECT_NE(e.cause().find(expected), std::string::npos) << e.what();
  };
  check("Image::allocate", error_of([&] {
          ss::Image::allocate(8, 8, 3, ss::DataType::uint8, ss::Device::cuda, missing);
        }));
  check("Slide::read_region", error_of([&] {
          ss::ReadOptions read{.device = ss::Device::cuda, .cuda_device = missing};
          slide.read_region(0, 0, 0, 64, 64, read);
        }));
  for (ss::pipeline::Mode mode : {ss::pipeline::Mode::global, ss::pipeline::Mode::tiled}) {
    check("pipeline::process_to_image", error_of([&] {
            ss::pipeline::Options o;
            o.mode = mode;
            o.device = ss::Device::cuda;
            o.cuda_device = missing;
            ss::pipeline::process_to_image(slide, {ss::ops::parse_op("sobel")}, o);
          }));
  }
}
