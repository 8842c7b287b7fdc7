// slidestream convert SLIDE OUT.zarr: a slide's pyramid to an OME-Zarr image (NGFF 0.4 on Zarr v2,
// 0.5 on Zarr v3), block by block: the next block is read while the previous one is written.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "slidestream/zarr.hpp"

namespace slidestream::cli {
namespace {

struct ConvertOptions {
  std::string slide;
  std::string out;
  std::string levels = "all";
  int64_t chunk = 512;
  int zarr_format = 3;
  int64_t shard = 0;
  std::string codec = "none";
  std::string device = "cpu";
  std::string io = "auto";
  bool overwrite = false;
  bool overwrite_any = false;
  int threads = 0;
  int io_depth = 0;
  uint64_t max_chunk_files = kDefaultMaxChunkFiles;
  std::string layout = "cyx";
};

// Host memory per block being read or written (two blocks are in flight).
constexpr size_t kBlockBudget = size_t{256} << 20;

std::vector<int> parse_levels(const std::string& text, int count) {
  std::vector<int> out;
  if (text == "all") {
    for (int i = 0; i < count; ++i) out.push_back(i);
    return out;
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    int v = -1;
    try {
      size_t used = 0;
      v = std::stoi(item, &used);
      if (used != item.size()) v = -1;
    } catch (const std::exception&) {
      v = -1;
    }
    if (v < 0 || v >= count) {
      throw Error(ErrorKind::invalid_argument, "--levels: '" + item +
                                                   "' is not a level of this slide (0.." +
                                                   std::to_string(count - 1) + ")");
    }
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  if (out.empty()) throw Error(ErrorKind::invalid_argument, "--levels: no level given");
  std::sort(out.begin(), out.end());
  return out;
}

class Progress {
 public:
  explicit Progress(uint64_t total) : total_(total), enabled_(::isatty(::fileno(stderr)) == 1) {}
  void add(uint64_t bytes, const std::string& label, double seconds) {
    done_ += bytes;
    if (!enabled_) return;
    const int width = 30;
    double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
    int filled = static_cast<int>(frac * width);
    double gbps = seconds > 0 ? static_cast<double>(done_) / seconds / 1e9 : 0;
    std::fprintf(stderr, "\r%-10s [%s%s] %5.1f%%  %.2f GB/s ", label.c_str(),
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(), frac * 100, gbps);
    std::fflush(stderr);
  }
  void end() {
    if (enabled_) std::fprintf(stderr, "\n");
  }

 private:
  uint64_t total_, done_ = 0;
  bool enabled_;
};

// Everything decided before the output is touched: the arguments checked against the slide, the
// device usable, the first tile of every level decoded.
struct ConvertPlan {
  std::vector<int> levels;
  Device device = Device::cpu;
  int cuda_device = 0;
  zarr::Codec codec = zarr::Codec::none;
  IoBackend io = IoBackend::automatic;
  zarr::Format format = zarr::Format::v3;
  zarr::ChannelLayout layout = zarr::ChannelLayout::cyx;
  uint64_t pixel_bytes = 0;
};

ConvertPlan plan_convert(const ConvertOptions& o, const Slide& slide) {
  ConvertPlan p;
  if (o.shard && o.zarr_format == 2) {
    throw Error(ErrorKind::invalid_argument, "--shard needs --zarr-format 3");
  }
  if (o.shard && o.shard % o.chunk) {
    throw Error(ErrorKind::invalid_argument, "--shard must be a multiple of --chunk");
  }
  const DeviceSpec device = usable_device(o.device);
  p.device = device.kind;
  p.cuda_device = device.index;
  p.codec = zarr::parse_codec(o.codec);
  p.io = parse_io_backend(o.io);
  p.format = o.zarr_format == 2 ? zarr::Format::v2 : zarr::Format::v3;
  p.layout = zarr::parse_channel_layout(o.layout);
  if (p.io == IoBackend::cufile && p.device != Device::cuda) {
    throw Error(
        ErrorKind::invalid_argument,
        "--io cufile moves pixels between GPU memory and the files: it needs --device cuda[:N]");
  }
  p.levels = parse_levels(o.levels, static_cast<int>(slide.levels().size()));
  uint64_t unit_count = 0;
  for (int index : p.levels) {
    const Level& l = slide.level(index);
    unit_count += unit_files(l.height, l.width, o.shard ? o.shard : o.chunk);
    p.pixel_bytes += static_cast<uint64_t>(l.width * l.height) * l.channels * size_of(l.dtype);
  }
  check_chunk_file_count(unit_count, o.max_chunk_files, "--chunk");
  // The device works and the input decodes (the first tile of every level) before the output is
  // created; the old output is replaced only once the new one is complete, in any case.
  if (p.device == Device::cuda) {
    (void)Image::allocate(1, 1, 1, DataType::uint8, Device::cuda, p.cuda_device);
  }
  for (int index : p.levels) (void)slide.read_tile(index, 0, 0);
  return p;
}

// Where the levels go: an OME-Zarr group (cyx), a plain group of (y, x, c) arrays (yxc, several
// levels), or, for one yxc level, the plain array itself: the seed's own file.
class ConvertOutput {
 public:
  ConvertOutput(const ConvertOptions& o, const ConvertPlan& p, const Slide& slide)
      : out_(o.out), plain_array_(p.layout == zarr::ChannelLayout::yxc && p.levels.size() == 1) {
    options_ = {.threads = o.threads,
                .io = p.io,
                .overwrite = o.overwrite || o.overwrite_any,
                .overwrite_any = o.overwrite_any,
                .io_depth = o.io_depth};
    if (plain_array_) return;
    zarr::MultiscaleOptions mo;
    mo.format = p.format;
    mo.name = std::filesystem::path(o.slide).stem().string();
    mo.mpp_x = slide.mpp_x();
    mo.mpp_y = slide.mpp_y();
    mo.overwrite = options_.overwrite;
    mo.overwrite_any = options_.overwrite_any;
    mo.layout = p.layout;
    group_.emplace(zarr::OmeZarrWriter::create(out_, mo));
  }
  // Levels are renumbered 0, 1, ... in the output; the downsample keeps the true scale.
  zarr::ArrayWriter add_level(int out_index, double downsample, const zarr::ArraySpec& spec) {
    if (plain_array_) return zarr::ArrayWriter::create(out_, spec, options_);
    return group_->add_level(out_index, downsample, spec, options_);
  }
  void finish() {
    if (group_) group_->finish();
  }

 private:
  std::string out_;
  bool plain_array_;
  zarr::WriteOptions options_;
  std::optional<zarr::OmeZarrWriter> group_;
};

// One level, block by block: one row of units (chunks or shards), split across when a row is too
// wide; the next block is read while this one is written.
zarr::WriteReport convert_level(const ConvertOptions& o, const Slide& slide, int level,
                                zarr::ArrayWriter& writer, const ConvertPlan& plan,
                                Progress& progress, const std::function<double()>& elapsed) {
  const Level& l = slide.level(level);
  const int64_t unit = o.shard ? o.shard : o.chunk;
  const size_t px = static_cast<size_t>(l.channels) * size_of(l.dtype);
  const int64_t unit_cols = (l.width + unit - 1) / unit;
  const size_t row_of_unit_bytes = static_cast<size_t>(unit * unit) * px;
  const int64_t cols_per_block = std::clamp<int64_t>(
      static_cast<int64_t>(kBlockBudget / std::max<size_t>(row_of_unit_bytes, 1)), 1, unit_cols);
  const int64_t block_w = std::min(l.width, cols_per_block * unit);
  const int64_t block_h = std::min(l.height, unit);
  struct Block {
    int64_t x, y, w, h;
  };
  std::vector<Block> blocks;
  for (int64_t y = 0; y < l.height; y += unit) {
    for (int64_t x = 0; x < l.width; x += block_w) {
      blocks.push_back({x, y, std::min(block_w, l.width - x), std::min(unit, l.height - y)});
    }
  }
  Image buffers[2] = {
      Image::allocate(block_w, block_h, l.channels, l.dtype, plan.device, plan.cuda_device),
      Image::allocate(block_w, block_h, l.channels, l.dtype, plan.device, plan.cuda_device)};
  auto view_for = [&](int slot, const Block& b) {
    return buffers[slot].view().crop(0, 0, b.w, b.h);
  };
  const ReadOptions read_options{
      .device = plan.device, .threads = o.threads, .io = plan.io, .cuda_device = plan.cuda_device};
  auto read_block = [&](int slot, const Block& b) {
    slide.read_region(level, b.x, b.y, b.w, b.h, view_for(slot, b), read_options);
  };
  const std::string label = "level " + std::to_string(level);
  if (!blocks.empty()) read_block(0, blocks[0]);
  for (size_t i = 0; i < blocks.size(); ++i) {
    const int slot = static_cast<int>(i % 2);
    std::future<void> next;
    if (i + 1 < blocks.size()) {
      next = std::async(std::launch::async, read_block, 1 - slot, blocks[i + 1]);
    }
    try {
      writer.write_region(blocks[i].y, blocks[i].x, view_for(slot, blocks[i]));
    } catch (...) {
      if (next.valid()) next.wait();  // never leave a read running into a freed buffer
      throw;
    }
    if (next.valid()) next.get();
    progress.add(view_for(slot, blocks[i]).tight_bytes(), label, elapsed());
  }
  return writer.finish();
}

int run_convert(const ConvertOptions& o) {
  Slide slide = Slide::open(o.slide);
  const ConvertPlan plan = plan_convert(o, slide);
  ConvertOutput output(o, plan, slide);
  Progress progress(plan.pixel_bytes);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  uint64_t files = 0, bytes_written = 0;
  std::string io_path;
  for (size_t out_index = 0; out_index < plan.levels.size(); ++out_index) {
    const Level& l = slide.level(plan.levels[out_index]);
    zarr::ArraySpec spec{.height = l.height,
                         .width = l.width,
                         .channels = l.channels,
                         .layout = plan.layout,
                         .dtype = l.dtype,
                         .chunk_height = o.chunk,
                         .chunk_width = o.chunk,
                         .shard_height = o.shard,
                         .shard_width = o.shard,
                         .format = plan.format,
                         .codec = plan.codec};
    // A failure anywhere leaves the old output as it was: it is replaced by finish() only.
    zarr::ArrayWriter writer = output.add_level(static_cast<int>(out_index), l.downsample, spec);
    zarr::WriteReport report =
        convert_level(o, slide, plan.levels[out_index], writer, plan, progress, elapsed);
    files += report.chunks_written;
    bytes_written += report.bytes_written;
    io_path = report.io_path;
  }
  output.finish();
  progress.end();
  const double seconds = elapsed();
  std::printf(
      "converted %s: %zu level(s), %.3f GB of pixels -> %s (Zarr v%d%s, %s, %s), %llu files, "
      "%.3f GB written in %.2f s (%.2f GB/s), device %s, io %s\n",
      o.slide.c_str(), plan.levels.size(), static_cast<double>(plan.pixel_bytes) / 1e9,
      o.out.c_str(), o.zarr_format, o.shard ? (", shards " + std::to_string(o.shard)).c_str() : "",
      zarr::to_string(plan.codec).c_str(), o.layout.c_str(), static_cast<unsigned long long>(files),
      static_cast<double>(bytes_written) / 1e9, seconds,
      seconds > 0 ? static_cast<double>(plan.pixel_bytes) / seconds / 1e9 : 0.0, o.device.c_str(),
      io_path.c_str());
  return 0;
}

}  // namespace

Command add_convert_command(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  auto* sub = app.add_subcommand("convert", "Convert a slide's pyramid to OME-Zarr");
  sub->add_option("slide", o->slide, "Slide file")->required();
  sub->add_option("out", o->out, "Output OME-Zarr directory (e.g. slide.ome.zarr)")->required();
  sub->add_option("--levels", o->levels, "Levels to write: all, or a list such as 0,2");
  add_edge_option(sub, "--chunk", o->chunk, "Chunk edge in pixels");
  sub->add_option("--zarr-format", o->zarr_format, "2 (NGFF 0.4) or 3 (NGFF 0.5)")
      ->check(CLI::IsMember({2, 3}));
  sub->add_option("--shard", o->shard, "Shard edge in pixels (Zarr v3; 0: no sharding)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_option("--codec", o->codec, "none, zstd or blosc-lz4")
      ->check(CLI::IsMember({"none", "zstd", "blosc-lz4"}));
  add_device_option(sub, o->device, "Where pixels pass between read and write");
  sub->add_option("--io", o->io, "I/O backend: auto, posix or cufile")
      ->check(CLI::IsMember({"auto", "posix", "cufile"}));
  sub->add_flag("--overwrite", o->overwrite,
                "Replace an existing Zarr output (kept as it was until the new one is complete)");
  sub->add_flag("--overwrite-any", o->overwrite_any,
                "Replace whatever is at the output path, even if it is not a Zarr");
  add_threads_option(sub, o->threads, "Threads");
  add_depth_option(sub, "--io-depth", o->io_depth,
                   "Chunk (shard) files written at once (0: the library's default, " +
                       std::to_string(zarr::kDefaultIoDepth) + ")");
  add_max_chunk_files_option(sub, o->max_chunk_files);
  sub->add_option("--layout", o->layout,
                  "cyx: OME-Zarr, channels first (default). yxc: channels last and interleaved, "
                  "shape (H, W, C), chunks (n, n, C), no transpose; one level is a plain array at "
                  "OUT, several a plain Zarr group of arrays 0, 1, ... (no OME metadata)")
      ->check(CLI::IsMember({"yxc", "cyx"}));
  return {sub, [o] { return run_convert(*o); }};
}

}  // namespace slidestream::cli
