// UC3 without the write: a slide level read and run through Sobel into GPU (or host) memory by
// pipeline::process_to_image, in global and tiled mode, timed over repeats. Prints one JSON
// object; bench/uc3.py runs it next to the peers.
//
// usage: bench_uc3 SLIDE [--device cuda|cpu] [--tile 512] [--repeats 3] [--op sobel ...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"

int main(int argc, char** argv) {
  using namespace slidestream;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SLIDE [--device cuda|cpu] [--tile N] [--repeats N] [--op OP]\n",
                 argv[0]);
    return 2;
  }
  std::string path = argv[1];
  Device device = Device::cuda;
  int64_t tile = 512;
  int repeats = 3;
  int threads = 0;
  std::vector<ops::Op> chain;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--device")
      device = value == "cpu" ? Device::cpu : Device::cuda;
    else if (key == "--tile")
      tile = std::stoll(value);
    else if (key == "--repeats")
      repeats = std::max(1, std::stoi(value));
    else if (key == "--threads")
      threads = std::stoi(value);
    else if (key == "--op")
      chain.push_back(ops::parse_op(value));
  }
  if (chain.empty()) chain.push_back(ops::parse_op("sobel"));
  try {
    Slide slide = Slide::open(path);
    nlohmann::json results = nlohmann::json::array();
    // On a GPU, the tiled mode runs the band executor; "tiled-slots" is the same mode with the
    // band executor off (SLIDESTREAM_PIPELINE_BANDS=0), the staged per-tile executor it replaced.
    struct Variant {
      pipeline::Mode mode;
      const char* name;
      bool slots_only;
    };
    std::vector<Variant> variants = {{pipeline::Mode::global, "global", false},
                                     {pipeline::Mode::tiled, "tiled", false}};
    if (device == Device::cuda) variants.push_back({pipeline::Mode::tiled, "tiled-slots", true});
    for (const Variant& variant : variants) {
      const pipeline::Mode mode = variant.mode;
      if (variant.slots_only) ::setenv("SLIDESTREAM_PIPELINE_BANDS", "0", 1);
      std::vector<double> wall;
      pipeline::Summary best;
      for (int r = 0; r < repeats; ++r) {
        pipeline::Options o;
        o.mode = mode;
        o.device = device;
        o.tile = tile;
        o.threads = threads;
        pipeline::Summary s;
        auto start = std::chrono::steady_clock::now();
        {
          Image out = pipeline::process_to_image(slide, chain, o, &s);
        }  // the result is freed inside the timing: what a caller that keeps it would not pay
        wall.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        if (r == 0 || s.seconds < best.seconds) best = s;
      }
      if (variant.slots_only) ::unsetenv("SLIDESTREAM_PIPELINE_BANDS");
      std::sort(wall.begin(), wall.end());
      const Level& level = slide.level(0);
      double px = static_cast<double>(level.width) * static_cast<double>(level.height);
      results.push_back({{"mode", variant.name},
                         {"device", device == Device::cuda ? "cuda" : "cpu"},
                         {"tile", tile},
                         {"seconds_min", best.seconds},
                         {"seconds_median", wall[wall.size() / 2]},
                         {"repeats", repeats},
                         {"megapixels_per_second", px / best.seconds / 1e6},
                         {"input_gbps", best.bytes_read / best.seconds / 1e9},
                         {"peak_gpu_bytes", best.peak_gpu_bytes},
                         {"gpu_memory_delta_bytes", best.gpu_memory_delta_bytes},
                         {"slots", best.slots},
                         {"executor", best.executor},
                         {"io_path", best.io_path}});
    }
    std::printf("%s\n", nlohmann::json{{"slide", path}, {"results", results}}.dump().c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_uc3: %s\n", e.what());
    return 1;
  }
  return 0;
}
