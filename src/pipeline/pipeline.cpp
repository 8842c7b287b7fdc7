// pipeline::process and process_to_image: plans the run (formats, halos, units, slots), then
// either streams tiles through the staged executor (tiled) or processes the whole level at once
// (global) and writes it tile by tile.
#include "slidestream/pipeline.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#if SLIDESTREAM_HAVE_CUDA
#include "shim/cufile.hpp"
#endif
#include "pipeline/band.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/pyramid.hpp"
#include "pipeline/slot.hpp"
#include "pipeline/tile_cache.hpp"
#include "pipeline/tiling.hpp"
#include "slidestream/device.hpp"
#include "slidestream/error.hpp"
#include "slidestream/settings.hpp"

namespace slidestream::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The memory budgets are Settings (slidestream/settings.hpp): the slots' device memory unless the
// caller fixes the slot count (within the 512 MiB of issue 16.4 with the read path's staging),
// host memory for decoded slide tiles kept for the halos of later output tiles, and the band
// executor's device memory.
constexpr uint64_t kMiB = 1ull << 20;

struct Plan {
  int level = 0;
  int64_t width = 0, height = 0;
  std::vector<ops::Op> chain;
  std::vector<int> radii;
  std::vector<ops::PixelFormat> formats;
  int64_t unit = 0;  // edge of a processed and written tile: the shard if sharded, else the chunk
  int threads = 1;
  int cuda_device = 0;            // options.cuda_device
  bool read_into_device = false;  // options.read_into_device
  ErrorContext where;
};

Plan make_plan(const Slide& slide, const std::vector<ops::Op>& chain, const Options& options) {
  Plan plan;
  plan.level = options.level;
  plan.where = ErrorContext{.file = slide.path().string(), .level = options.level};
  const Level& level = slide.level(options.level);
  plan.width = level.width;
  plan.height = level.height;
  plan.chain = chain;
  plan.formats.push_back(ops::PixelFormat{level.channels, level.dtype});
  for (const auto& op : chain) {
    plan.radii.push_back(ops::halo_radius(op));
    plan.formats.push_back(ops::output_format(op, plan.formats.back()));
  }
  if (options.tile <= 0) {
    throw Error(ErrorKind::invalid_argument, "tile edge must be positive", plan.where);
  }
  if (options.shard < 0 || (options.shard > 0 && options.shard % options.tile != 0)) {
    throw Error(ErrorKind::invalid_argument,
                "shard edge " + std::to_string(options.shard) + " is not a multiple of the tile " +
                    std::to_string(options.tile),
                plan.where);
  }
  if (options.shard > 0 && options.format != zarr::Format::v3) {
    throw Error(ErrorKind::invalid_argument, "sharding needs Zarr v3", plan.where);
  }
  plan.unit = options.shard > 0 ? options.shard : options.tile;
  if (options.pyramid && plan.unit % 2 != 0) {
    throw Error(ErrorKind::invalid_argument,
                "--pyramid needs an even tile edge (each tile downsamples to whole pixels), got " +
                    std::to_string(plan.unit),
                plan.where);
  }
  if (options.device == Device::cuda && !SLIDESTREAM_HAVE_CUDA) {
    throw Error(ErrorKind::unsupported, "this build has no CUDA support (device cuda)", plan.where);
  }
  if (options.device == Device::cuda) {
    try {
      require_device(DeviceSpec{Device::cuda, options.cuda_device});
    } catch (const Error& e) {
      throw e.with_context(plan.where);
    }
  }
  plan.cuda_device = options.cuda_device;
  plan.read_into_device = options.read_into_device;
  plan.threads = options.threads > 0
                     ? options.threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return plan;
}

int64_t layout_radius(const Plan& plan) {
  int64_t r = 0;
  for (int radius : plan.radii) r += radius;
  return r;
}

#if SLIDESTREAM_HAVE_CUDA
// Uncompressed levels are streamed by file ranges (pipeline/band.hpp) unless the caller turns it
// off (options.band_stream), or cuFile is asked for or may work (nvidia-fs present): the GPU
// read path then reads each tile-row, through cuFile where it can.
bool streaming_allowed(const Options& options) {
  if (!options.band_stream) return false;
  if (options.io == IoBackend::cufile) return false;
  return options.io == IoBackend::posix || !shim::cufile::nvidia_fs_present();
}
#endif

// Tracks device memory: what the pipeline allocated itself, and the device's own count.
class GpuMemoryMeter {
 public:
  GpuMemoryMeter(const Options& options, const ErrorContext& where)
      : enabled_(options.device == Device::cuda), device_(options.cuda_device) {
#if SLIDESTREAM_HAVE_CUDA
    try {
      if (enabled_) baseline_ = gpu_used_bytes(device_);
    } catch (const Error& e) {
      throw Error(e.kind(), "device cuda is not usable: " + e.cause(), e.context())
          .with_context(where);
    }
#else
    (void)where;
#endif
  }
  void allocated(uint64_t bytes) {
    uint64_t now = live_ += bytes;
    uint64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
  }
  void freed(uint64_t bytes) {
    live_ -= bytes;
  }
  void sample() {
#if SLIDESTREAM_HAVE_CUDA
    if (!enabled_) return;
    uint64_t used = gpu_used_bytes(device_);
    uint64_t delta = used > baseline_ ? used - baseline_ : 0;
    uint64_t peak = device_peak_.load();
    while (delta > peak && !device_peak_.compare_exchange_weak(peak, delta)) {
    }
#endif
  }
  uint64_t peak() const {
    return peak_;
  }
  uint64_t device_delta_peak() const {
    return device_peak_;
  }

 private:
  bool enabled_;
  int device_;
  uint64_t baseline_ = 0;
  std::atomic<uint64_t> live_{0}, peak_{0}, device_peak_{0};
};

void report_progress(const Options& options, int64_t done, int64_t total, uint64_t read,
                     uint64_t written, Clock::time_point start) {
  if (!options.on_progress) return;
  Progress p;
  p.tiles_done = done;
  p.tiles_total = total;
  p.bytes_read = read;
  p.bytes_written = written;
  p.seconds = seconds_since(start);
  options.on_progress(p);
}

// Where the level's units go in tiled mode: into one image, or into Zarr (with a pyramid).
struct TiledSink {
  const ImageView* image = nullptr;
  zarr::ArrayWriter* writer = nullptr;
  PyramidBuilder* pyramid = nullptr;
};

// The slots' layout: formats, and the largest window of each step of the chain (a unit grown by
// the radii still to come, clipped to the level), so that every slot is allocated once.
SlotLayout slot_layout(const Plan& plan, bool gpu, const TiledSink& sink) {
  SlotLayout layout;
  layout.chain = plan.chain;
  layout.formats = plan.formats;
  layout.image = ops::ImageExtent{plan.width, plan.height};
  layout.read_into_device = gpu && plan.read_into_device;
  layout.cuda_device = plan.cuda_device;
  layout.host_results = sink.image == nullptr;
  int64_t grown = 0;
  layout.max_window_pixels.assign(plan.chain.size() + 1, 0);
  for (size_t i = plan.chain.size() + 1; i-- > 0;) {
    if (i < plan.chain.size()) grown += plan.radii[i];
    int64_t w = std::min(plan.width, plan.unit + 2 * grown);
    int64_t h = std::min(plan.height, plan.unit + 2 * grown);
    layout.max_window_pixels[i] = w * h;
    layout.max_window_edge = std::max({layout.max_window_edge, w, h});
  }
  return layout;
}

// The slots: as many as the caller fixed, else two per thread (4 to 64), within a device budget
// on a GPU; never more than there are tiles.
std::vector<std::unique_ptr<Slot>> make_slots(const SlotLayout& layout, const Plan& plan,
                                              const Options& options, bool gpu, int64_t tiles,
                                              GpuMemoryMeter& meter) {
  int slots = options.slots > 0 ? options.slots : std::clamp(2 * plan.threads, 4, 64);
  slots = static_cast<int>(std::min<int64_t>(slots, tiles));
  auto make_slot = [&]() -> std::unique_ptr<Slot> {
#if SLIDESTREAM_HAVE_CUDA
    if (gpu) return make_gpu_slot(layout);
#endif
    return make_cpu_slot(layout);
  };
  std::vector<std::unique_ptr<Slot>> pool;
  pool.push_back(make_slot());
  if (gpu && options.slots <= 0 && pool[0]->device_bytes() > 0) {
    const uint64_t budget = static_cast<uint64_t>(settings().slot_device_budget_mib) * kMiB;
    int64_t fit = static_cast<int64_t>(budget / pool[0]->device_bytes());
    slots = static_cast<int>(std::clamp<int64_t>(fit, 2, slots));
    slots = static_cast<int>(std::min<int64_t>(slots, tiles));
  }
  while (static_cast<int>(pool.size()) < slots) pool.push_back(make_slot());
  for (const auto& slot : pool) meter.allocated(slot->device_bytes());
  meter.sample();
  return pool;
}

// Host reads go through a cache of decoded slide tiles, so that halos do not decode the
// neighbouring tiles again; the GPU read path reads its regions itself (nullptr then).
std::unique_ptr<TileCache> make_tile_cache(const Slide& slide, const Plan& plan,
                                           const SlotLayout& layout, int slots,
                                           const ReadOptions& read_options) {
  const Level& level = slide.level(plan.level);
  if (layout.read_into_device || level.tile_width <= 0 || level.tile_height <= 0) return nullptr;
  uint64_t tile_bytes = uint64_t{level.tile_width} * level.tile_height *
                        static_cast<uint64_t>(level.channels) * size_of(level.dtype);
  int64_t window = plan.unit + 2 * layout_radius(plan);
  uint64_t per_window =
      static_cast<uint64_t>((window / level.tile_width + 2) * (window / level.tile_height + 2));
  // Row-major order reuses a tile for three rows of output tiles: keep three rows of slide
  // tiles when that fits the budget; never less than what the slots in flight use at once.
  uint64_t want = tile_bytes * (3 * static_cast<uint64_t>(level.tiles_across) + per_window * slots);
  uint64_t floor_bytes = tile_bytes * per_window * static_cast<uint64_t>(slots);
  return std::make_unique<TileCache>(
      slide, plan.level,
      std::max(floor_bytes,
               std::min(want, static_cast<uint64_t>(settings().tile_cache_mib) * kMiB)),
      read_options);
}

// The tiled mode through the staged executor (pipeline/engine.hpp): each output unit takes a slot,
// is read (with its halo) into it, computed, and written to the sink.
class SlotRun {
 public:
  SlotRun(const Slide& slide, const Plan& plan, const Options& options, const TiledSink& sink,
          GpuMemoryMeter& meter)
      : slide_(slide),
        plan_(plan),
        options_(options),
        sink_(sink),
        meter_(meter),
        gpu_(options.device == Device::cuda),
        grid_(plan.width, plan.height, plan.unit),
        layout_(slot_layout(plan, gpu_, sink)) {
    pool_ = make_slots(layout_, plan, options, gpu_, grid_.count(), meter);
    windows_.resize(pool_.size());
    read_options_.device = layout_.read_into_device ? Device::cuda : Device::cpu;
    read_options_.cuda_device = plan.cuda_device;
    read_options_.threads = 1;  // parallelism comes from the read stage's threads, one tile each
    read_options_.io = options.io;
    cache_ = make_tile_cache(slide, plan, layout_, static_cast<int>(pool_.size()), read_options_);
  }

  Summary run() {
    auto start = Clock::now();
    StageThreads threads;
    threads.read = plan_.threads;
    threads.compute = gpu_ ? 2 : plan_.threads;
    threads.write = sink_.writer ? plan_.threads : 1;
    threads.slots = static_cast<int>(pool_.size());
    StageFunctions stages;
    stages.read = [this](int s, int64_t tile) { read(s, tile); };
    stages.compute = [this](int s, int64_t) { compute(s); };
    stages.write = [this](int s, int64_t tile) { write(s, tile); };
    const int64_t total = grid_.count();
    stages.on_done = [&](int64_t, int64_t done) {
      if (gpu_ && (done % 16 == 0 || done == total)) meter_.sample();
      report_progress(options_, done, total, bytes_read_, bytes_written_, start);
    };
    try {
      run_stages(tile_order(grid_.across(), grid_.down(), sink_.pyramid != nullptr), threads,
                 stages);
    } catch (const Error& e) {
      throw e.with_context(plan_.where);
    }
    return summary(start);
  }

 private:
  void read(int s, int64_t tile) {
    auto& w = windows_[static_cast<size_t>(s)];
    w = chain_windows(grid_.rect(tile), plan_.radii, plan_.width, plan_.height);
    ImageView in = pool_[static_cast<size_t>(s)]->input(w[0]);
    if (cache_) {
      uint64_t file_bytes = 0;
      cache_->read(w[0], in, &file_bytes);
      bytes_read_ += file_bytes;
      return;
    }
    ReadReport report;
    slide_.read_region(plan_.level, w[0].x, w[0].y, w[0].width, w[0].height, in, read_options_,
                       &report);
    bytes_read_ += report.file_bytes ? report.file_bytes : in.tight_bytes();
    if (!report.io_path.empty()) {
      std::lock_guard lock(report_mutex_);
      if (io_path_.empty()) io_path_ = report.io_path;
    }
  }

  void compute(int s) {
    const auto& w = windows_[static_cast<size_t>(s)];
    const Rect& r = w.back();
    if (sink_.image) {
      ImageView destination = sink_.image->crop(r.x, r.y, r.width, r.height);
      pool_[static_cast<size_t>(s)]->compute(w, &destination);
    } else {
      pool_[static_cast<size_t>(s)]->compute(w, nullptr);
    }
  }

  void write(int s, int64_t tile) {
    Slot& slot = *pool_[static_cast<size_t>(s)];
    slot.wait();
    const Rect& r = windows_[static_cast<size_t>(s)].back();
    if (sink_.writer) {
      ImageView out = slot.host_output();
      sink_.writer->write_region(r.y, r.x, out);
      if (sink_.pyramid) sink_.pyramid->add(0, tile % grid_.across(), tile / grid_.across(), out);
      bytes_written_ += out.tight_bytes();
    } else {
      bytes_written_ += r.width * r.height * sink_.image->pixel_bytes();
    }
  }

  Summary summary(Clock::time_point start) {
    Summary summary;
    summary.seconds = seconds_since(start);
    summary.tiles = grid_.count();
    summary.bytes_read = bytes_read_;
    summary.bytes_written = bytes_written_;
    summary.peak_gpu_bytes = meter_.peak();
    summary.gpu_memory_delta_bytes = meter_.device_delta_peak();
    summary.io_path = cache_ ? cache_->io_path() : io_path_;
    if (summary.io_path.empty()) summary.io_path = "posix";
    summary.slots = static_cast<int>(pool_.size());
    summary.executor = "slots";
    return summary;
  }

  const Slide& slide_;
  const Plan& plan_;
  const Options& options_;
  const TiledSink& sink_;
  GpuMemoryMeter& meter_;
  const bool gpu_;
  const TileGrid grid_;
  const SlotLayout layout_;
  std::vector<std::unique_ptr<Slot>> pool_;
  std::vector<std::vector<Rect>> windows_;  // per slot: chain_windows() of its tile
  ReadOptions read_options_;
  std::unique_ptr<TileCache> cache_;
  std::atomic<uint64_t> bytes_read_{0}, bytes_written_{0};
  std::mutex report_mutex_;
  std::string io_path_;  // the read path's, when reads bypass the cache
};

// The tiled mode on a GPU by bands (pipeline/band.hpp) where the band executor takes the job;
// nothing otherwise. Only for reads whose pixels equal the host read's: JPEG is decoded by
// libjpeg-turbo inside the GPU read path unless options.read_into_device.
std::optional<Summary> run_bands_if_taken(const Slide& slide, const Plan& plan,
                                          const Options& options, const TiledSink& sink,
                                          GpuMemoryMeter& meter) {
#if SLIDESTREAM_HAVE_CUDA
  if (options.device != Device::cuda || options.slots > 0 || !options.bands) return std::nullopt;
  auto start = Clock::now();
  TileGrid grid(plan.width, plan.height, plan.unit);
  BandJob job;
  job.slide = &slide;
  job.level = plan.level;
  job.chain = plan.chain;
  job.formats = plan.formats;
  job.width = plan.width;
  job.height = plan.height;
  job.band = plan.unit;
  job.radius = layout_radius(plan);
  job.read.device = Device::cuda;
  job.read.cuda_device = plan.cuda_device;
  job.read.threads = plan.threads;
  job.read.io = options.io;
  job.read.gpu_jpeg = true;  // exact: nvJPEG's engines + libjpeg-turbo's upsampling
  job.image = sink.image;
  // Bands go to the Zarr writer straight from the GPU (it copies each chunk down itself), unless
  // the host pyramid needs them on the host.
  job.host_bands = sink.pyramid != nullptr;
  job.device_budget = static_cast<uint64_t>(settings().band_device_budget_mib) * kMiB;
  job.tile_rows_per_read = static_cast<int>(settings().band_row_tiles);
  if (streaming_allowed(options)) {
    // Page-cache preads of this size run at full speed, and the ring stays small: it holds the
    // ranges every reader thread has in flight.
    const uint64_t task = static_cast<uint64_t>(settings().band_task_mib) * kMiB;
    job.stream = plan_raw_rows(slide, plan.level, task, nullptr);
    // Only the streaming readers run that far ahead; a row-at-a-time reader keeps 2 rows.
    if (!job.stream.ranges.empty()) {
      job.read_ahead_bytes = static_cast<uint64_t>(plan.threads) * task;
    }
  }
  std::string why;
  uint64_t device_bytes = band_device_bytes(slide.level(plan.level), job, job.device_budget, &why);
  if (device_bytes == 0) return std::nullopt;

  std::atomic<uint64_t> bytes_written{0};
  const int64_t total = grid.count();
  if (sink.writer) {
    job.write = [&](int64_t y, const ImageView& band) {
      sink.writer->write_region(y, 0, band);
      if (sink.pyramid) {
        for (int64_t tx = 0; tx < grid.across(); ++tx) {
          const Rect r = grid.rect(tx, y / plan.unit);
          sink.pyramid->add(0, tx, y / plan.unit, band.crop(r.x, 0, r.width, r.height));
        }
      }
      bytes_written += band.tight_bytes();
    };
  }
  job.on_band = [&](int64_t bands_done) {
    int64_t done = std::min(total, bands_done * grid.across());
    uint64_t written =
        sink.writer
            ? bytes_written.load()
            : static_cast<uint64_t>(std::min(plan.height, bands_done * plan.unit) * plan.width) *
                  sink.image->pixel_bytes();
    meter.sample();
    report_progress(options, done, total, 0, written, start);
  };

  meter.allocated(device_bytes);
  BandReport report;
  try {
    report = run_bands(job);
  } catch (const Error& e) {
    meter.freed(device_bytes);
    throw e.with_context(plan.where);
  }
  meter.sample();
  meter.freed(device_bytes);

  Summary summary;
  summary.seconds = seconds_since(start);
  summary.tiles = total;
  summary.bytes_read = report.bytes_read;
  summary.bytes_written =
      sink.writer ? bytes_written.load()
                  : static_cast<uint64_t>(plan.width * plan.height) * sink.image->pixel_bytes();
  summary.peak_gpu_bytes = meter.peak();
  summary.gpu_memory_delta_bytes = meter.device_delta_peak();
  summary.io_path = report.io_path.empty() ? "posix" : report.io_path;
  summary.executor = "bands";
  summary.streamed = report.streamed;
  return summary;
#else
  (void)slide, (void)plan, (void)options, (void)sink, (void)meter;
  return std::nullopt;
#endif
}

// Every error of a tiled run (slot allocation included) names the slide and the level.
Summary run_tiled(const Slide& slide, const Plan& plan, const Options& options,
                  const TiledSink& sink, GpuMemoryMeter& meter) {
  try {
    if (auto bands = run_bands_if_taken(slide, plan, options, sink, meter)) return *bands;
    return SlotRun(slide, plan, options, sink, meter).run();
  } catch (const Error& e) {
    throw e.with_context(plan.where);
  }
}

// The whole level, then each op over the whole image, on options.device.
Image run_global(const Slide& slide, const Plan& plan, const Options& options,
                 GpuMemoryMeter& meter, Summary& summary) {
  ReadOptions read_options;
  read_options.device = options.device;
  read_options.cuda_device = options.cuda_device;
  read_options.threads = options.threads;
  read_options.io = options.io;
  ReadReport report;
  Image image;
  try {
    image = Image::allocate(plan.width, plan.height, plan.formats[0].channels,
                            plan.formats[0].dtype, options.device, options.cuda_device);
    if (options.device == Device::cuda) meter.allocated(image.size_bytes());
    // JPEG levels too: nvJPEG's engines plus our upsampling equal libjpeg-turbo bit for bit,
    // so global and tiled see the same pixels whichever decoder took a tile.
    slide.read_level(plan.level, image.view(), read_options, &report);
    if (!plan.chain.empty()) {
      const auto& f = plan.formats.back();
      Image out = Image::allocate(plan.width, plan.height, f.channels, f.dtype, options.device,
                                  options.cuda_device);
      if (options.device == Device::cuda) meter.allocated(out.size_bytes());
      ops::apply_chain(plan.chain, image.view(), {0, 0}, out.view(), {0, 0},
                       ops::ImageExtent{plan.width, plan.height});
      if (options.device == Device::cuda) meter.freed(image.size_bytes());
      image = std::move(out);
    }
#if SLIDESTREAM_HAVE_CUDA
    if (options.device == Device::cuda) {
      gpu_synchronize(options.cuda_device);
      meter.sample();
    }
#endif
  } catch (const Error& e) {
    throw e.with_context(plan.where);
  }
  summary.bytes_read = report.file_bytes ? report.file_bytes : image.size_bytes();
  summary.io_path = report.io_path.empty() ? "posix" : report.io_path;
  return image;
}

zarr::ArraySpec level_spec(const Plan& plan, const Options& options, const LevelSize& size) {
  zarr::ArraySpec spec;
  spec.height = size.height;
  spec.width = size.width;
  spec.channels = plan.formats.back().channels;
  spec.dtype = plan.formats.back().dtype;
  spec.chunk_height = spec.chunk_width = options.tile;
  spec.shard_height = spec.shard_width = options.shard;
  spec.format = options.format;
  spec.codec = options.codec;
  return spec;
}

}  // namespace

std::vector<ops::Op> prepare_chain(const Slide& slide, std::vector<ops::Op> chain) {
  if (std::none_of(chain.begin(), chain.end(), ops::needs_preparing)) return chain;
  int lowest = static_cast<int>(slide.levels().size()) - 1;
  try {
    return ops::prepare(std::move(chain), [&] { return slide.read_level(lowest); });
  } catch (const Error& e) {
    throw e.with_context(ErrorContext{.file = slide.path().string(), .level = lowest});
  }
}

Image process_to_image(const Slide& slide, const std::vector<ops::Op>& chain,
                       const Options& options, Summary* summary) {
  auto start = Clock::now();
  Plan plan = make_plan(slide, chain, options);
  GpuMemoryMeter meter(options, plan.where);
  Summary result;
  Image image;
  if (options.mode == Mode::global) {
    image = run_global(slide, plan, options, meter, result);
    result.tiles = 1;
    result.bytes_written = image.size_bytes();
    report_progress(options, 1, 1, result.bytes_read, result.bytes_written, start);
  } else {
    const auto& f = plan.formats.back();
    image = Image::allocate(plan.width, plan.height, f.channels, f.dtype, options.device,
                            options.cuda_device);
    if (options.device == Device::cuda) meter.allocated(image.size_bytes());
    TiledSink sink;
    sink.image = &image.view();
    result = run_tiled(slide, plan, options, sink, meter);
  }
  result.seconds = seconds_since(start);
  result.peak_gpu_bytes = meter.peak();
  result.gpu_memory_delta_bytes = meter.device_delta_peak();
  if (summary) *summary = result;
  return image;
}

Summary process(const Slide& slide, const std::vector<ops::Op>& chain,
                const std::filesystem::path& output, const Options& options) {
  auto start = Clock::now();
  Plan plan = make_plan(slide, chain, options);
  std::vector<LevelSize> sizes =
      pyramid_sizes(plan.width, plan.height, options.tile, options.pyramid);

  zarr::MultiscaleOptions multiscale;
  multiscale.format = options.format;
  multiscale.name = slide.path().stem().string();
  double downsample = slide.level(plan.level).downsample;
  if (slide.mpp_x()) multiscale.mpp_x = *slide.mpp_x() * downsample;
  if (slide.mpp_y()) multiscale.mpp_y = *slide.mpp_y() * downsample;
  multiscale.overwrite = options.overwrite;
  multiscale.overwrite_any = options.overwrite_any;
  zarr::WriteOptions write_options;
  write_options.threads = options.threads;
  write_options.io = options.io;
  write_options.overwrite = options.overwrite;

  // The device is checked (and the memory baseline taken) before anything is created on disk.
  GpuMemoryMeter meter(options, plan.where);
  zarr::OmeZarrWriter root = zarr::OmeZarrWriter::create(output, multiscale);
  std::vector<zarr::ArrayWriter> writers;
  writers.reserve(sizes.size());
  for (size_t k = 0; k < sizes.size(); ++k) {
    writers.push_back(root.add_level(static_cast<int>(k), static_cast<double>(int64_t{1} << k),
                                     level_spec(plan, options, sizes[k]), write_options));
  }

  Summary result;
  if (options.mode == Mode::global) {
    Image image = run_global(slide, plan, options, meter, result);
    try {
      writers[0].write(image.view());
      for (size_t k = 1; k < sizes.size(); ++k) {
        const auto& f = plan.formats.back();
        Image smaller = Image::allocate(sizes[k].width, sizes[k].height, f.channels, f.dtype,
                                        options.device, options.cuda_device);
        if (options.device == Device::cuda) meter.allocated(smaller.size_bytes());
        ops::downsample2(image.view(), smaller.view());
#if SLIDESTREAM_HAVE_CUDA
        if (options.device == Device::cuda) gpu_synchronize(options.cuda_device);
#endif
        writers[k].write(smaller.view());
        if (options.device == Device::cuda) meter.freed(image.size_bytes());
        image = std::move(smaller);
      }
    } catch (const Error& e) {
      throw e.with_context(plan.where);
    }
    TileGrid grid(plan.width, plan.height, plan.unit);
    result.tiles = grid.count();
    result.bytes_written = 0;
    report_progress(options, result.tiles, result.tiles, result.bytes_read, 0, start);
  } else {
    std::vector<zarr::ArrayWriter*> pointers;
    for (auto& w : writers) pointers.push_back(&w);
    std::unique_ptr<PyramidBuilder> pyramid;
    if (sizes.size() > 1) {
      pyramid = std::make_unique<PyramidBuilder>(sizes, plan.unit, plan.formats.back(), pointers);
    }
    TiledSink sink;
    sink.writer = &writers[0];
    sink.pyramid = pyramid.get();
    result = run_tiled(slide, plan, options, sink, meter);
  }

  // Metadata last: every level's chunks have landed before its array metadata, and every
  // level's metadata before the group's, so an interrupted run never looks complete.
  uint64_t written = 0;
  std::string write_path;
  for (auto& w : writers) {
    zarr::WriteReport report = w.finish();
    written += report.bytes_written;
    if (write_path.empty()) write_path = report.io_path;
  }
  root.finish();
  result.bytes_written = written;
  result.write_io_path = write_path;
  result.levels = static_cast<int>(sizes.size());
  result.seconds = seconds_since(start);
  result.peak_gpu_bytes = meter.peak();
  result.gpu_memory_delta_bytes = meter.device_delta_peak();
  return result;
}

}  // namespace slidestream::pipeline
