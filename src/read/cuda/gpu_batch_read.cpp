// Batched region reads into GPU memory (read/gpu_read.hpp: read_regions_gpu). The batch's tiles
// (each once, read/region_batch.hpp) are decoded in groups (up to 256 MiB) into a tile arena, a
// staging slot whose device twin holds one whole decoded tile per tile of the group:
//  - YCbCr JPEG tiles go to one queue served by nvJPEG batch decoders (the hardware engines;
//    their planes then finished by ycc_to_rgb into the arena, as the whole-level read does) from
//    the front and by CPU threads (libjpeg-turbo through the host read path) from the back;
//  - every other tile is decoded by the CPU threads into the arena's pinned host side and copied
//    to its device side.
// Then one placement kernel copies every piece of every tile into its region. Regions partly
// outside the level are filled first on the same stream. Every tile nvJPEG refuses or fails on
// is decoded by the CPU path, whose pixels or error (file, level, tile, offset) stand, so the
// batch equals the host read bit for bit. With a TileCache, tiles live in its GPU slots instead
// of the arena: hits are placed without decoding, misses decode into their slot.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "codec/cuda/ycc_to_rgb.hpp"
#include "core/cuda_memory.hpp"
#include "core/thread_pool.hpp"
#include "cuda/check.hpp"
#include "io/cuda/staging_pool.hpp"
#include "read/cuda/nvjpeg_route.hpp"
#include "read/cuda/placement.hpp"
#include "read/decoded_tile_cache.hpp"
#include "read/gpu_read.hpp"
#include "read/region_batch.hpp"
#include "read/region_reader.hpp"
#include "shim/nvjpeg.hpp"
#include "slidestream/error.hpp"
#include "source/slide_impl.hpp"

namespace slidestream::read {
namespace {

using io::cuda::SlotLease;
using io::cuda::StagingSlot;

constexpr size_t kPage = 4096;
// Decoded bytes per round: bounds the arena (pinned and device memory, pooled) whatever the
// batch, while a batch of 256 random 256² patches (about 1,000 tiles of 256²) still decodes in
// one round: each round ends with a tail where the decoders run out of tiles one by one.
constexpr size_t kMaxGroupBytes = size_t{256} << 20;

size_t align_up(size_t v) {
  return (v + kPage - 1) / kPage * kPage;
}

struct BatchGpu {
  BatchGpu(const Slide::Impl& slide_, int level, const BatchPlan& plan_, const ImageView& out_,
           const ReadOptions& options_)
      : slide(slide_),
        source{slide_.level_source(level), slide_.path.native(), level},
        level_layout(slide_.level_source(level).layout()),
        plan(plan_),
        out(out_),
        options(options_) {}

  const Slide::Impl& slide;
  const RegionSource source;
  const Level& level_layout;
  const BatchPlan& plan;
  ImageView out;
  ReadOptions options;
  size_t pixel = 0, tile_row_bytes = 0, tile_bytes = 0, tile_stride = 0;
  int64_t tile_rows = 0;
  bool use_nvjpeg = false;
  StagingSlot* arena = nullptr;
  // The caller's TileCache keeps decoded tiles in GPU memory: slots of tile_stride bytes in
  // `slab`; slots.slot[k] is group tile k's (-1: not cached, decoded into the arena).
  TileCache::Impl* cache = nullptr;
  std::byte* slab = nullptr;
  TileCache::Impl::DeviceBatch slots;
  std::vector<TileCache::Impl::Key> keys;

  // The current group: plan tiles [first, first + count); arena slot k holds tile first + k.
  size_t first = 0, count = 0;
  std::vector<size_t> cpu;   // group-relative indices only the CPU decodes
  std::vector<size_t> jpeg;  // nvJPEG from the front, CPU threads from the back
  std::atomic<size_t> next_cpu{0};
  std::mutex jpeg_mutex;
  size_t jpeg_front = 0, jpeg_back = 0;

  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  std::atomic<uint64_t> file_bytes{0};
  std::atomic<int64_t> cpu_decoded{0}, nv_decoded{0};
  std::string nv_name;

  std::optional<size_t> take_cpu_tile() {
    if (size_t i = next_cpu.fetch_add(1); i < cpu.size()) return cpu[i];
    std::lock_guard lock(jpeg_mutex);
    if (jpeg_front >= jpeg_back) return std::nullopt;
    return jpeg[--jpeg_back];
  }
  std::optional<size_t> take_jpeg_batch(size_t batch) {
    std::lock_guard lock(jpeg_mutex);
    if (jpeg_back - jpeg_front < batch) return std::nullopt;
    size_t at = jpeg_front;
    jpeg_front += batch;
    return at;
  }
  void record(std::exception_ptr e) {
    std::lock_guard lock(error_mutex);
    if (!error) error = e;
    failed = true;
  }
  const BatchTile& tile(size_t k) const { return plan.tiles[first + k]; }
  size_t offset(size_t k) const { return k * tile_stride; }
  bool in_slab(size_t k) const { return slab != nullptr && slots.slot[k] >= 0; }
  bool cached(size_t k) const { return in_slab(k) && slots.hit[k]; }
  // Where group tile k's decoded pixels go (and are placed from).
  std::byte* tile_data(size_t k) const {
    return in_slab(k) ? slab + static_cast<size_t>(slots.slot[k]) * tile_stride
                      : arena->staging.data() + offset(k);
  }
  ErrorContext where(const BatchTile& t, int64_t offset = -1) const {
    return {slide.path.string(), source.level_index, t.ty * level_layout.tiles_across + t.tx,
            offset};
  }
};

// Decodes group tile k on this thread into the arena's host side and queues its copy to the
// device side on the arena's stream (copies from many threads on one stream are serialised).
void decode_on_cpu(BatchGpu& b, size_t k) {
  const BatchTile& t = b.tile(k);
  ImageView view;
  view.data = b.arena->host.data() + b.offset(k);
  view.width = b.level_layout.tile_width;
  view.height = b.tile_rows;
  view.channels = b.level_layout.channels;
  view.dtype = b.level_layout.dtype;
  view.row_pitch = b.tile_row_bytes;
  b.file_bytes += decode_tile(b.source, t.tx, t.ty, view, b.options.fill);
  cuda::check(cudaMemcpyAsync(b.tile_data(k), view.data, b.tile_bytes, cudaMemcpyHostToDevice,
                              b.arena->stream.get()),
              "cudaMemcpyAsync (decoded tile)");
  b.cpu_decoded++;
}

void cpu_worker(BatchGpu& b) {
  cuda::check(cudaSetDevice(b.out.cuda_device), "cudaSetDevice");
  while (!b.failed) {
    std::optional<size_t> k = b.take_cpu_tile();
    if (!k) break;
    decode_on_cpu(b, *k);
  }
}

// One nvJPEG batch: the streams of group tiles [at, at + batch) that nvJPEG may decode go to the
// engines, their planes into `planes`, then ycc_to_rgb puts whole tiles into the arena; the
// others, and all of them if nvJPEG fails, are decoded on this thread by the CPU path.
void nvjpeg_batch_once(BatchGpu& b, shim::nvjpeg::BatchDecoder& decoder, StagingSlot& planes,
                       size_t at, size_t batch, std::vector<std::vector<std::byte>>& bytes) {
  using codec::cuda::YccTile;
  const uint32_t tw = b.level_layout.tile_width, th = b.level_layout.tile_height;
  const size_t per_tile = align_up(b.tile_bytes);
  auto tables = b.source.tiles.format().jpeg_tables;
  std::vector<std::span<const std::byte>> streams;
  std::vector<shim::nvjpeg::PlanarOutput> outputs;
  std::vector<size_t> on_cpu, on_gpu;
  std::vector<std::byte> encoded;
  auto* descriptors = reinterpret_cast<YccTile*>(planes.host_descriptors());
  for (size_t j = at; j < at + batch; ++j) {
    const size_t k = b.jpeg[j];
    const BatchTile& t = b.tile(k);
    const source::TileBytes tb = b.source.tiles.tile(t.tx, t.ty);
    if (tb.missing() || !source::within_stores(b.source.tiles, tb) ||
        tb.size() > b.tile_bytes * 4 + (1 << 20)) {
      on_cpu.push_back(k);  // the host path fills or reports it
      continue;
    }
    encoded.resize(tb.size());
    try {
      source::read_tile_bytes(b.source.tiles, tb, encoded);
    } catch (const Error& e) {
      throw e.with_context(b.where(t, static_cast<int64_t>(tb.where())));
    }
    auto& stream_bytes = bytes[streams.size()];
    shim::nvjpeg::merge_jpeg_tables(tables, encoded, &stream_bytes);
    codec::ycc::Planes shape;
    if (!gpu_decodable(b.level_layout, stream_bytes, &shape)) {
      on_cpu.push_back(k);
      continue;
    }
    std::byte* base = planes.staging.data() + per_tile * streams.size();
    const size_t y_bytes = size_t{tw} * th, c_bytes = size_t{shape.c_width} * shape.c_height;
    shim::nvjpeg::PlanarOutput output;
    output.plane[0] = base;
    output.plane[1] = base + y_bytes;
    output.plane[2] = base + y_bytes + c_bytes;
    output.pitch[0] = tw;
    output.pitch[1] = output.pitch[2] = shape.c_width;
    shape.y = reinterpret_cast<const uint8_t*>(output.plane[0]);
    shape.cb = reinterpret_cast<const uint8_t*>(output.plane[1]);
    shape.cr = reinterpret_cast<const uint8_t*>(output.plane[2]);
    shape.y_pitch = tw;
    shape.c_pitch = shape.c_width;
    YccTile& d = descriptors[streams.size()];
    d = YccTile{};
    d.planes = shape;
    d.width = tw;
    d.height = th;
    d.dst = b.tile_data(k);
    d.dst_pitch = b.tile_row_bytes;
    streams.emplace_back(stream_bytes.data(), stream_bytes.size());
    outputs.push_back(output);
    on_gpu.push_back(k);
  }
  bool decoded = false;
  if (!streams.empty()) {
    try {
      decoder.decode(streams, outputs, planes.stream.get());
      cuda::check(cudaMemcpyAsync(planes.device_descriptors(), descriptors,
                                  sizeof(YccTile) * streams.size(), cudaMemcpyHostToDevice,
                                  planes.stream.get()),
                  "cudaMemcpyAsync (tile descriptors)");
      codec::cuda::ycc_to_rgb(reinterpret_cast<const YccTile*>(planes.device_descriptors()),
                              static_cast<int>(streams.size()), tw, th, planes.stream.get());
      // The input bytes, planes and descriptors are reused next batch: wait for the GPU.
      planes.stream.synchronize();
      decoded = true;
      b.nv_decoded += static_cast<int64_t>(streams.size());
      for (const std::span<const std::byte>& s : streams) b.file_bytes += s.size();
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::out_of_memory) throw;
      (void)cudaStreamSynchronize(planes.stream.get());
      (void)cudaGetLastError();
    }
  }
  if (!decoded) on_cpu.insert(on_cpu.end(), on_gpu.begin(), on_gpu.end());
  for (size_t k : on_cpu) decode_on_cpu(b, k);
}

void nvjpeg_worker(BatchGpu& b, shim::nvjpeg::BatchDecoder& decoder) {
  static_assert(sizeof(codec::cuda::YccTile) * kMaxNvjpegBatch <= StagingSlot::kDescriptorBytes);
  const size_t batch = static_cast<size_t>(nvjpeg_batch());
  cuda::check(cudaSetDevice(b.out.cuda_device), "cudaSetDevice");
  // A tile's three planes take at most as much as its RGB.
  SlotLease planes = io::cuda::acquire_slot(b.out.cuda_device, align_up(b.tile_bytes) * batch);
  std::vector<std::vector<std::byte>> bytes(batch);
  while (!b.failed) {
    std::optional<size_t> at = b.take_jpeg_batch(batch);
    if (!at) break;
    nvjpeg_batch_once(b, decoder, *planes, *at, batch, bytes);
  }
}

// nvJPEG decoders lent by the process-wide pool for one group, given back when the lease ends.
struct NvjpegLease {
  std::vector<std::unique_ptr<shim::nvjpeg::BatchDecoder>> decoders;
  int device = 0;
  NvjpegLease(BatchGpu& b, int device_) : device(device_) {
    const size_t batch = static_cast<size_t>(nvjpeg_batch());
    if (b.jpeg.size() < batch) return;
    const size_t want = std::min<size_t>(nvjpeg_workers(), b.jpeg.size() / batch);
    decoders = shim::nvjpeg::DecoderPool::instance().acquire(device, static_cast<int>(want),
                                                             b.options.gpu_jpeg_wait);
    if (!decoders.empty()) b.nv_name = decoders.front()->name();
  }
  NvjpegLease(const NvjpegLease&) = delete;
  NvjpegLease& operator=(const NvjpegLease&) = delete;
  ~NvjpegLease() {
    for (auto& d : decoders) shim::nvjpeg::DecoderPool::instance().release(device, std::move(d));
  }
};

// Decodes the current group's tiles into the arena: nvJPEG feeders on their own threads, CPU
// workers on the shared pool (this thread included). Rethrows the first failure after every
// worker stopped; nvJPEG feeders wait for their streams before ending.
void decode_group(BatchGpu& b) {
  b.cpu.clear();
  b.jpeg.clear();
  b.next_cpu = 0;
  const bool planar = b.source.tiles.planes() != 1;
  for (size_t k = 0; k < b.count; ++k) {
    if (b.cached(k)) continue;  // already in GPU memory
    (b.use_nvjpeg && !planar ? b.jpeg : b.cpu).push_back(k);
  }
  b.jpeg_front = 0;
  b.jpeg_back = b.jpeg.size();
  if (b.cpu.empty() && b.jpeg.empty()) return;  // every tile in the cache
  NvjpegLease nvjpeg(b, b.out.cuda_device);
  {
    std::vector<std::jthread> feeders;
    for (auto& d : nvjpeg.decoders) {
      shim::nvjpeg::BatchDecoder* decoder = d.get();
      feeders.emplace_back([&b, decoder] {
        try {
          nvjpeg_worker(b, *decoder);
        } catch (...) {
          b.record(std::current_exception());
        }
      });
    }
    const int threads = b.options.threads > 0 ? b.options.threads : hardware_threads();
    const size_t workers = std::min<size_t>(static_cast<size_t>(threads), b.count);
    try {
      ThreadPool::shared().parallel_for(
          workers, [&b](size_t) { cpu_worker(b); }, threads);
    } catch (...) {
      b.record(std::current_exception());
    }
  }
  if (b.error) std::rethrow_exception(b.error);
}

// Every piece of the group's tiles in the arena (from_slab false) or in the cache's slots (true)
// to its region, in rounds of the descriptor room's size.
void place_group(BatchGpu& b, bool from_slab) {
  StagingSlot& arena = *b.arena;
  const std::byte* base = from_slab ? b.slab : arena.staging.data();
  Placement* host = host_placements(arena);
  int count = 0;
  uint32_t max_rows = 0;
  auto flush = [&] {
    if (count == 0) return;
    cudaStream_t stream = arena.stream.get();
    cuda::check(cudaMemcpyAsync(device_placements(arena), host, sizeof(Placement) * count,
                                cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync (placements)");
    place(base, device_placements(arena), count, max_rows, stream);
    arena.stream.synchronize();  // the host descriptors are rewritten next round
    count = 0;
    max_rows = 0;
  };
  for (size_t k = 0; k < b.count; ++k) {
    if (b.in_slab(k) != from_slab) continue;
    const BatchTile& t = b.tile(k);
    const uint64_t start = static_cast<uint64_t>(b.tile_data(k) - base);
    for (uint32_t i = 0; i < t.piece_count; ++i) {
      const BatchPiece& p = b.plan.pieces[t.first_piece + i];
      Placement& d = host[count++];
      d.src_offset = start + static_cast<uint64_t>(p.src_y) * b.tile_row_bytes +
                     static_cast<uint64_t>(p.src_x) * b.pixel;
      d.src_pitch = b.tile_row_bytes;
      const int64_t row = static_cast<int64_t>(p.region) * b.plan.height + p.dst_y;
      d.dst = b.out.data + static_cast<size_t>(row) * b.out.row_pitch +
              static_cast<size_t>(p.dst_x) * b.pixel;
      d.dst_pitch = b.out.row_pitch;
      d.row_bytes = static_cast<uint32_t>(static_cast<size_t>(p.width) * b.pixel);
      d.rows = static_cast<uint32_t>(p.height);
      max_rows = std::max(max_rows, d.rows);
      if (count == static_cast<int>(kMaxPlacements)) flush();
    }
  }
  flush();
}

// One group with the cache: its tiles' slots taken (hits pinned, misses reserved), the misses
// decoded into their slots (or the arena when no slot was free), every piece placed, then the
// misses made findable. A failure gives the slots back without them.
void read_group(BatchGpu& b) {
  if (b.cache != nullptr && b.slab != nullptr) {
    b.keys.clear();
    for (size_t k = 0; k < b.count; ++k) {
      const BatchTile& t = b.tile(k);
      b.keys.push_back(
          {&b.slide, b.source.file, b.source.level_index, b.out.cuda_device, t.tx, t.ty});
    }
    b.slots = b.cache->acquire_device(b.out.cuda_device, b.keys);
  } else {
    b.slots.slot.assign(b.count, -1);
    b.slots.hit.assign(b.count, 0);
  }
  try {
    decode_group(b);
    place_group(b, false);
    if (b.slab != nullptr) place_group(b, true);  // each ends with the arena's stream idle
  } catch (...) {
    (void)cudaStreamSynchronize(b.arena->stream.get());
    if (b.cache != nullptr && b.slab != nullptr) {
      b.cache->release_device(b.out.cuda_device, b.slots);
    }
    throw;
  }
  if (b.cache != nullptr && b.slab != nullptr) {
    b.cache->commit_device(b.out.cuda_device, b.keys, b.slots);
  }
}

// Regions partly outside the level get the fill value first, on the arena's stream (so before
// any placement).
void fill_regions(BatchGpu& b) {
  std::byte sample[4] = {};
  const DataType dtype = b.level_layout.dtype;
  if (dtype == DataType::uint8) {
    sample[0] = std::byte{b.options.fill};
  } else if (dtype == DataType::float32) {
    float v = b.options.fill;
    std::memcpy(sample, &v, 4);
  } else {
    uint32_t v = b.options.fill;  // little-endian: the low bytes are the uint16 value too
    std::memcpy(sample, &v, 4);
  }
  for (size_t i = 0; i < b.plan.needs_fill.size(); ++i) {
    if (!b.plan.needs_fill[i]) continue;
    const ImageView region =
        b.out.crop(0, static_cast<int64_t>(i) * b.plan.height, b.plan.width, b.plan.height);
    fill_samples(region.data, region.row_pitch, region.row_bytes(),
                 static_cast<size_t>(region.height), sample, size_of(dtype), b.arena->stream.get());
  }
}

void write_report(const BatchGpu& b, ReadReport& report) {
  report.file_bytes += b.file_bytes.load();
  report.pixel_bytes +=
      b.out.row_bytes() * static_cast<size_t>(b.plan.height) * b.plan.needs_fill.size();
  report.io_path = "posix";
  std::string decoder;
  if (b.nv_decoded > 0) decoder = b.nv_name;
  if (b.cpu_decoded > 0) {
    const Compression c = b.level_layout.compression;
    if (!decoder.empty()) decoder += '+';
    decoder += c == Compression::jpeg ? std::string("libjpeg-turbo") : "cpu-" + to_string(c);
  }
  report.decoder = decoder.empty() ? "none" : decoder;
}

}  // namespace

void read_regions_gpu(const Slide::Impl& slide, int level, const BatchPlan& plan,
                      const ImageView& out, const ReadOptions& options, TileCache* cache,
                      ReadReport* report) {
  const Level& l = slide.level_source(level).layout();
  const int64_t rows = static_cast<int64_t>(plan.needs_fill.size()) * plan.height;
  check_gpu_output(slide, l, level, plan.width, rows, out);
  int previous_device = 0;
  cuda::check(cudaGetDevice(&previous_device), "cudaGetDevice");
  cuda::check(cudaSetDevice(out.cuda_device), "cudaSetDevice");
  struct RestoreDevice {
    int device;
    ~RestoreDevice() { (void)cudaSetDevice(device); }
  } restore{previous_device};

  BatchGpu b(slide, level, plan, out, options);
  b.pixel = out.pixel_bytes();
  b.tile_rows = plan.tiles.empty() ? 0 : decoded_tile_rows(b.source);
  b.tile_row_bytes = static_cast<size_t>(l.tile_width) * b.pixel;
  b.tile_bytes = b.tile_row_bytes * static_cast<size_t>(b.tile_rows);
  b.tile_stride = align_up(b.tile_bytes);
  static const shim::nvjpeg::Availability no_nvjpeg{};
  // Scaled JPEG decoding (NDPI's derived levels) is libjpeg's IDCT scaling: CPU threads only.
  const bool nv_level = options.gpu_jpeg && nvjpeg_can_take(l) && !b.source.tiles.strips() &&
                        b.source.tiles.format().jpeg_scale_denom == 1 && !plan.tiles.empty();
  const auto& nv = nv_level ? shim::nvjpeg::availability() : no_nvjpeg;
  b.use_nvjpeg = nv.loaded && nv.hardware_backend;

  if (cache != nullptr && !plan.tiles.empty()) {
    b.cache = &cache->impl();
    const int device = out.cuda_device;
    b.slab = b.cache->device_memory(device, b.tile_stride, [device](size_t bytes) {
      return cuda::allocate_device_shared(bytes, device);
    });
  }
  const size_t group =
      std::min(std::max<size_t>(kMaxGroupBytes / std::max<size_t>(b.tile_stride, 1), 1),
               std::max<size_t>(plan.tiles.size(), 1));
  SlotLease arena = io::cuda::acquire_slot(out.cuda_device, group * b.tile_stride);
  b.arena = arena.get();
  (void)arena->staging.data();  // allocated here, not by the first of many workers at once
  try {
    fill_regions(b);
    for (size_t first = 0; first < plan.tiles.size(); first += group) {
      b.first = first;
      b.count = std::min(group, plan.tiles.size() - first);
      read_group(b);  // ends with the arena's stream idle: the next group may reuse it
    }
    arena->stream.synchronize();
  } catch (...) {
    // Copies from the arena's host side may still be queued: the slot goes back idle.
    (void)cudaStreamSynchronize(arena->stream.get());
    (void)cudaGetLastError();
    throw;
  }
  if (report) write_report(b, *report);
}

}  // namespace slidestream::read
