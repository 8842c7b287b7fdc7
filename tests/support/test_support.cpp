#include "support/test_support.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#if SLIDESTREAM_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace slidestream::test {

// SLIDESTREAM_FIXTURE_DIR in the environment overrides the build tree's directory: the GPU
// machine has no libvips to make fixtures, so they travel from another machine.
std::filesystem::path fixture_dir() {
  if (const char* dir = std::getenv("SLIDESTREAM_FIXTURE_DIR"); dir && *dir) return dir;
  return SLIDESTREAM_FIXTURE_DIR;
}
std::filesystem::path shared_testdata() {
  if (const char* dir = std::getenv("SLIDESTREAM_SHARED_TESTDATA"); dir && *dir) return dir;
  return SLIDESTREAM_SHARED_TESTDATA;
}

std::filesystem::path fixture(const std::string& name) {
  auto p = fixture_dir() / name;
  if (!std::filesystem::exists(p)) {
    ADD_FAILURE() << "missing fixture " << p << " (run ctest so that make_fixtures runs first)";
  }
  return p;
}

std::filesystem::path scratch_dir(const std::string& test_name) {
  auto dir = std::filesystem::path(SLIDESTREAM_FIXTURE_DIR).parent_path() / "scratch" / test_name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

int run_command(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buffer{};
  std::string text;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) text.append(buffer.data(), n);
  int status = ::pclose(pipe);
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_python(const std::string& script, const std::vector<std::string>& args,
               std::string* output) {
  std::string cmd = std::string("'") + SLIDESTREAM_PYTHON + "' '" + SLIDESTREAM_SOURCE_DIR +
                    "/tests/python/" + script + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  return run_command(cmd, output);
}

std::string cli_path() {
  return SLIDESTREAM_CLI;
}

bool gpu_available(std::string* why) {
#if SLIDESTREAM_HAVE_CUDA
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
    (void)cudaGetLastError();
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device";
    return false;
  }
  return true;
#else
  if (why) *why = "built without CUDA (SLIDESTREAM_CUDA=OFF)";
  return false;
#endif
}

}  // namespace slidestream::test
