// Device names as the front ends take them ("cpu", "cuda", "cuda:N"), and the error for a GPU
// that does not exist, which must name the GPUs there are. Runs everywhere: on a machine without
// a usable GPU every cuda:N is refused; on a GPU machine cuda:<count> is.
#include <gtest/gtest.h>

#include <string>

#include "slidestream/device.hpp"
#include "slidestream/error.hpp"

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
