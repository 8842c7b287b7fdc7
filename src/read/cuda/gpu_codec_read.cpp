// How the GPU decoders of gpu_codec_read.hpp are fed.
//
// nvCOMP workers (two per read: one assembles its next batch on the CPU while the other's runs
// on the GPU) take up to a few hundred tiles at a time: their compressed bytes are read into
// pinned staging, copied to the GPU in one copy, decompressed in one nvCOMP batch into a
// device buffer, checked by a kernel (status, size, Adler-32 / XXH64), finished by a kernel
// (byte order, predictor 2), and placed into the output view by the placement kernel. Only
// tiles whose output that check can prove equal to the CPU decoder's go to nvCOMP at all
// (codec/nvcomp_route.hpp: zlib always, zstd only with a content checksum); tiles routed away
// or failing a check are decoded by the CPU path into the same device buffer before placing.
//
// nvJPEG2000 workers decode one tile at a time each (nvJPEG2000 has no batched decoder), into
// planes, which a kernel turns into interleaved pixels beside the other decoded tiles of the
// worker's staging; a slot-full is placed at once.
//
// CPU helpers (the read's other threads) decode tiles of the same queue with the CPU path,
// where that gives the same bytes as the GPU decoder: every decoder on the machine works until
// the level is done.
#include "read/cuda/gpu_codec_read.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codec/cuda/gpu_codec_kernels.hpp"
#include "codec/cuda/j2k_codestream.hpp"
#include "codec/nvcomp_route.hpp"
#include "codec/tile_decoder.hpp"
#include "cuda/check.hpp"
#include "cuda/resources.hpp"
#include "io/cuda/staging_pool.hpp"
#include "read/cuda/placement.hpp"
#include "read/region_reader.hpp"
#include "shim/nvcomp.hpp"
#include "shim/nvjpeg2k.hpp"
#include "slidestream/error.hpp"
#include "slidestream/settings.hpp"

namespace slidestream::read::gpu_codecs {
namespace {

using io::cuda::SlotLease;
using io::cuda::StagingSlot;
using read::Placement;

constexpr size_t kPage = 4096;
// GPU feeders per read, and the bytes of one batch, are Settings (slidestream/settings.hpp).
// Feeders measured with 16 CPU helpers (bench/gpu_codecs.py, H100, 2026-11-25): nvCOMP x4
// 0.052 s deflate / 0.033 s zstd vs x2 0.053 / 0.051; nvJPEG2000 x8 0.37 s vs x4 0.47.
// Decoded bytes per batch (Settings::gpu_codec_output_bytes): nvCOMP decodes each chunk with one
// warp, so a batch needs hundreds of tiles to fill an H100; more only holds more memory.
constexpr size_t kMaxBatch = 1024;
static_assert(kMaxBatch <= kMaxPlacements);
constexpr int kHelperTiles = 8;     // tiles a CPU helper decodes per copy
constexpr int kNvjpeg2kTiles = 32;  // tiles an nvJPEG2000 worker places per launch
// As in the host path (region_reader.cpp): a tile far larger than its decoded size is damaged.
constexpr uint64_t kMaxExpansion = 4;
constexpr uint64_t kHeaderSlack = 1 << 20;

size_t align_up(size_t v, size_t a) {
  return (v + a - 1) / a * a;
}

// The routing layer's checks are the verify kernel's.
static_assert(static_cast<uint32_t>(codec::nvcomp_route::Check::adler32) ==
              static_cast<uint32_t>(codec::cuda::TileChecksum::adler32));
static_assert(static_cast<uint32_t>(codec::nvcomp_route::Check::xxh64) ==
              static_cast<uint32_t>(codec::cuda::TileChecksum::xxh64));

// Device buffers reused across reads (scratch for nvCOMP, batch outputs, JPEG 2000 planes):
// cudaMalloc costs milliseconds and synchronises the device. Never destroyed (see the staging
// pool: freeing at exit races the CUDA runtime's teardown).
class ScratchPool {
 public:
  static ScratchPool& instance() {
    static ScratchPool* p = new ScratchPool;
    return *p;
  }
  std::unique_ptr<cuda::DeviceBuffer> acquire(int device, size_t bytes) {
    bytes = align_up(std::max<size_t>(bytes, 1), size_t{1} << 20);
    {
      std::lock_guard lock(mutex_);
      auto& list = idle_[device];
      auto best = list.end();
      for (auto it = list.begin(); it != list.end(); ++it) {
        if ((*it)->size() >= bytes && (best == list.end() || (*it)->size() < (*best)->size())) {
          best = it;
        }
      }
      if (best != list.end()) {
        auto buffer = std::move(*best);
        list.erase(best);
        return buffer;
      }
    }
    try {
      return std::make_unique<cuda::DeviceBuffer>(bytes);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::out_of_memory) throw;
      // Idle scratch of other sizes may be what fills the GPU: free it and try once more.
      std::vector<std::unique_ptr<cuda::DeviceBuffer>> freed;
      {
        std::lock_guard lock(mutex_);
        freed.swap(idle_[device]);
      }
      freed.clear();
      return std::make_unique<cuda::DeviceBuffer>(bytes);
    }
  }
  void release(int device, std::unique_ptr<cuda::DeviceBuffer> buffer) {
    if (!buffer) return;
    std::lock_guard lock(mutex_);
    auto& list = idle_[device];
    if (list.size() < kMaxIdle) list.push_back(std::move(buffer));
  }

 private:
  static constexpr size_t kMaxIdle = 16;
  std::mutex mutex_;
  std::map<int, std::vector<std::unique_ptr<cuda::DeviceBuffer>>> idle_;
};

struct Scratch {
  Scratch(int device_, size_t bytes)
      : device(device_), buffer(ScratchPool::instance().acquire(device_, bytes)) {}
  ~Scratch() { ScratchPool::instance().release(device, std::move(buffer)); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  std::byte* data() const { return buffer->data(); }
  int device;
  std::unique_ptr<cuda::DeviceBuffer> buffer;
};

// Declared after the buffers a worker's stream writes, so that it is destroyed first: an error
// unwinding must not return a buffer to a pool while the GPU still writes it.
struct DrainOnExit {
  cudaStream_t stream;
  ~DrainOnExit() { (void)cudaStreamSynchronize(stream); }
};

// Waits for a stream's work so far without spinning: a GPU feeder waits most of its time, and
// a spinning wait would take a core from the CPU helpers decoding beside it.
class StreamWait {
 public:
  StreamWait() : done_(cudaEventDisableTiming | cudaEventBlockingSync) {}
  void operator()(cudaStream_t stream, const char* what) {
    done_.record(stream);
    cuda::check(cudaEventSynchronize(done_.get()), what);
  }

 private:
  cuda::Event done_;
};

bool layout_covered(const Level& l, const codec::TileFormat& f) {
  return l.planar_configuration == 1 && f.samples_per_pixel == l.channels &&
         l.bits_per_sample == 8 * size_of(l.dtype) && codec::can_decode(f);
}

bool is_jpeg2000(Compression c) {
  return c == Compression::jpeg2000 || c == Compression::jpeg2000_aperio_ycbcr ||
         c == Compression::jpeg2000_aperio_rgb || c == Compression::jpeg2000_vips;
}

// Whether nvJPEG2000 may decode this stream for this level (the GPU kernels then do exactly
// what decode_jpeg2000 does); *why when not.
bool nvjpeg2k_may_take(std::span<const std::byte> bytes, const Level& l, GpuJpeg2000 streams,
                       std::string* why) {
  codec::j2k::CodestreamFacts f;
  if (!codec::j2k::inspect(bytes, &f, why)) return false;
  const int want_bits = l.dtype == DataType::uint8 ? 8 : 16;
  if (f.jp2_palette_or_channel_map) {
    *why = "JP2 palette or channel definitions";
  } else if (f.width != l.tile_width || f.height != l.tile_height || f.x0 != 0 || f.y0 != 0) {
    *why = "codestream size or origin differs from the tile's";
  } else if (f.components < l.channels || f.components > 4) {
    *why = std::to_string(f.components) + " components for " + std::to_string(l.channels) +
           " channels";
  } else if (!f.reversible && streams != GpuJpeg2000::all) {
    *why =
        "irreversible (9/7) wavelet: OpenJPEG decodes it (ReadOptions::gpu_jpeg2000 = all for "
        "the GPU)";
  } else {
    for (int c = 0; c < f.components; ++c) {
      if (f.precision[c] != want_bits || f.is_signed[c]) {
        *why = "component precision or sign differs from the level's samples";
        return false;
      }
    }
    return true;
  }
  return false;
}

// The level's first stored tile (at most its first `prefix` bytes), bounded as the CPU path
// bounds tiles; false (and *why) when it cannot be read.
bool first_stored_tile(const source::LevelSource& tiles, uint64_t prefix,
                       std::vector<std::byte>* encoded, std::string* why) {
  const Level& l = tiles.layout();
  for (int64_t row = 0; row < l.tiles_down; ++row) {
    for (int64_t col = 0; col < l.tiles_across; ++col) {
      const source::TileBytes bytes = tiles.tile(col, row);
      if (bytes.missing()) continue;
      if (!source::within_stores(tiles, bytes) || bytes.size() > (64u << 20)) {
        *why = "first tile's byte range is damaged";
        return false;
      }
      // The first `prefix` bytes of the tile's ranges, joined in order.
      encoded->resize(std::min(bytes.size(), prefix));
      try {
        size_t at = 0;
        for (const source::ByteRange& r : bytes.ranges()) {
          if (at == encoded->size()) break;
          const size_t n = std::min<uint64_t>(r.length, encoded->size() - at);
          tiles.store(r.store).read_exact({encoded->data() + at, n}, r.offset);
          at += n;
        }
      } catch (const Error& e) {
        *why = e.what();
        return false;
      }
      return true;
    }
  }
  *why = "no stored tiles";
  return false;
}

}  // namespace

Engine choose(const source::LevelSource& tiles, const ReadOptions& options, std::string* why) {
  std::string local;
  std::string& reason = why ? *why : local;
  const Level& l = tiles.layout();
  const codec::TileFormat& f = tiles.format();
  if (tiles.strips() || tiles.crops()) {
    reason = "stored tiles are not the level's grid (strips or oversized tiles)";
    return Engine::none;
  }
  if (!layout_covered(l, f)) {
    reason = "layout not covered (planar, sample size or codec options)";
    return Engine::none;
  }
  if (l.compression == Compression::deflate || l.compression == Compression::adobe_deflate ||
      l.compression == Compression::zstd) {
    // Predictor 3 reorders bytes across a row: the CPU undoes it.
    if (l.predictor != 1 && l.predictor != 2) {
      reason = "predictor " + std::to_string(l.predictor);
      return Engine::none;
    }
    if (l.photometric != 1 && l.photometric != 2) {
      reason = "photometric " + std::to_string(l.photometric);
      return Engine::none;
    }
    if (!options.gpu_byte_codecs) {
      reason =
          "deflate and zstd tiles decode on the CPU unless ReadOptions::gpu_byte_codecs "
          "asks for nvCOMP";
      return Engine::none;
    }
    if (!shim::nvcomp::enabled(&reason)) return Engine::none;
    if (l.compression != Compression::zstd) return Engine::nvcomp_deflate;
    // Frames nvCOMP may not take (libtiff, libvips and tifffile write no content checksum) go
    // to the CPU tile by tile anyway; the first one's header spares the GPU workers a level of
    // them.
    std::vector<std::byte> header;
    if (!first_stored_tile(tiles, 16, &header, &reason)) return Engine::none;
    if (!codec::nvcomp_route::zstd_declares_checksum(header)) {
      reason = "zstd frames without a content checksum: nvCOMP's output could not be verified";
      return Engine::none;
    }
    return Engine::nvcomp_zstd;
  }
  if (is_jpeg2000(l.compression)) {
    if (l.predictor != 1 || (l.dtype != DataType::uint8 && l.dtype != DataType::uint16)) {
      reason = "predictor or sample type";
      return Engine::none;
    }
    if (options.gpu_jpeg2000 == GpuJpeg2000::off) {
      reason = "nvJPEG2000 not asked for (ReadOptions::gpu_jpeg2000)";
      return Engine::none;
    }
    if (!shim::nvjpeg2k::enabled(&reason)) return Engine::none;
    // The level's first stored tile decides: a lossy level must not hand every tile to the GPU
    // workers only to have each one sent back to the CPU.
    std::vector<std::byte> encoded;
    if (!first_stored_tile(tiles, uint64_t{64} << 20, &encoded, &reason)) {
      return Engine::none;
    }
    return nvjpeg2k_may_take(encoded, l, options.gpu_jpeg2000, &reason) ? Engine::nvjpeg2k
                                                                        : Engine::none;
  }
  reason = "no GPU decoder for " + to_string(l.compression);
  return Engine::none;
}

// The nvCOMP slot's host and device twins share one layout: the per-chunk arrays, then the data.
// Arrays nvCOMP reads (pointers, sizes) are copied up with the data; those the GPU writes
// (actual sizes, statuses, verdicts) are only ever read back (the verdicts) or used there.
struct NvcompLayout {
  size_t in_ptrs, in_sizes, capacities, out_ptrs, actual, status, kind, expected, ok, data;
};

NvcompLayout nvcomp_layout(size_t batch, size_t input_align) {
  NvcompLayout at{};
  size_t offset = 0;
  auto reserve = [&](size_t bytes) {
    size_t here = offset;
    offset = align_up(offset + bytes, 256);
    return here;
  };
  at.in_ptrs = reserve(batch * sizeof(void*));
  at.in_sizes = reserve(batch * sizeof(size_t));
  at.capacities = reserve(batch * sizeof(size_t));
  at.out_ptrs = reserve(batch * sizeof(void*));
  at.actual = reserve(batch * sizeof(size_t));
  at.status = reserve(batch * sizeof(int));
  at.kind = reserve(batch * sizeof(uint32_t));
  at.expected = reserve(batch * sizeof(uint32_t));
  at.ok = reserve(batch * sizeof(uint32_t));
  at.data = align_up(offset, std::max<size_t>(input_align, 256));
  return at;
}

struct LevelDecode::Impl {
  Impl(Engine engine_, const source::LevelSource& tiles_, const std::string& file_,
       int level_index_, const ImageView& out_, const ReadOptions& options_, int threads_)
      : engine(engine_),
        level_source(tiles_),
        file(file_),
        level(tiles_.layout()),
        level_index(level_index_),
        out(out_),
        options(options_),
        threads(std::max(threads_, 1)),
        format(tiles_.format()) {
    pixel = out.pixel_bytes();
    tile_row_bytes = static_cast<size_t>(level.tile_width) * pixel;
    tile_bytes = tile_row_bytes * level.tile_height;
    stride = align_up(tile_bytes, kPage);
    const Settings tuned = settings();
    gpu_workers = static_cast<int>(engine == Engine::nvjpeg2k ? tuned.nvjpeg2k_workers
                                                              : tuned.nvcomp_workers);
    batch_output_bytes = static_cast<size_t>(tuned.gpu_codec_output_bytes);
    batch_input_bytes = static_cast<size_t>(tuned.nvcomp_input_bytes);
    // CPU helpers only where their bytes equal the GPU decoder's: always for nvCOMP (lossless),
    // for nvJPEG2000 unless lossy streams go to the GPU too.
    const bool exact = engine != Engine::nvjpeg2k || options.gpu_jpeg2000 != GpuJpeg2000::all;
    cpu_helpers = exact ? std::max(0, threads - gpu_workers) : 0;
  }

  Engine engine;
  const source::LevelSource& level_source;
  const std::string& file;
  const Level& level;
  int level_index;
  ImageView out;
  ReadOptions options;
  int threads;
  codec::TileFormat format;
  size_t pixel = 0, tile_row_bytes = 0, tile_bytes = 0, stride = 0;
  int gpu_workers = 0, cpu_helpers = 0;
  size_t batch_output_bytes = 0, batch_input_bytes = 0;  // per batch (Settings)

  std::vector<Tile> tiles;
  uint64_t largest = 0, total = 0;  // stored bytes of the tiles
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> file_bytes{0};
  std::atomic<int64_t> gpu{0}, cpu{0};

  ErrorContext where(const Tile& t) const {
    return ErrorContext{file, level_index, t.ty * level.tiles_across + t.tx,
                        static_cast<int64_t>(t.offset)};
  }
  bool plausible(const Tile& t) const {
    return source::within_stores(level_source, t.encoded) &&
           t.bytes <= tile_bytes * kMaxExpansion + kHeaderSlack;
  }
  Placement placement_for(const Tile& t, uint64_t tile_start) const {
    Placement p;
    p.src_offset = tile_start + static_cast<uint64_t>(t.src_y) * tile_row_bytes +
                   static_cast<uint64_t>(t.src_x) * pixel;
    p.src_pitch = tile_row_bytes;
    p.dst = out.data + static_cast<size_t>(t.dst_y) * out.row_pitch +
            static_cast<size_t>(t.dst_x) * pixel;
    p.dst_pitch = out.row_pitch;
    p.row_bytes = static_cast<uint32_t>(static_cast<size_t>(t.width) * pixel);
    p.rows = static_cast<uint32_t>(t.height);
    return p;
  }
  void read_encoded(const Tile& t, std::byte* into) {
    try {
      source::read_tile_bytes(level_source, t.encoded, {into, t.bytes});
    } catch (const Error& e) {
      throw e.with_context(where(t));
    }
    file_bytes += t.bytes;
  }
  // The CPU path's decode of the whole tile into host memory: its pixels, or its error (with
  // file, level, tile and offset), are the reference.
  void decode_on_cpu(const Tile& t, std::byte* host) {
    ImageView view;
    view.data = host;
    view.width = level.tile_width;
    view.height = level.tile_height;
    view.channels = level.channels;
    view.dtype = level.dtype;
    view.row_pitch = tile_row_bytes;
    view.device = Device::cpu;
    ReadReport report;
    const RegionSource source{level_source, file, level_index};
    read_full_tile(source, t.tx, t.ty, view, options, &report);
    file_bytes += report.file_bytes;
    ++cpu;
  }
  // Copies `count` placements from the slot's host area and places from `staging`.
  void place(StagingSlot& slot, const std::byte* staging, int count, uint32_t max_rows) {
    if (count == 0) return;
    cudaStream_t stream = slot.stream.get();
    cuda::check(cudaMemcpyAsync(device_placements(slot), host_placements(slot),
                                sizeof(Placement) * static_cast<size_t>(count),
                                cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync (placements)");
    read::place(staging, device_placements(slot), count, max_rows, stream);
  }

  // One nvCOMP batch in a slot: its chunks' descriptors at `at`, their bytes [at.data, used).
  struct NvcompBatch {
    shim::nvcomp::Codec codec;
    const NvcompLayout& at;
    StagingSlot& slot;
    size_t used;
    int chunks;
    std::byte* temp;
    size_t temp_size;
    std::byte* output;  // chunk c decodes to output + c × stride
  };
  // The batch's input bytes for this read: the largest tile fits, small reads stay small.
  size_t nvcomp_input_bytes(size_t batch, size_t input_align) const {
    // Settings::nvcomp_input_bytes caps a batch's compressed bytes (tests: many small batches).
    return std::max<size_t>(largest + 2 * input_align,
                            std::min<size_t>(batch_input_bytes, total + 2 * input_align * batch));
  }
  // Copies the batch up, decompresses, verifies every chunk and finishes (byte order,
  // predictor) the verified ones on the GPU; verdict[c] says whether chunk c was verified.
  void decompress_batch(const NvcompBatch& b, StreamWait& wait, uint32_t* verdict) const;

  // Decodes each (tile, spot) on the CPU and copies it to output + spot × stride on `stream`
  // (ordered after the batch's finish kernel, which skips those spots), through `fallback`.
  void decode_spots_on_cpu(const std::vector<std::pair<size_t, size_t>>& on_cpu,
                           StagingSlot& fallback, std::byte* output, cudaStream_t stream,
                           StreamWait& wait);

  void cpu_helper(const std::atomic<bool>& stop);
  void nvcomp_worker(const std::atomic<bool>& stop);
  void nvjpeg2k_worker(const std::atomic<bool>& stop);
};

void LevelDecode::Impl::cpu_helper(const std::atomic<bool>& stop) {
  // Two slots: one fills while the other's copy and placement run.
  SlotLease slots[2] = {io::cuda::acquire_slot(out.cuda_device, kHelperTiles * stride),
                        io::cuda::acquire_slot(out.cuda_device, kHelperTiles * stride)};
  int turn = 0;
  while (!stop) {
    StagingSlot& slot = *slots[turn];
    slot.wait_idle();
    int count = 0;
    uint32_t max_rows = 0;
    while (count < kHelperTiles && !stop) {
      const size_t i = next.fetch_add(1);
      if (i >= tiles.size()) break;
      const Tile& t = tiles[i];
      decode_on_cpu(t, slot.host.data() + static_cast<size_t>(count) * stride);
      host_placements(slot)[count] = placement_for(t, static_cast<size_t>(count) * stride);
      max_rows = std::max(max_rows, static_cast<uint32_t>(t.height));
      ++count;
    }
    if (count == 0) break;
    cuda::check(
        cudaMemcpyAsync(slot.staging.data(), slot.host.data(), static_cast<size_t>(count) * stride,
                        cudaMemcpyHostToDevice, slot.stream.get()),
        "cudaMemcpyAsync (tiles)");
    place(slot, slot.staging.data(), count, max_rows);
    slot.idle.record(slot.stream.get());
    slot.busy = true;
    turn ^= 1;
  }
  slots[0]->wait_idle();
  slots[1]->wait_idle();
}

void LevelDecode::Impl::decompress_batch(const NvcompBatch& b, StreamWait& wait,
                                         uint32_t* verdict) const {
  const NvcompLayout& at = b.at;
  std::byte* host = b.slot.host.data();
  std::byte* dev = b.slot.staging.data();
  cudaStream_t stream = b.slot.stream.get();
  const bool swap = size_of(level.dtype) > 1 && format.big_endian;  // little-endian host
  const bool horizontal = level.predictor == 2;
  const size_t chunks = static_cast<size_t>(b.chunks);
  cuda::check(cudaMemcpyAsync(dev, host, b.used, cudaMemcpyHostToDevice, stream),
              "cudaMemcpyAsync (compressed tiles)");
  shim::nvcomp::decompress_async(b.codec, reinterpret_cast<const void* const*>(dev + at.in_ptrs),
                                 reinterpret_cast<const size_t*>(dev + at.in_sizes),
                                 reinterpret_cast<const size_t*>(dev + at.capacities),
                                 reinterpret_cast<size_t*>(dev + at.actual), chunks, b.temp,
                                 b.temp_size, reinterpret_cast<void* const*>(dev + at.out_ptrs),
                                 reinterpret_cast<int*>(dev + at.status), stream);
  codec::cuda::ChunkChecks checks;
  checks.status = reinterpret_cast<const int*>(dev + at.status);
  checks.actual = reinterpret_cast<const size_t*>(dev + at.actual);
  checks.kind = reinterpret_cast<const uint32_t*>(dev + at.kind);
  checks.expected = reinterpret_cast<const uint32_t*>(dev + at.expected);
  checks.ok = reinterpret_cast<uint32_t*>(dev + at.ok);
  codec::cuda::verify_chunks(b.output, stride, tile_bytes, b.chunks, checks, stream);
  codec::cuda::finish_tiles(b.output, stride, b.chunks, checks.ok, level.tile_width,
                            level.tile_height, level.channels,
                            static_cast<int>(size_of(level.dtype)), swap, horizontal, stream);
  cuda::check(cudaMemcpyAsync(host + at.ok, dev + at.ok, chunks * sizeof(uint32_t),
                              cudaMemcpyDeviceToHost, stream),
              "cudaMemcpyAsync (verdicts)");
  wait(stream, "cudaEventSynchronize (nvCOMP batch)");
  std::memcpy(verdict, host + at.ok, chunks * sizeof(uint32_t));
}

void LevelDecode::Impl::decode_spots_on_cpu(const std::vector<std::pair<size_t, size_t>>& on_cpu,
                                            StagingSlot& f, std::byte* output, cudaStream_t stream,
                                            StreamWait& wait) {
  for (size_t k = 0; k < on_cpu.size(); k += kHelperTiles) {
    const size_t n = std::min<size_t>(kHelperTiles, on_cpu.size() - k);
    for (size_t j = 0; j < n; ++j) {
      const auto [tile, spot] = on_cpu[k + j];
      decode_on_cpu(tiles[tile], f.host.data() + j * stride);
      cuda::check(cudaMemcpyAsync(output + spot * stride, f.host.data() + j * stride, tile_bytes,
                                  cudaMemcpyHostToDevice, stream),
                  "cudaMemcpyAsync (CPU-decoded tile)");
    }
    wait(stream, "cudaEventSynchronize (CPU-decoded tiles)");
  }
}

void LevelDecode::Impl::nvcomp_worker(const std::atomic<bool>& stop) {
  const auto codec =
      engine == Engine::nvcomp_zstd ? shim::nvcomp::Codec::zstd : shim::nvcomp::Codec::deflate;
  const shim::nvcomp::Alignment align = shim::nvcomp::alignment(codec);
  const int device = out.cuda_device;
  // Batches sized to this read: a small region must not hold batch-sized buffers.
  const size_t share = (tiles.size() + gpu_workers - 1) / static_cast<size_t>(gpu_workers);
  const size_t batch =
      std::clamp<size_t>(std::min(batch_output_bytes / stride, share), 1, kMaxBatch);
  const size_t input_bytes = nvcomp_input_bytes(batch, align.input);

  const NvcompLayout at = nvcomp_layout(batch, align.input);

  SlotLease in = io::cuda::acquire_slot(device, at.data + input_bytes);
  Scratch output(device, batch * stride);
  const size_t temp_size = shim::nvcomp::temp_bytes(codec, batch, tile_bytes);
  Scratch temp(device, temp_size);
  std::optional<SlotLease> fallback;  // CPU-decoded tiles on their way up, made when needed
  cudaStream_t stream = in->stream.get();
  DrainOnExit drain{stream};
  StreamWait wait;

  std::byte* host = in->host.data();
  std::byte* dev = in->staging.data();
  auto host_array = [&](size_t where) { return host + where; };

  std::optional<size_t> carried;               // a tile taken that did not fit the last batch
  std::vector<size_t> chunk_tiles, cpu_tiles;  // indices into `tiles`
  while (!stop) {
    in->wait_idle();
    chunk_tiles.clear();
    cpu_tiles.clear();
    size_t used = at.data;
    auto** in_ptrs = reinterpret_cast<const void**>(host_array(at.in_ptrs));
    auto* in_sizes = reinterpret_cast<size_t*>(host_array(at.in_sizes));
    auto* capacities = reinterpret_cast<size_t*>(host_array(at.capacities));
    auto** out_ptrs = reinterpret_cast<void**>(host_array(at.out_ptrs));
    auto* kinds = reinterpret_cast<uint32_t*>(host_array(at.kind));
    auto* expected = reinterpret_cast<uint32_t*>(host_array(at.expected));
    while (chunk_tiles.size() + cpu_tiles.size() < batch && !stop) {
      size_t i = carried ? *carried : next.fetch_add(1);
      carried.reset();
      if (i >= tiles.size()) break;
      const Tile& t = tiles[i];
      if (!plausible(t) || t.bytes + 2 * align.input > input_bytes) {
        cpu_tiles.push_back(i);  // the CPU path reports it
        continue;
      }
      // Place the stream so that the chunk nvCOMP reads (after a 2-byte zlib header for
      // deflate) starts aligned.
      const size_t skip = codec == shim::nvcomp::Codec::deflate ? 2 : 0;
      const size_t start = align_up(used + skip, align.input) - skip;
      if (start + t.bytes > at.data + input_bytes) {
        carried = i;
        break;
      }
      read_encoded(t, host + start);
      // Only chunks whose output the GPU can prove equal to the CPU decoder's (nvcomp_route.hpp).
      const std::span<const std::byte> stored(host + start, t.bytes);
      const std::optional<codec::nvcomp_route::Chunk> chunk =
          codec == shim::nvcomp::Codec::deflate
              ? codec::nvcomp_route::zlib_chunk(stored)
              : codec::nvcomp_route::zstd_chunk(stored, tile_bytes);
      if (!chunk) {
        cpu_tiles.push_back(i);
        continue;
      }
      const size_t c = chunk_tiles.size();
      in_ptrs[c] = dev + start + chunk->begin;
      in_sizes[c] = chunk->size;
      capacities[c] = tile_bytes;
      out_ptrs[c] = output.data() + c * stride;
      kinds[c] = static_cast<uint32_t>(chunk->check);
      expected[c] = chunk->expected;
      chunk_tiles.push_back(i);
      used = start + t.bytes;
    }
    if (chunk_tiles.empty() && cpu_tiles.empty()) break;

    const int chunks = static_cast<int>(chunk_tiles.size());
    std::vector<uint32_t> verdict(chunk_tiles.size(), 0);
    if (chunks > 0) {
      NvcompBatch b{codec, at, *in, used, chunks, temp.data(), temp_size, output.data()};
      decompress_batch(b, wait, verdict.data());
    }

    // Every tile of the batch has a spot in `output`: chunks at their index, the CPU's after.
    Placement* placements = host_placements(*in);
    int count = 0;
    uint32_t max_rows = 0;
    auto add_placement = [&](const Tile& t, size_t spot) {
      placements[count++] = placement_for(t, spot * stride);
      max_rows = std::max(max_rows, static_cast<uint32_t>(t.height));
    };
    std::vector<std::pair<size_t, size_t>> on_cpu;  // (tile, spot)
    for (size_t c = 0; c < chunk_tiles.size(); ++c) {
      if (verdict[c]) {
        add_placement(tiles[chunk_tiles[c]], c);
        ++gpu;
      } else {
        on_cpu.emplace_back(chunk_tiles[c], c);  // the CPU decides: its pixels or its error
      }
    }
    for (size_t k = 0; k < cpu_tiles.size(); ++k) {
      on_cpu.emplace_back(cpu_tiles[k], chunk_tiles.size() + k);
    }
    if (!on_cpu.empty()) {
      if (!fallback) fallback = io::cuda::acquire_slot(device, kHelperTiles * stride);
      decode_spots_on_cpu(on_cpu, **fallback, output.data(), stream, wait);
      for (const auto& [tile, spot] : on_cpu) add_placement(tiles[tile], spot);
    }
    place(*in, output.data(), count, max_rows);
    in->idle.record(stream);
    in->busy = true;
  }
  in->wait_idle();
}

void LevelDecode::Impl::nvjpeg2k_worker(const std::atomic<bool>& stop) {
  const int device = out.cuda_device;
  struct Lease {
    int device;
    std::unique_ptr<shim::nvjpeg2k::Decoder> decoder;
    ~Lease() { shim::nvjpeg2k::release_decoder(device, std::move(decoder)); }
  } lease{device, shim::nvjpeg2k::acquire_decoder(device)};
  const bool sixteen = level.dtype == DataType::uint16;
  const size_t sample = sixteen ? 2 : 1;
  const size_t plane_bytes =
      align_up(static_cast<size_t>(level.tile_width) * level.tile_height * sample, 256);
  const size_t share = (tiles.size() + gpu_workers - 1) / static_cast<size_t>(gpu_workers);
  const size_t per_launch = std::clamp<size_t>(share, 1, kNvjpeg2kTiles);

  SlotLease slot = io::cuda::acquire_slot(device, per_launch * stride);
  Scratch planes(device, 4 * plane_bytes);
  Scratch tables(device, sizeof(codec::cuda::YCbCrTables));
  cudaStream_t stream = slot->stream.get();
  DrainOnExit drain{stream};
  StreamWait wait;
  const bool ycbcr =
      level.compression == Compression::jpeg2000_aperio_ycbcr && level.channels == 3 && !sixteen;
  const codec::cuda::J2kColour colour =
      ycbcr ? codec::cuda::J2kColour::aperio_ycbcr
      : level.compression == Compression::jpeg2000_vips && level.channels == 3
          ? codec::cuda::J2kColour::vips_ycc
          : codec::cuda::J2kColour::as_stored;
  if (ycbcr) {
    const codec::cuda::YCbCrTables t = codec::cuda::make_ycbcr_tables();
    cuda::check(cudaMemcpyAsync(tables.data(), &t, sizeof(t), cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync (YCbCr tables)");
    cuda::check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (YCbCr tables)");
  }
  std::vector<std::byte> encoded;
  std::vector<shim::nvjpeg2k::Component> components;

  // Decodes tile t into `dst` (device, the tile's full size) with nvJPEG2000; false when it
  // refuses or the stream is one the CPU must decode.
  auto decode_on_gpu = [&](const Tile& t, std::byte* dst) {
    if (!plausible(t)) return false;
    encoded.resize(t.bytes);
    read_encoded(t, encoded.data());
    std::string why;
    if (!nvjpeg2k_may_take(encoded, level, options.gpu_jpeg2000, &why)) return false;
    if (!lease.decoder->parse(encoded, &components, &why)) return false;
    if (components.size() < static_cast<size_t>(level.channels) || components.size() > 4) {
      return false;
    }
    codec::cuda::J2kPlanes p;
    void* pointers[4] = {};
    size_t pitches[4] = {};
    for (size_t c = 0; c < components.size(); ++c) {
      const auto& comp = components[c];
      if (comp.width == 0 || comp.height == 0 || comp.width > level.tile_width ||
          comp.height > level.tile_height || comp.is_signed ||
          comp.precision != static_cast<int>(8 * sample)) {
        return false;
      }
      pointers[c] = planes.data() + c * plane_bytes;
      pitches[c] = static_cast<size_t>(comp.width) * sample;
      p.data[c] = pointers[c];
      p.pitch[c] = pitches[c];
      p.width[c] = comp.width;
      p.height[c] = comp.height;
      // As decode_jpeg2000 derives it: the ratio of the tile to the component.
      p.sub_x[c] = level.tile_width / comp.width;
      p.sub_y[c] = level.tile_height / comp.height;
    }
    if (!lease.decoder->decode(pointers, pitches, static_cast<int>(components.size()), sixteen,
                               stream, &why)) {
      // Whatever nvJPEG2000 left queued must finish before the planes are reused.
      wait(stream, "cudaEventSynchronize (nvJPEG2000)");
      return false;
    }
    codec::cuda::j2k_planes_to_pixels(
        p, level.channels, sixteen, colour,
        reinterpret_cast<const codec::cuda::YCbCrTables*>(tables.data()), dst, tile_row_bytes,
        level.tile_width, level.tile_height, stream);
    // The encoded bytes and the planes are reused for the next tile.
    wait(stream, "cudaEventSynchronize (nvJPEG2000)");
    return true;
  };

  while (!stop) {
    slot->wait_idle();
    int count = 0;
    uint32_t max_rows = 0;
    while (count < static_cast<int>(per_launch) && !stop) {
      const size_t i = next.fetch_add(1);
      if (i >= tiles.size()) break;
      const Tile& t = tiles[i];
      const size_t spot = static_cast<size_t>(count) * stride;
      if (decode_on_gpu(t, slot->staging.data() + spot)) {
        ++gpu;
      } else {
        decode_on_cpu(t, slot->host.data() + spot);
        cuda::check(cudaMemcpyAsync(slot->staging.data() + spot, slot->host.data() + spot,
                                    tile_bytes, cudaMemcpyHostToDevice, stream),
                    "cudaMemcpyAsync (CPU-decoded tile)");
      }
      host_placements(*slot)[count] = placement_for(t, spot);
      max_rows = std::max(max_rows, static_cast<uint32_t>(t.height));
      ++count;
    }
    if (count == 0) break;
    place(*slot, slot->staging.data(), count, max_rows);
    slot->idle.record(stream);
    slot->busy = true;
  }
  slot->wait_idle();
}

LevelDecode::LevelDecode(Engine engine, const source::LevelSource& tiles, const std::string& file,
                         int level_index, const ImageView& out, const ReadOptions& options,
                         int threads)
    : impl_(std::make_unique<Impl>(engine, tiles, file, level_index, out, options, threads)) {}

LevelDecode::~LevelDecode() = default;

void LevelDecode::add(const Tile& tile) {
  impl_->tiles.push_back(tile);
  impl_->largest = std::max(impl_->largest, tile.bytes);
  impl_->total += tile.bytes;
}

bool LevelDecode::empty() const {
  return impl_->tiles.empty();
}

int LevelDecode::workers() const {
  if (impl_->tiles.empty()) return 0;
  const int gpu = static_cast<int>(std::min<size_t>(impl_->gpu_workers, impl_->tiles.size()));
  return gpu + impl_->cpu_helpers;
}

void LevelDecode::work(int index, const std::atomic<bool>& stop) {
  cuda::check(cudaSetDevice(impl_->out.cuda_device), "cudaSetDevice");
  const int gpu = static_cast<int>(std::min<size_t>(impl_->gpu_workers, impl_->tiles.size()));
  if (index >= gpu) {
    impl_->cpu_helper(stop);
  } else if (impl_->engine == Engine::nvjpeg2k) {
    impl_->nvjpeg2k_worker(stop);
  } else {
    impl_->nvcomp_worker(stop);
  }
}

uint64_t LevelDecode::file_bytes() const {
  return impl_->file_bytes.load();
}
int64_t LevelDecode::gpu_tiles() const {
  return impl_->gpu.load();
}
int64_t LevelDecode::cpu_tiles() const {
  return impl_->cpu.load();
}
const char* LevelDecode::gpu_name() const {
  switch (impl_->engine) {
    case Engine::nvcomp_deflate:
      return shim::nvcomp::name(shim::nvcomp::Codec::deflate);
    case Engine::nvcomp_zstd:
      return shim::nvcomp::name(shim::nvcomp::Codec::zstd);
    case Engine::nvjpeg2k:
      return "nvjpeg2000";
    case Engine::none:
      break;
  }
  return "none";
}

}  // namespace slidestream::read::gpu_codecs
