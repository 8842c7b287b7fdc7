// The rooms of src/ and which rooms each may include. Data flows one way (file → bytes → decoded
// tile → kernel → encoded chunk → file), and so do includes: the ground floor (core) includes
// nothing above it, io does not know codecs, nothing but the system room gathers what the whole
// machine offers. A room is the first folder under src/; an include "room/..." names the room it
// reaches into. Rooms not listed in a rule (new ones) are free until a rule names them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace fs = std::filesystem;

namespace {

struct Include {
  std::string file;  // relative to the scanned root
  int line = 0;
  std::string room;  // the room of the file
  std::string target;
  std::string target_room;
};

// Every quoted include of every C++/CUDA file under `root`.
std::vector<Include> scan(const fs::path& root) {
  static const std::regex include_line(R"(^\s*#\s*include\s*"([^"]+)\")");
  std::vector<Include> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    if (ext != ".cpp" && ext != ".hpp" && ext != ".cu" && ext != ".cuh" && ext != ".h") continue;
    const fs::path rel = fs::relative(entry.path(), root);
    if (std::distance(rel.begin(), rel.end()) < 2) continue;  // files directly in src/
    std::ifstream in(entry.path());
    std::string text;
    int number = 0;
    while (std::getline(in, text)) {
      ++number;
      std::smatch m;
      if (!std::regex_search(text, m, include_line)) continue;
      const std::string target = m[1];
      const auto slash = target.find('/');
      out.push_back({rel.string(), number, rel.begin()->string(), target,
                     slash == std::string::npos ? std::string() : target.substr(0, slash)});
    }
  }
  return out;
}

// The includes of `room` that reach a room outside `allowed` ("" = a bare "file.hpp" include,
// which is always allowed: it is the file's own folder).
std::vector<std::string> outside(const std::vector<Include>& includes, const std::string& room,
                                 const std::set<std::string>& allowed) {
  std::vector<std::string> bad;
  for (const Include& i : includes) {
    if (i.room != room || i.target_room.empty() || allowed.count(i.target_room)) continue;
    bad.push_back(i.file + ":" + std::to_string(i.line) + " includes \"" + i.target + "\"");
  }
  return bad;
}

// The includes from any room but `except` that reach `room`.
std::vector<std::string> into(const std::vector<Include>& includes, const std::string& room,
                              const std::set<std::string>& except) {
  std::vector<std::string> bad;
  for (const Include& i : includes) {
    if (i.target_room != room || i.room == room || except.count(i.room)) continue;
    bad.push_back(i.file + ":" + std::to_string(i.line) + " includes \"" + i.target + "\"");
  }
  return bad;
}

std::string lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += "  " + x + "\n";
  return s;
}

const std::vector<Include>& src_includes() {
  static const std::vector<Include> includes = scan(fs::path(SLIDESTREAM_SOURCE_DIR) / "src");
  return includes;
}

// The public API (slidestream/...) is open to every room.
const std::map<std::string, std::set<std::string>> kAllowed = {
    {"core", {"core", "slidestream"}},
    {"cuda", {"core", "cuda", "slidestream"}},
    {"shim", {"core", "cuda", "shim", "slidestream"}},
    {"io", {"core", "cuda", "shim", "io", "slidestream"}},
    {"codec", {"core", "cuda", "shim", "codec", "slidestream"}},
    {"ops", {"core", "cuda", "ops", "slidestream"}},
};

void expect_room_within(const std::string& room) {
  const auto bad = outside(src_includes(), room, kAllowed.at(room));
  EXPECT_TRUE(bad.empty()) << "src/" << room << " may include only its own room and the rooms "
                           << "below it; it includes:\n"
                           << lines(bad);
}

}  // namespace

TEST(SourceRooms, ScanSeesEveryRoomAndItsIncludes) {
  std::set<std::string> rooms_with_includes;
  for (const Include& i : src_includes()) rooms_with_includes.insert(i.room);
  for (const auto& [room, allowed] : kAllowed) {
    EXPECT_TRUE(rooms_with_includes.count(room)) << "no includes found in src/" << room;
  }
}

TEST(SourceRooms, CoreIncludesNothingAboveIt) {
  expect_room_within("core");
}
TEST(SourceRooms, CudaHelpersIncludeOnlyCore) {
  expect_room_within("cuda");
}
TEST(SourceRooms, ShimsIncludeOnlyCoreAndCuda) {
  expect_room_within("shim");
}
TEST(SourceRooms, IoIncludesNoCodecNorAnythingAbove) {
  expect_room_within("io");
}
TEST(SourceRooms, CodecIncludesNoIoNorAnythingAbove) {
  expect_room_within("codec");
}
TEST(SourceRooms, OpsIncludeNoReadersNorWriters) {
  expect_room_within("ops");
}

TEST(SourceRooms, OnlyTheSystemRoomIncludesSystem) {
  const auto bad = into(src_includes(), "system", {});
  EXPECT_TRUE(bad.empty()) << "src/system gathers from every room; none may include it:\n"
                           << lines(bad);
}

TEST(SourceRooms, NoRoomIncludesTheCommandLine) {
  const auto bad = into(src_includes(), "cli", {});
  EXPECT_TRUE(bad.empty()) << "the library must not include src/cli:\n" << lines(bad);
}

TEST(SourceRooms, TheCheckCatchesAnIncludeThatReachesUp) {
  const fs::path root = slidestream::test::scratch_dir("SourceRoomsCatches");
  fs::create_directories(root / "core");
  fs::create_directories(root / "io");
  std::ofstream(root / "core" / "a.hpp")
      << "#include \"core/b.hpp\"\n#include \"cuda/check.hpp\"\n";
  std::ofstream(root / "io" / "c.cpp") << "#include \"slidestream/error.hpp\"\n"
                                       << "  #  include \"codec/cuda/placement.hpp\"\n";
  const auto includes = scan(root);
  EXPECT_EQ(outside(includes, "core", kAllowed.at("core")),
            std::vector<std::string>{"core/a.hpp:2 includes \"cuda/check.hpp\""});
  EXPECT_EQ(outside(includes, "io", kAllowed.at("io")),
            std::vector<std::string>{"io/c.cpp:2 includes \"codec/cuda/placement.hpp\""});
}
