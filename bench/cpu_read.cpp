// Issue 2's CPU read benchmark, our side: a whole level read into a preallocated host image with
// each given thread count, warm page cache, median of --repeats runs. Prints one JSON object;
// bench/cpu_read.py runs it next to OpenSlide and tifffile on the same files.
//
// usage: bench_cpu_read SLIDE [--level 0] [--threads 1,16] [--repeats 5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/crc32c.hpp"
#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"

int main(int argc, char** argv) {
  using namespace slidestream;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SLIDE [--level N] [--threads 1,16] [--repeats N]\n", argv[0]);
    return 2;
  }
  std::string path = argv[1];
  int level = 0;
  int repeats = 5;
  std::vector<int> thread_counts = {1, 0};
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--level") {
      level = std::stoi(value);
    } else if (key == "--repeats") {
      repeats = std::max(1, std::stoi(value));
    } else if (key == "--threads") {
      thread_counts.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');)
        thread_counts.push_back(std::stoi(item));
    }
  }
  try {
    Slide slide = Slide::open(path);
    const Level& l = slide.level(level);
    // Allocated (and touched) once: the benchmark measures reading, not page faults.
    Image image = Image::allocate(l.width, l.height, l.channels, l.dtype);
    std::fill_n(image.data(), image.size_bytes(), std::byte{0});
    nlohmann::json results = nlohmann::json::array();
    for (int threads : thread_counts) {
      ReadOptions options;
      options.threads = threads;
      slide.read_level(level, image.view(), options);  // warm-up: page cache, thread scratch
      std::vector<double> seconds;
      ReadReport report;
      for (int r = 0; r < repeats; ++r) {
        report = {};
        auto t0 = std::chrono::steady_clock::now();
        slide.read_level(level, image.view(), options, &report);
        auto t1 = std::chrono::steady_clock::now();
        seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
      }
      std::vector<double> sorted = seconds;
      std::sort(sorted.begin(), sorted.end());
      double median = sorted[sorted.size() / 2];
      uint32_t crc = crc32c({image.data(), image.size_bytes()});
      char hex[16];
      std::snprintf(hex, sizeof(hex), "%08x", crc);
      results.push_back({{"threads", threads},
                         {"seconds", median},
                         {"runs", seconds},
                         {"bytes", image.size_bytes()},
                         {"file_bytes", report.file_bytes},
                         {"decoder", report.decoder},
                         {"crc32c", hex}});
    }
    nlohmann::json out = {{"slide", path},
                          {"level", level},
                          {"width", l.width},
                          {"height", l.height},
                          {"compression", to_string(l.compression)},
                          {"results", results}};
    std::printf("%s\n", out.dump().c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_cpu_read: %s\n", e.what());
    return 1;
  }
  return 0;
}
