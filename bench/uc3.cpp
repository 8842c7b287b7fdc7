// UC3 in one process, so that every variant sees the same warm page cache, staging pools and GPU:
//  - read + Sobel into GPU (or host) memory by pipeline::process_to_image, per mode, timed over
//    repeats: global; tiled (the band executor, streaming uncompressed levels by file ranges);
//    tiled-rows (the band executor reading a tile-row at a time through the GPU read path,
//    Options::band_stream = false); tiled-slots (the per-tile executor, Options::bands = false);
//  - with --write DIR: the Zarr write alone (our writer, the float32 Sobel result from a GPU
//    array, the chunking and format `process` uses), and pipeline::process end to end in tiled
//    and global mode, taken in turns so that the disk's drift hits each alike.
// Prints one JSON object; bench/uc3.py runs it next to the peers.
//
// usage: bench_uc3 SLIDE [--device cuda|cpu] [--tile 512] [--repeats 5] [--threads 0]
//                        [--modes global,tiled,tiled-rows,tiled-slots] [--op sobel ...]
//                        [--write DIR] [--write-repeats 2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"
#include "slidestream/zarr.hpp"

namespace {

using namespace slidestream;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Variant {
  std::string name;
  pipeline::Mode mode;
  bool bands = true;        // pipeline::Options::bands
  bool band_stream = true;  // pipeline::Options::band_stream
};

std::vector<Variant> variants_named(const std::string& list) {
  std::vector<Variant> out;
  std::stringstream in(list);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name == "global") out.push_back({name, pipeline::Mode::global});
    if (name == "tiled") out.push_back({name, pipeline::Mode::tiled});
    if (name == "tiled-rows") out.push_back({name, pipeline::Mode::tiled, true, false});
    if (name == "tiled-slots") out.push_back({name, pipeline::Mode::tiled, false, true});
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s SLIDE [--device cuda|cpu] [--tile N] [--repeats N] [--threads N] "
                 "[--modes LIST] [--op OP] [--write DIR] [--write-repeats N]\n",
                 argv[0]);
    return 2;
  }
  std::string path = argv[1];
  Device device = Device::cuda;
  int64_t tile = 512;
  int repeats = 5, write_repeats = 2;
  int threads = 0;
  std::string modes, write_dir;
  std::vector<ops::Op> chain;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--device")
      device = value == "cpu" ? Device::cpu : Device::cuda;
    else if (key == "--tile")
      tile = std::stoll(value);
    else if (key == "--repeats")
      repeats = std::max(1, std::stoi(value));
    else if (key == "--write-repeats")
      write_repeats = std::max(1, std::stoi(value));
    else if (key == "--threads")
      threads = std::stoi(value);
    else if (key == "--modes")
      modes = value;
    else if (key == "--op")
      chain.push_back(ops::parse_op(value));
    else if (key == "--write")
      write_dir = value;
  }
  if (chain.empty()) chain.push_back(ops::parse_op("sobel"));
  if (modes.empty()) {
    modes = device == Device::cuda ? "global,tiled,tiled-rows,tiled-slots" : "global,tiled";
  }
  try {
    Slide slide = Slide::open(path);
    const Level& level = slide.level(0);
    const double px = static_cast<double>(level.width) * static_cast<double>(level.height);
    nlohmann::json results = nlohmann::json::array();
    auto options_for = [&](pipeline::Mode mode) {
      pipeline::Options o;
      o.mode = mode;
      o.device = device;
      o.tile = tile;
      o.threads = threads;
      return o;
    };
    for (const Variant& variant : variants_named(modes)) {
      std::vector<double> wall;
      pipeline::Summary best;
      for (int r = 0; r < repeats; ++r) {
        pipeline::Summary s;
        auto start = Clock::now();
        {
          pipeline::Options o = options_for(variant.mode);
          o.bands = variant.bands;
          o.band_stream = variant.band_stream;
          Image out = pipeline::process_to_image(slide, chain, o, &s);
        }  // the result is freed inside the timing: what a caller that keeps it would not pay
        wall.push_back(since(start));
        if (r == 0 || s.seconds < best.seconds) best = s;
      }
      results.push_back({{"mode", variant.name},
                         {"device", device == Device::cuda ? "cuda" : "cpu"},
                         {"tile", tile},
                         {"seconds_min", best.seconds},
                         {"seconds_median", median(wall)},
                         {"wall_seconds", wall},
                         {"repeats", repeats},
                         {"megapixels_per_second", px / best.seconds / 1e6},
                         {"input_gbps", best.bytes_read / best.seconds / 1e9},
                         {"peak_gpu_bytes", best.peak_gpu_bytes},
                         {"gpu_memory_delta_bytes", best.gpu_memory_delta_bytes},
                         {"slots", best.slots},
                         {"executor", best.executor},
                         {"streamed", best.streamed},
                         {"io_path", best.io_path}});
      std::fprintf(stderr, "%s\n", results.back().dump().c_str());
    }

    nlohmann::json writes = nlohmann::json::array();
    if (!write_dir.empty()) {
      namespace fs = std::filesystem;
      fs::create_directories(write_dir);
      // The Sobel result on the GPU, once: what "the write alone" writes.
      Image result = pipeline::process_to_image(slide, chain, options_for(pipeline::Mode::global));
      zarr::WriteOptions write_options;
      write_options.threads = threads;
      write_options.overwrite = true;
      std::vector<double> alone, tiled, global;
      pipeline::Summary tiled_best, global_best;
      uint64_t written = 0;
      std::string write_io;
      // The write alone, as `process` sets its writer up.
      auto write_alone = [&] {
        const fs::path out = fs::path(write_dir) / "alone.zarr";
        auto start = Clock::now();
        zarr::MultiscaleOptions multiscale;
        multiscale.name = slide.path().stem().string();
        multiscale.overwrite = true;
        zarr::OmeZarrWriter root = zarr::OmeZarrWriter::create(out, multiscale);
        zarr::ArraySpec spec;
        spec.height = result.height();
        spec.width = result.width();
        spec.channels = result.channels();
        spec.dtype = result.dtype();
        spec.chunk_height = spec.chunk_width = tile;
        zarr::ArrayWriter writer = root.add_level(0, 1.0, spec, write_options);
        writer.write(result.view());
        zarr::WriteReport report = writer.finish();
        root.finish();
        alone.push_back(since(start));
        written = report.bytes_written;
        write_io = report.io_path;
        fs::remove_all(out);
      };
      auto process_in = [&](pipeline::Mode mode, int r) {
        const bool is_tiled = mode == pipeline::Mode::tiled;
        const fs::path out = fs::path(write_dir) / (is_tiled ? "tiled.zarr" : "global.zarr");
        pipeline::Options o = options_for(mode);
        o.overwrite = true;
        auto start = Clock::now();
        pipeline::Summary s = pipeline::process(slide, chain, out, o);
        (is_tiled ? tiled : global).push_back(since(start));
        pipeline::Summary& best = is_tiled ? tiled_best : global_best;
        if (r == 0 || s.seconds < best.seconds) best = s;
        fs::remove_all(out);
      };
      for (int r = 0; r < write_repeats; ++r) {
        // Each repeat starts with a different one, so that neither the first writer's staging
        // allocations nor the disk's drift favour one of them.
        for (int k = 0; k < 3; ++k) {
          switch ((r + k) % 3) {
            case 0:
              write_alone();
              break;
            case 1:
              process_in(pipeline::Mode::tiled, r);
              break;
            default:
              process_in(pipeline::Mode::global, r);
              break;
          }
        }
      }
      auto entry = [&](const char* what, const std::vector<double>& wall,
                       const pipeline::Summary* s) {
        nlohmann::json j = {{"what", what},
                            {"seconds_min", *std::min_element(wall.begin(), wall.end())},
                            {"seconds_median", median(wall)},
                            {"wall_seconds", wall},
                            {"bytes", written},
                            {"write_io_path", write_io}};
        if (s) {
          j["peak_gpu_bytes"] = s->peak_gpu_bytes;
          j["gpu_memory_delta_bytes"] = s->gpu_memory_delta_bytes;
          j["executor"] = s->executor;
          j["streamed"] = s->streamed;
          j["write_io_path"] = s->write_io_path;
        }
        return j;
      };
      writes.push_back(entry("write alone", alone, nullptr));
      writes.push_back(entry("process tiled", tiled, &tiled_best));
      writes.push_back(entry("process global", global, &global_best));
      for (const auto& w : writes) std::fprintf(stderr, "%s\n", w.dump().c_str());
    }
    std::printf(
        "%s\n",
        nlohmann::json{{"slide", path}, {"results", results}, {"writes", writes}}.dump().c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_uc3: %s\n", e.what());
    return 1;
  }
  return 0;
}
