// slidestream process SLIDE OUT.zarr --op sobel [--op ...]: a slide level through a chain of
// kernels into OME-Zarr. A progress bar on a terminal, nothing while running otherwise; one
// summary line at the end (or a JSON object with --json, for scripts and benchmarks).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/arguments.hpp"
#include "cli/command_process_batch.hpp"
#include "cli/commands.hpp"
#include "slidestream/error.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::cli {
namespace {

struct ProcessArgs {
  std::string slide;
  std::string output;
  std::vector<std::string> ops;
  int level = 0;
  std::string mode = "tiled";
  int64_t tile = 512;
  std::string device = "cpu";
  bool pyramid = false;
  int zarr_format = 3;
  std::string codec = "none";
  int64_t shard = 0;
  bool overwrite = false;
  bool overwrite_any = false;
  int threads = 0;
  int slots = 0;
  std::string io = "auto";
  bool json = false;
  uint64_t max_chunk_files = kDefaultMaxChunkFiles;
  bool bands = true;
  bool band_stream = true;
  bool read_into_device = false;
};

// Chunk (shard) files the run will write: level 0 and, with --pyramid, the halvings the pipeline
// adds while the smaller side is at least a tile (pipeline::pyramid_sizes).
uint64_t planned_unit_files(const ProcessArgs& args, const Level& level) {
  const int64_t unit = args.shard ? args.shard : args.tile;
  int64_t w = level.width, h = level.height;
  uint64_t files = unit_files(h, w, unit);
  while (args.pyramid && std::min(w, h) >= args.tile && w / 2 >= 1 && h / 2 >= 1) {
    w /= 2;
    h /= 2;
    files += unit_files(h, w, unit);
  }
  return files;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return text;
}

// Redraws one line on stderr at most ten times a second, and always for the last tile.
class ProgressBar {
 public:
  void operator()(const pipeline::Progress& p) {
    bool last = p.tiles_done == p.tiles_total;
    if (!last && p.seconds - drawn_at_ < 0.1) return;
    drawn_at_ = p.seconds;
    double fraction = p.tiles_total ? static_cast<double>(p.tiles_done) / p.tiles_total : 1;
    constexpr int kWidth = 30;
    int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, ' ');
    double seconds = p.seconds > 0 ? p.seconds : 1e-9;
    double tiles_per_s = p.tiles_done / seconds;
    double eta = tiles_per_s > 0 ? (p.tiles_total - p.tiles_done) / tiles_per_s : 0;
    std::fprintf(stderr, "\r[%s] %3.0f%% %lld/%lld tiles  %.1f tiles/s  %s/s out  ETA %.0f s   ",
                 bar.c_str(), fraction * 100, static_cast<long long>(p.tiles_done),
                 static_cast<long long>(p.tiles_total), tiles_per_s,
                 human_bytes(p.bytes_written / seconds).c_str(), eta);
    if (last) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  double drawn_at_ = -1;
};

int run_process(const ProcessArgs& args) {
  const DeviceSpec device = usable_device(args.device);
  Slide slide = Slide::open(args.slide);
  check_chunk_file_count(planned_unit_files(args, slide.level(args.level)), args.max_chunk_files,
                         "--tile");
  std::vector<ops::Op> chain;
  for (const auto& name : args.ops) chain.push_back(ops::parse_op(name));
  chain = pipeline::fit_stains(slide, std::move(chain));

  pipeline::Options options;
  options.mode = args.mode == "global" ? pipeline::Mode::global : pipeline::Mode::tiled;
  options.device = device.kind;
  options.cuda_device = device.index;
  options.level = args.level;
  options.tile = args.tile;
  options.slots = args.slots;
  options.threads = args.threads;
  options.io = parse_io_backend(args.io);
  options.bands = args.bands;
  options.band_stream = args.band_stream;
  options.read_into_device = args.read_into_device;
  options.format = args.zarr_format == 2 ? zarr::Format::v2 : zarr::Format::v3;
  options.codec = zarr::parse_codec(args.codec);
  options.shard = args.shard;
  options.pyramid = args.pyramid;
  options.overwrite = args.overwrite || args.overwrite_any;
  options.overwrite_any = args.overwrite_any;
  // The input decodes before anything is written (the output is swapped in only when complete).
  (void)slide.read_tile(args.level, 0, 0);
  if (isatty(STDERR_FILENO) && !args.json) options.on_progress = ProgressBar{};

  pipeline::Summary s = pipeline::process(slide, chain, args.output, options);

  const Level& level = slide.level(args.level);
  double seconds = s.seconds > 0 ? s.seconds : 1e-9;
  uint64_t pixels = static_cast<uint64_t>(level.width) * static_cast<uint64_t>(level.height);
  if (args.json) {
    nlohmann::json j = {{"slide", args.slide},
                        {"output", args.output},
                        {"ops", args.ops},
                        {"level", args.level},
                        {"width", level.width},
                        {"height", level.height},
                        {"mode", args.mode},
                        {"device", args.device},
                        {"tile", args.tile},
                        {"seconds", s.seconds},
                        {"tiles", s.tiles},
                        {"slots", s.slots},
                        {"levels", s.levels},
                        {"bytes_read", s.bytes_read},
                        {"bytes_written", s.bytes_written},
                        {"megapixels_per_second", pixels / seconds / 1e6},
                        {"peak_gpu_bytes", s.peak_gpu_bytes},
                        {"gpu_memory_delta_bytes", s.gpu_memory_delta_bytes},
                        {"io_path", s.io_path},
                        {"write_io_path", s.write_io_path},
                        {"executor", s.executor},
                        {"streamed", s.streamed}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::string chain_text;
  for (const auto& op : chain) chain_text += (chain_text.empty() ? "" : ",") + ops::to_string(op);
  std::printf(
      "%s level %d (%lld x %lld) %s -> %s: %lld tiles in %.2f s, %.1f Mpx/s, %s/s read from the "
      "file, %s/s written, "
      "peak GPU memory %s (mode %s, device %s, %d levels, read %s)\n",
      args.slide.c_str(), args.level, static_cast<long long>(level.width),
      static_cast<long long>(level.height), chain_text.c_str(), args.output.c_str(),
      static_cast<long long>(s.tiles), s.seconds, pixels / seconds / 1e6,
      human_bytes(s.bytes_read / seconds).c_str(), human_bytes(s.bytes_written / seconds).c_str(),
      human_bytes(static_cast<double>(s.peak_gpu_bytes)).c_str(), args.mode.c_str(),
      args.device.c_str(), s.levels, s.io_path.c_str());
  return 0;
}

}  // namespace

Command add_process_command(CLI::App& app) {
  auto args = std::make_shared<ProcessArgs>();
  auto* sub = app.add_subcommand(
      "process", "Run a chain of kernels over a slide level and write OME-Zarr (tiled, seamless)");
  auto* slide = sub->add_option("slide", args->slide, "Input slide (TIFF, SVS, OME-TIFF)");
  auto* output = sub->add_option("output", args->output, "Output OME-Zarr directory");
  auto batch = std::make_shared<BatchArgs>();
  add_batch_options(sub, *batch, slide, output);
  sub->add_option("--op", args->ops,
                  "Kernel, in order: sobel, sobel-u8, grey, od[:IO], hed, macenko (fitted on the "
                  "lowest-resolution level)")
      ->required()
      ->expected(1)
      ->take_all()
      ->delimiter(',');
  sub->add_option("--level", args->level, "Slide level to process")->check(CLI::NonNegativeNumber);
  sub->add_option("--mode", args->mode, "tiled (bounded memory) or global (whole level at once)")
      ->check(CLI::IsMember({"tiled", "global"}));
  add_edge_option(sub, "--tile", args->tile, "Tile edge in pixels; also the Zarr chunk edge");
  add_device_option(sub, args->device, "Where kernels run");
  sub->add_flag("--pyramid", args->pyramid, "Also write 2x-downsampled OME-Zarr levels");
  sub->add_option("--zarr-format", args->zarr_format, "Zarr format")->check(CLI::IsMember({2, 3}));
  sub->add_option("--codec", args->codec, "Chunk codec")
      ->check(CLI::IsMember({"none", "zstd", "blosc-lz4"}));
  sub->add_option("--shard", args->shard, "Zarr v3 shard edge in pixels (multiple of --tile)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_flag("--overwrite", args->overwrite,
                "Replace an existing Zarr output (kept as it was until the new one is complete)");
  sub->add_flag("--overwrite-any", args->overwrite_any,
                "Replace whatever is at the output path, even if it is not a Zarr");
  add_threads_option(sub, args->threads, "CPU threads for I/O and codecs");
  add_depth_option(sub, "--slots", args->slots, "Tiles in flight (0: automatic)");
  add_max_chunk_files_option(sub, args->max_chunk_files);
  sub->add_option("--io", args->io, "I/O backend")
      ->check(CLI::IsMember({"auto", "posix", "cufile"}));
  sub->add_flag("--json", args->json, "Print the summary as one JSON object");
  sub->add_flag("--bands,!--no-bands", args->bands,
                "GPU tiled mode: the band executor where it can (default); --no-bands: slots");
  sub->add_flag("--band-stream,!--no-band-stream", args->band_stream,
                "Band executor: stream uncompressed levels by file ranges (default); "
                "--no-band-stream: read tile-rows through the GPU read path");
  sub->add_flag("--read-into-device", args->read_into_device,
                "Slot executor: read through the GPU read path into device memory (default: CPU "
                "read and decode into pinned memory, then a copy)");
  return {sub, [args, batch] {
            if (batch->list.empty()) return run_process(*args);
            return run_process_batch(*batch, [&](const std::string& slide, const std::string& out) {
              ProcessArgs one = *args;
              one.slide = slide;
              one.output = out;
              // Only partial outputs get here (complete ones are skipped), at names the batch
              // derives in its own --out-dir: a partial one has no root metadata, so it is not
              // recognisably a Zarr, and is replaced all the same (still only once complete).
              one.overwrite = true;
              one.overwrite_any = true;
              run_process(one);
            });
          }};
}

}  // namespace slidestream::cli
