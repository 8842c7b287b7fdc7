// slidestream convert SLIDE OUT.zarr: a slide's pyramid to an OME-Zarr image (NGFF 0.4 on Zarr v2,
// 0.5 on Zarr v3), block by block: the next block is read while the previous one is written.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <sstream>
#include <string>
#include <vector>

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
  int threads = 0;
  int io_depth = 0;
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

int run_convert(const ConvertOptions& o) {
  Slide slide = Slide::open(o.slide);
  if (o.zarr_format != 2 && o.zarr_format != 3) {
    throw Error(ErrorKind::invalid_argument, "--zarr-format must be 2 or 3");
  }
  if (o.chunk < 1) throw Error(ErrorKind::invalid_argument, "--chunk must be positive");
  if (o.shard && o.zarr_format == 2) {
    throw Error(ErrorKind::invalid_argument, "--shard needs --zarr-format 3");
  }
  if (o.shard && o.shard % o.chunk) {
    throw Error(ErrorKind::invalid_argument, "--shard must be a multiple of --chunk");
  }
  Device device = Device::cpu;
  if (o.device == "cuda" || o.device == "gpu") {
    device = Device::cuda;
  } else if (o.device != "cpu") {
    throw Error(ErrorKind::invalid_argument, "--device must be cpu or cuda");
  }
  const zarr::Codec codec = zarr::parse_codec(o.codec);
  const IoBackend io = parse_io_backend(o.io);
  if (io == IoBackend::cufile && device != Device::cuda) {
    throw Error(
        ErrorKind::invalid_argument,
        "--io cufile moves pixels between GPU memory and the files: it needs --device cuda");
  }
  if (o.io_depth < 0) throw Error(ErrorKind::invalid_argument, "--io-depth must be >= 0");
  const auto levels = parse_levels(o.levels, static_cast<int>(slide.levels().size()));

  // Fail before creating the output when the device cannot be used at all.
  if (device == Device::cuda) (void)Image::allocate(1, 1, 1, DataType::uint8, Device::cuda);

  zarr::MultiscaleOptions mo;
  mo.format = o.zarr_format == 2 ? zarr::Format::v2 : zarr::Format::v3;
  mo.name = std::filesystem::path(o.slide).stem().string();
  mo.mpp_x = slide.mpp_x();
  mo.mpp_y = slide.mpp_y();
  mo.overwrite = o.overwrite;
  auto group = zarr::OmeZarrWriter::create(o.out, mo);

  uint64_t total = 0;
  for (int index : levels) {
    const Level& l = slide.level(index);
    total += static_cast<uint64_t>(l.width * l.height) * l.channels * size_of(l.dtype);
  }
  Progress progress(total);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  uint64_t files = 0, bytes_written = 0;
  std::string io_path;
  ReadOptions read_options{.device = device, .threads = o.threads, .io = io};

  for (size_t out_index = 0; out_index < levels.size(); ++out_index) {
    const Level& l = slide.level(levels[out_index]);
    zarr::ArraySpec spec{.height = l.height,
                         .width = l.width,
                         .channels = l.channels,
                         .dtype = l.dtype,
                         .chunk_height = o.chunk,
                         .chunk_width = o.chunk,
                         .shard_height = o.shard,
                         .shard_width = o.shard,
                         .format = mo.format,
                         .codec = codec};
    // Levels are renumbered 0, 1, ... in the output; the downsample keeps the true scale.
    auto writer = [&] {
      try {
        return group.add_level(static_cast<int>(out_index), l.downsample, spec,
                               {.threads = o.threads, .io = io, .io_depth = o.io_depth});
      } catch (const Error&) {
        // A refused level (cuFile asked for and unusable) leaves no empty output behind; remove()
        // takes only an empty directory, so nothing written is ever lost here.
        std::error_code ec;
        if (out_index == 0) std::filesystem::remove(o.out, ec);
        throw;
      }
    }();
    // Blocks: one row of units (chunks or shards), split across when a row is too wide.
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
    Image buffers[2] = {Image::allocate(block_w, block_h, l.channels, l.dtype, device),
                        Image::allocate(block_w, block_h, l.channels, l.dtype, device)};
    auto view_for = [&](int slot, const Block& b) {
      return buffers[slot].view().crop(0, 0, b.w, b.h);
    };
    auto read_block = [&](int slot, const Block& b) {
      slide.read_region(levels[out_index], b.x, b.y, b.w, b.h, view_for(slot, b), read_options);
    };
    const std::string label = "level " + std::to_string(levels[out_index]);
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
    zarr::WriteReport report = writer.finish();
    files += report.chunks_written;
    bytes_written += report.bytes_written;
    io_path = report.io_path;
  }
  group.finish();
  progress.end();
  const double seconds = elapsed();
  std::printf(
      "converted %s: %zu level(s), %.3f GB of pixels -> %s (Zarr v%d%s, %s), %llu files, "
      "%.3f GB written in %.2f s (%.2f GB/s), device %s, io %s\n",
      o.slide.c_str(), levels.size(), static_cast<double>(total) / 1e9, o.out.c_str(),
      o.zarr_format, o.shard ? (", shards " + std::to_string(o.shard)).c_str() : "",
      zarr::to_string(codec).c_str(), static_cast<unsigned long long>(files),
      static_cast<double>(bytes_written) / 1e9, seconds,
      seconds > 0 ? static_cast<double>(total) / seconds / 1e9 : 0.0, o.device.c_str(),
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
  sub->add_option("--chunk", o->chunk, "Chunk edge in pixels");
  sub->add_option("--zarr-format", o->zarr_format, "2 (NGFF 0.4) or 3 (NGFF 0.5)")
      ->check(CLI::IsMember({2, 3}));
  sub->add_option("--shard", o->shard, "Shard edge in pixels (Zarr v3; 0: no sharding)");
  sub->add_option("--codec", o->codec, "none, zstd or blosc-lz4")
      ->check(CLI::IsMember({"none", "zstd", "blosc-lz4"}));
  sub->add_option("--device", o->device, "Where pixels pass between read and write: cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda", "gpu"}));
  sub->add_option("--io", o->io, "I/O backend: auto, posix or cufile")
      ->check(CLI::IsMember({"auto", "posix", "cufile"}));
  sub->add_flag("--overwrite", o->overwrite, "Replace an existing output");
  sub->add_option("--threads", o->threads, "Threads (0: all hardware threads)");
  sub->add_option("--io-depth", o->io_depth,
                  "Chunk (shard) files written at once (0: the library's default, " +
                      std::to_string(zarr::kDefaultIoDepth) + ")");
  return {sub, [o] { return run_convert(*o); }};
}

}  // namespace slidestream::cli
