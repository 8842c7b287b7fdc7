// The front ends (the CLI in src/cli, the Python package in python/src) use the public API in
// include/slidestream/ and nothing of the library's rooms: a front end that reaches into src/
// would be copied by the next one. Every #include of every front-end source is resolved against
// src/ (as the include path `-I src` would, and relative to the file itself); one that lands on a
// file in src/ outside the front end's own folder fails the test, naming the file and the line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace slidestream::test {
namespace {

namespace fs = std::filesystem;

bool inside(const fs::path& path, const fs::path& folder) {
  const fs::path rel = path.lexically_normal().lexically_relative(folder.lexically_normal());
  return !rel.empty() && *rel.begin() != "..";
}

// "file:line: #include ..." for each include of `source` that resolves to a file under `src`
// but outside `own` (the front end's own folder).
std::vector<std::string> private_includes(const fs::path& source, const fs::path& src,
                                          const fs::path& own) {
  static const std::regex include_line(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::vector<std::string> found;
  std::ifstream in(source);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::smatch m;
    if (!std::regex_search(line, m, include_line)) continue;
    const fs::path name = m[1].str();
    for (const fs::path& candidate : {src / name, source.parent_path() / name}) {
      std::error_code ec;
      if (!fs::is_regular_file(candidate, ec)) continue;
      if (inside(candidate, src) && !inside(candidate, own)) {
        found.push_back(source.string() + ":" + std::to_string(number) + ": " + line);
        break;
      }
    }
  }
  return found;
}

std::vector<std::string> private_includes_under(const fs::path& folder, const fs::path& src) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return found;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp" && ext != ".h" &&
                                     ext != ".cc" && ext != ".cu" && ext != ".cuh")) {
      continue;
    }
    for (auto& hit : private_includes(entry.path(), src, folder)) found.push_back(hit);
  }
  return found;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

const fs::path kSource = SLIDESTREAM_SOURCE_DIR;

TEST(FrontEnds, CliIncludesOnlyThePublicApiAndItsOwnHeaders) {
  ASSERT_TRUE(fs::is_directory(kSource / "src" / "cli"));
  const auto hits = private_includes_under(kSource / "src" / "cli", kSource / "src");
  EXPECT_TRUE(hits.empty()) << "src/cli reaches into the library's rooms:\n" << joined(hits);
}

TEST(FrontEnds, PythonPackageIncludesOnlyThePublicApi) {
  // python/src may not exist yet; when it does, it is held to the same rule (src/cli included).
  const auto hits = private_includes_under(kSource / "python" / "src", kSource / "src");
  EXPECT_TRUE(hits.empty()) << "python/src reaches into the library's rooms:\n" << joined(hits);
}

// The scanner itself: a front-end file with a private include (plain, relative, angled) is caught,
// while the public API, its own folder's headers and system headers are not.
TEST(FrontEnds, ScannerCatchesEveryFormOfPrivateInclude) {
  const fs::path root = scratch_dir("FrontEndsScanner");
  fs::create_directories(root / "src" / "tiff");
  fs::create_directories(root / "src" / "cli");
  std::ofstream(root / "src" / "tiff" / "slide_impl.hpp") << "\n";
  std::ofstream(root / "src" / "cli" / "commands.hpp") << "\n";
  std::ofstream(root / "src" / "cli" / "good.cpp")
      << "#include <vector>\n#include \"cli/commands.hpp\"\n#include \"commands.hpp\"\n"
         "#include \"slidestream/slide.hpp\"\n#include <cuda/std/atomic>\n";
  std::ofstream(root / "src" / "cli" / "bad.cpp")
      << "#include \"tiff/slide_impl.hpp\"\n  #  include <tiff/slide_impl.hpp>\n"
         "#include \"../tiff/slide_impl.hpp\"\n";
  const auto hits = private_includes_under(root / "src" / "cli", root / "src");
  EXPECT_EQ(hits.size(), 3u) << joined(hits);
  for (const auto& hit : hits) EXPECT_NE(hit.find("bad.cpp"), std::string::npos) << hit;
}

}  // namespace
}  // namespace slidestream::test
