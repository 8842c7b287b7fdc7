// The NDPI test slides (tests/fixtures/make_ndpi_fixtures.py, checked by OpenSlide 4.0.1), for
// the CPU and GPU NDPI tests.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace slidestream::test {

inline std::filesystem::path ndpi_fixture_dir() {
  return fixture_dir() / "ndpi";
}

inline std::vector<std::filesystem::path> ndpi_fixtures() {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(ndpi_fixture_dir())) return out;
  for (const auto& entry : std::filesystem::directory_iterator(ndpi_fixture_dir())) {
    if (entry.path().extension() == ".ndpi") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Writes an NDPI whose streams and directories lie past 4 GiB behind a hole into `dir`; empty
// (and *why) where the generator fails, or, with *unsupported set, where the filesystem does
// not keep the hole sparse.
inline std::filesystem::path make_sparse_ndpi(const std::filesystem::path& dir, std::string* why,
                                              bool* unsupported) {
  const std::filesystem::path path = dir / "ndpi-over-4gib.ndpi";
  std::string log;
  const std::string script =
      std::string(SLIDESTREAM_SOURCE_DIR) + "/tests/fixtures/make_ndpi_fixtures.py";
  // The GPU machine has no project venv: its python3 then (numpy and Pillow are enough).
  const std::string python =
      std::filesystem::exists(SLIDESTREAM_PYTHON) ? SLIDESTREAM_PYTHON : "python3";
  int rc = run_command("'" + python + "' '" + script + "' --sparse '" + path.string() + "'", &log);
  *unsupported = rc == 77;
  if (rc != 0) {
    *why = (rc == 77 ? "" : "generator failed: ") + log;
    return {};
  }
  return path;
}

}  // namespace slidestream::test
