// The GPU read path (read/gpu_read.hpp). Three kinds of work share one set of worker threads:
//  - uncompressed tiles: neighbouring tiles coalesced into MiB-scale page-aligned ranges, read
//    with pread (O_DIRECT for ranges not in the page cache) or cuFile into reusable staging, one
//    H2D copy per range, then one placement kernel puts every tile at its spot;
//  - JPEG tiles: one queue served at once by CPU threads (libjpeg-turbo through the host read
//    path) and by nvJPEG batch decoders (the hardware engines where the GPU has them), each
//    taking tiles as it becomes free, so every decoder on the machine works until the level is
//    done;
//  - other codecs: CPU threads decode into pinned staging, then the same copy + placement.
// Pinned staging comes from a process-wide pool; the device buffers the CPU workers' slots pass
// through are the read's own, a few shared by all (read/cuda/device_twins.hpp).
#include "read/gpu_read.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "codec/cuda/ycc_to_rgb.hpp"
#include "codec/jpeg_frame.hpp"
#include "codec/jpeg_ycc.hpp"
#include "core/thread_pool.hpp"
#include "cuda/check.hpp"
#include "io/cuda/staging_pool.hpp"
#include "io/file.hpp"
#include "read/cuda/device_twins.hpp"
#include "read/cuda/gpu_codec_read.hpp"
#include "read/cuda/nvjpeg_route.hpp"
#include "read/cuda/placement.hpp"
#include "read/cuda/range_plan.hpp"
#include "read/region_reader.hpp"
#include "shim/cufile.hpp"
#include "shim/nvjpeg.hpp"
#include "slidestream/error.hpp"
#include "slidestream/settings.hpp"
#include "source/slide_impl.hpp"

namespace slidestream::read {
namespace {

using io::cuda::SlotLease;
using io::cuda::StagingSlot;
using read::Placement;

constexpr size_t kPage = 4096;
constexpr size_t kDefaultTaskBytes = size_t{8} << 20;
constexpr size_t kColdTaskBytes = size_t{32} << 20;
// Tiles closer than this in the file are read in one range even with unwanted bytes between
// them: one more pread costs more than reading a few hundred KiB from the page cache.
constexpr uint64_t kMaxGap = 256 << 10;
constexpr int kMaxNvjpegBatch = 256;

uint64_t align_up(uint64_t v) {
  return (v + kPage - 1) / kPage * kPage;
}

// One tile of the region: where its bytes are and which part of it goes where.
struct TileJob {
  int64_t tx = 0, ty = 0;
  source::TileBytes encoded;       // the source's answer (none: a missing tile)
  uint64_t offset = 0, bytes = 0;  // the first range's offset; all ranges' bytes (0: missing)
  int64_t src_x = 0, src_y = 0;    // first wanted pixel inside the tile
  int64_t dst_x = 0, dst_y = 0;    // where it goes in `out`
  int64_t width = 0, height = 0;   // wanted pixels
  bool whole = false;              // the full tile lands inside out (no padding outside)
};

// A coalesced range of uncompressed tiles.
struct RawRange {
  uint64_t begin = 0, end = 0;  // page-aligned file range
  std::vector<size_t> tiles;    // indices into the raw tile list
};

struct Shared {
  Shared(const Slide::Impl& slide_, const source::LevelSource& tiles_, int index,
         const ImageView& out_, const ReadOptions& options_)
      : slide(slide_),
        tiles(tiles_),
        level(tiles_.layout()),
        level_index(index),
        out(out_),
        options(options_) {}

  const Slide::Impl& slide;
  const source::LevelSource& tiles;
  const Level& level;
  int level_index;
  ImageView out;
  ReadOptions options;
  size_t pixel = 0;
  size_t tile_row_bytes = 0;  // a full tile's row
  size_t tile_bytes = 0;      // a full decoded tile

  std::vector<TileJob> raw;
  std::vector<RawRange> ranges;
  std::vector<TileJob> decode;  // CPU only
  std::vector<TileJob> jpeg;    // CPU or nvJPEG, whoever is free
  std::atomic<size_t> next_range{0}, next_decode{0};
  // The JPEG queue is eaten from both ends: nvJPEG takes whole batches from the front, CPU
  // threads single tiles from the back, so the engines get full batches however fast the CPU
  // threads start, and the two meet somewhere in the middle.
  std::mutex jpeg_mutex;
  size_t jpeg_front = 0, jpeg_back = 0;  // [front, back) not taken yet
  std::optional<size_t> take_jpeg_tile() {
    std::lock_guard lock(jpeg_mutex);
    if (jpeg_front >= jpeg_back) return std::nullopt;
    return --jpeg_back;
  }
  // [first, first + batch), or nothing when fewer than `batch` tiles are left (a short batch
  // costs nvJPEG a re-initialisation: the CPU threads take those).
  std::optional<size_t> take_jpeg_batch(size_t batch) {
    std::lock_guard lock(jpeg_mutex);
    if (jpeg_back - jpeg_front < batch) return std::nullopt;
    size_t first = jpeg_front;
    jpeg_front += batch;
    return first;
  }

  // I/O of coalesced ranges: the level's file (the source's only store), when it has one
  const io::File* file = nullptr;
  uint64_t file_size = 0;
  const io::File* direct = nullptr;   // O_DIRECT descriptor, if the file system has one
  const std::byte* mapped = nullptr;  // for mincore (page-cache residency), if mmap worked
  shim::cufile::FileHandle* cufile = nullptr;

  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  std::atomic<uint64_t> file_bytes{0};
  std::atomic<uint64_t> direct_bytes{0};
  std::atomic<int64_t> cpu_decoded{0}, nv_decoded{0};
  std::string nv_name;
  size_t slot_bytes = 0;             // staging each CPU worker needs (two slots each)
  std::optional<DeviceTwins> twins;  // where the CPU workers' slots go on the GPU

  ErrorContext where(int64_t tile = -1, int64_t offset = -1) const {
    return ErrorContext{slide.path.string(), level_index, tile, offset};
  }
  void record(std::exception_ptr e) {
    std::lock_guard lock(error_mutex);
    if (!error) error = e;
    failed = true;
  }
};

constexpr std::ptrdiff_t kMaxDirectInFlight = 64;
std::counting_semaphore<kMaxDirectInFlight>& direct_reads() {
  static std::counting_semaphore<kMaxDirectInFlight> semaphore(
      std::min<std::ptrdiff_t>(settings().direct_in_flight, kMaxDirectInFlight));
  return semaphore;
}
struct DirectSlot {
  DirectSlot() { direct_reads().acquire(); }
  ~DirectSlot() { direct_reads().release(); }
  DirectSlot(const DirectSlot&) = delete;
  DirectSlot& operator=(const DirectSlot&) = delete;
};

// True when fewer than a quarter of the range's pages are in the page cache: then O_DIRECT
// reads it faster (no copy through the cache, large requests to the disk); otherwise the cache
// is the fastest source there is.
bool mostly_uncached(const Shared& s, uint64_t begin, uint64_t end) {
  if (s.mapped == nullptr || s.direct == nullptr) return false;
  size_t pages = (end - begin) / kPage;
  if (pages == 0) return false;
  std::vector<unsigned char> resident(pages);
  if (::mincore(const_cast<std::byte*>(s.mapped) + begin, end - begin, resident.data()) != 0) {
    return false;
  }
  size_t in = 0;
  for (unsigned char r : resident) in += r & 1;
  return in * 4 < pages;
}

// Copies the slot's data [0, used) and its placements to the GPU (through one of the read's
// shared device buffers, or in place when cuFile read the data into the slot's own device
// memory) and places them. The slot is busy until its event fires.
void flush(Shared& s, StagingSlot& slot, size_t used, int placements, uint32_t max_rows,
           bool data_on_device) {
  if (placements == 0) return;
  cudaStream_t stream = slot.stream.get();
  const size_t descriptor_bytes = sizeof(Placement) * static_cast<size_t>(placements);
  if (data_on_device) {
    cuda::check(cudaMemcpyAsync(device_placements(slot), host_placements(slot), descriptor_bytes,
                                cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync (placements)");
    read::place(slot.staging.data(), device_placements(slot), placements, max_rows, stream);
  } else {
    s.twins->copy_then(slot.host.data(), used, slot.host_descriptors(), descriptor_bytes, stream,
                       [&](const std::byte* data, const std::byte* descriptors) {
                         read::place(data, reinterpret_cast<const Placement*>(descriptors),
                                     placements, max_rows, stream);
                       });
  }
  slot.idle.record(stream);
  slot.busy = true;
}

Placement placement_for(const Shared& s, const TileJob& t, uint64_t tile_start) {
  Placement p;
  p.src_offset = tile_start + static_cast<uint64_t>(t.src_y) * s.tile_row_bytes +
                 static_cast<uint64_t>(t.src_x) * s.pixel;
  p.src_pitch = s.tile_row_bytes;
  p.dst = s.out.data + static_cast<size_t>(t.dst_y) * s.out.row_pitch +
          static_cast<size_t>(t.dst_x) * s.pixel;
  p.dst_pitch = s.out.row_pitch;
  p.row_bytes = static_cast<uint32_t>(static_cast<size_t>(t.width) * s.pixel);
  p.rows = static_cast<uint32_t>(t.height);
  return p;
}

void read_raw_range(Shared& s, StagingSlot& slot, const RawRange& r) {
  slot.wait_idle();
  const uint64_t size = r.end - r.begin;
  // The bytes that must be there: up to the end of the last tile's data.
  uint64_t needed = 0;
  for (size_t i : r.tiles) {
    needed = std::max(needed, s.raw[i].offset + s.tile_bytes - r.begin);
  }
  bool on_device = false;
  try {
    if (s.cufile) {
      if (!slot.registration) {
        slot.registration = shim::cufile::BufferRegistration(slot.staging.data(), slot.capacity);
      }
      uint64_t want = std::min<uint64_t>(size, s.file_size - r.begin);
      s.cufile->read_exact(slot.staging.data(), want, r.begin, 0);
      on_device = true;
    } else {
      std::span<std::byte> buffer{slot.host.data(), size};
      size_t got = 0;
      if (mostly_uncached(s, r.begin, r.end)) {
        // The disk, not the threads, is the limit here. Direct reads in flight are capped
        // (default 16) so that a wide pool does not interleave too many requests; with 32 MiB
        // cold ranges the sweep on the lent H100 gave 1.52 / 1.61 / 1.67 GB/s at 4 / 8 / 16.
        DirectSlot in_flight;
        got = s.direct->read_some(buffer, r.begin);
        s.direct_bytes += got;
      } else {
        got = s.file->read_some(buffer, r.begin);
      }
      if (got < needed) {
        throw Error(ErrorKind::format,
                    "file is truncated: tile data ends at " + std::to_string(r.begin + needed) +
                        ", the file at " + std::to_string(r.begin + got),
                    s.where(-1, static_cast<int64_t>(r.begin)));
      }
    }
  } catch (const Error& e) {
    throw e.with_context(s.where(-1, static_cast<int64_t>(r.begin)));
  }
  s.file_bytes += size;
  Placement* placements = host_placements(slot);
  int count = 0;
  uint32_t max_rows = 0;
  for (size_t i : r.tiles) {
    const TileJob& t = s.raw[i];
    placements[count++] = placement_for(s, t, t.offset - r.begin);
    max_rows = std::max(max_rows, static_cast<uint32_t>(t.height));
  }
  flush(s, slot, size, count, max_rows, on_device);
}

// Decodes tiles on this CPU thread into `slot` until it is full or the queues are empty; then
// copies and places them. Returns false when there was nothing left.
bool decode_batch_cpu(Shared& s, StagingSlot& slot, std::vector<TileJob>* extra = nullptr) {
  slot.wait_idle();
  const RegionSource source{s.tiles, s.slide.path.native(), s.level_index};
  Placement* placements = host_placements(slot);
  int count = 0;
  uint32_t max_rows = 0;
  size_t used = 0;
  // The slot may be larger than this read's device buffers (a pooled slot, or an nvJPEG
  // worker's): fill only what one of them takes.
  const size_t room = std::min(slot.capacity, s.twins->data_bytes());
  ReadReport tile_report;
  auto decode_one = [&](const TileJob& t) {
    ImageView tile;
    tile.data = slot.host.data() + used;
    tile.width = s.level.tile_width;
    tile.height = s.level.tile_height;
    tile.channels = s.level.channels;
    tile.dtype = s.level.dtype;
    tile.row_pitch = s.tile_row_bytes;
    tile.device = Device::cpu;
    read_full_tile(source, t.tx, t.ty, tile, s.options, &tile_report);
    placements[count++] = placement_for(s, t, used);
    max_rows = std::max(max_rows, static_cast<uint32_t>(t.height));
    used += align_up(s.tile_bytes);
    s.cpu_decoded++;
  };
  if (extra) {
    // Tiles another decoder gave back (nvJPEG refused a batch): all of them, in slot-fulls.
    for (const TileJob& t : *extra) {
      if (used + s.tile_bytes > room || count == int(kMaxPlacements)) {
        flush(s, slot, used, count, max_rows, false);
        slot.wait_idle();
        count = 0;
        used = 0;
        max_rows = 0;
      }
      decode_one(t);
    }
  } else {
    while (used + s.tile_bytes <= room && count < int(kMaxPlacements) && !s.failed) {
      size_t i = s.next_decode.fetch_add(1);
      if (i < s.decode.size()) {
        decode_one(s.decode[i]);
        continue;
      }
      if (std::optional<size_t> j = s.take_jpeg_tile()) {
        decode_one(s.jpeg[*j]);
        continue;
      }
      break;
    }
  }
  s.file_bytes += tile_report.file_bytes;
  flush(s, slot, used, count, max_rows, false);
  return count > 0;
}

void cpu_worker(Shared& s) {
  cuda::check(cudaSetDevice(s.out.cuda_device), "cudaSetDevice");
  // Two slots: one fills while the other's copy and placement run.
  SlotLease slots[2] = {io::cuda::acquire_slot(s.out.cuda_device, s.slot_bytes),
                        io::cuda::acquire_slot(s.out.cuda_device, s.slot_bytes)};
  int turn = 0;
  while (!s.failed) {
    size_t i = s.next_range.fetch_add(1);
    if (i >= s.ranges.size()) break;
    read_raw_range(s, *slots[turn], s.ranges[i]);
    turn ^= 1;
  }
  while (!s.failed) {
    if (!decode_batch_cpu(s, *slots[turn])) break;
    turn ^= 1;
  }
  slots[0]->wait_idle();
  slots[1]->wait_idle();
}

void nvjpeg_worker(Shared& s, shim::nvjpeg::BatchDecoder& decoder) {
  using codec::cuda::YccTile;
  static_assert(sizeof(YccTile) * kMaxNvjpegBatch <= StagingSlot::kDescriptorBytes);
  const int batch = nvjpeg_batch();
  cuda::check(cudaSetDevice(s.out.cuda_device), "cudaSetDevice");
  // A tile's three planes take at most as much as its RGB.
  const size_t per_tile = align_up(s.tile_bytes);
  SlotLease slot = io::cuda::acquire_slot(s.out.cuda_device, per_tile * batch);
  std::vector<std::vector<std::byte>> bytes(batch);
  std::vector<std::byte> encoded;
  auto tables = s.tiles.format().jpeg_tables;
  const uint32_t tw = static_cast<uint32_t>(s.level.tile_width);
  const uint32_t th = static_cast<uint32_t>(s.level.tile_height);
  while (!s.failed) {
    std::optional<size_t> claimed = s.take_jpeg_batch(static_cast<size_t>(batch));
    if (!claimed) break;
    const size_t first = *claimed, last = first + static_cast<size_t>(batch);
    std::vector<std::span<const std::byte>> streams;
    std::vector<shim::nvjpeg::PlanarOutput> outputs;
    std::vector<TileJob> cpu_tiles;  // absent, odd or refused tiles: the CPU path fills them
    std::vector<TileJob> gpu_tiles;
    auto* descriptors = reinterpret_cast<YccTile*>(slot->host_descriptors());
    uint32_t max_width = 0, max_height = 0;
    slot->wait_idle();
    for (size_t k = first; k < last; ++k) {
      const TileJob& t = s.jpeg[k];
      if (t.encoded.missing() || !source::within_stores(s.tiles, t.encoded) ||
          t.bytes > s.tile_bytes * 4 + (1 << 20)) {
        cpu_tiles.push_back(t);  // let the host path fill or report it
        continue;
      }
      encoded.resize(t.bytes);
      try {
        source::read_tile_bytes(s.tiles, t.encoded, encoded);
      } catch (const Error& e) {
        throw e.with_context(
            s.where(t.ty * s.level.tiles_across + t.tx, static_cast<int64_t>(t.offset)));
      }
      auto& stream_bytes = bytes[streams.size()];
      shim::nvjpeg::merge_jpeg_tables(tables, encoded, &stream_bytes);
      codec::ycc::Planes planes;
      if (!gpu_decodable(s.level, stream_bytes, &planes)) {
        cpu_tiles.push_back(t);  // the CPU path reads it again (and counts its bytes)
        continue;
      }
      std::byte* base = slot->staging.data() + per_tile * streams.size();
      const size_t y_bytes = size_t{tw} * th, c_bytes = size_t{planes.c_width} * planes.c_height;
      shim::nvjpeg::PlanarOutput output;
      output.plane[0] = base;
      output.plane[1] = base + y_bytes;
      output.plane[2] = base + y_bytes + c_bytes;
      output.pitch[0] = tw;
      output.pitch[1] = output.pitch[2] = planes.c_width;
      planes.y = reinterpret_cast<const uint8_t*>(output.plane[0]);
      planes.cb = reinterpret_cast<const uint8_t*>(output.plane[1]);
      planes.cr = reinterpret_cast<const uint8_t*>(output.plane[2]);
      planes.y_pitch = tw;
      planes.c_pitch = planes.c_width;
      YccTile& d = descriptors[streams.size()];
      d = YccTile{};
      d.planes = planes;
      d.src_x = static_cast<uint32_t>(t.src_x);
      d.src_y = static_cast<uint32_t>(t.src_y);
      d.width = static_cast<uint32_t>(t.width);
      d.height = static_cast<uint32_t>(t.height);
      d.dst = s.out.data + static_cast<size_t>(t.dst_y) * s.out.row_pitch +
              static_cast<size_t>(t.dst_x) * s.pixel;
      d.dst_pitch = s.out.row_pitch;
      max_width = std::max(max_width, d.width);
      max_height = std::max(max_height, d.height);
      streams.emplace_back(stream_bytes.data(), stream_bytes.size());
      outputs.push_back(output);
      gpu_tiles.push_back(t);
    }
    bool decoded = false;
    if (!streams.empty()) {
      try {
        decoder.decode(streams, outputs, slot->stream.get());
        cuda::check(cudaMemcpyAsync(slot->device_descriptors(), descriptors,
                                    sizeof(YccTile) * streams.size(), cudaMemcpyHostToDevice,
                                    slot->stream.get()),
                    "cudaMemcpyAsync (tile descriptors)");
        codec::cuda::ycc_to_rgb(reinterpret_cast<const YccTile*>(slot->device_descriptors()),
                                static_cast<int>(streams.size()), max_width, max_height,
                                slot->stream.get());
        // The batch's input bytes and descriptors are reused next round: wait for the GPU.
        slot->stream.synchronize();
        decoded = true;
        s.nv_decoded += static_cast<int64_t>(streams.size());
        for (const TileJob& t : gpu_tiles) s.file_bytes += t.bytes;
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::out_of_memory) throw;
        (void)cudaStreamSynchronize(slot->stream.get());
        (void)cudaGetLastError();
      }
    }
    if (!decoded) {
      // nvJPEG refused the batch: the CPU decodes (and reports) those tiles too.
      cpu_tiles.insert(cpu_tiles.end(), gpu_tiles.begin(), gpu_tiles.end());
    }
    if (!cpu_tiles.empty()) {
      decode_batch_cpu(s, *slot, &cpu_tiles);
      slot->wait_idle();
    }
  }
  slot->wait_idle();
}

bool is_plain_raw(const source::LevelSource& tiles) {
  const Level& l = tiles.layout();
  const codec::TileFormat& f = tiles.format();
  return !tiles.crops() && l.compression == Compression::none && l.planar_configuration == 1 &&
         l.predictor == 1 && (l.photometric == 1 || l.photometric == 2) &&
         f.samples_per_pixel == l.channels && l.bits_per_sample == 8 * size_of(l.dtype) &&
         (!f.big_endian || size_of(l.dtype) == 1);
}

// The cuFile decision, made once per call: the handle, or nothing with *note saying why not.
// Without nvidia-fs registration fails for every file, so the first failure is remembered and
// `automatic` stops asking (each attempt costs milliseconds).
std::optional<shim::cufile::FileHandle> choose_cufile(const io::File& file, IoBackend backend,
                                                      std::string* note) {
  if (backend == IoBackend::posix) return std::nullopt;
  if (backend == IoBackend::automatic && !shim::cufile::nvidia_fs_present()) {
    // Without nvidia-fs, registration fails (or cuFile would run its own POSIX path), and only
    // opening cuFile's driver to find that out took about 390 MiB of GPU memory for the rest of
    // the process on the lent H100 (bench/uc1: io=auto 520 MiB beyond the output, posix 133).
    *note = "cufile unavailable: nvidia-fs kernel module absent";
    return std::nullopt;
  }
  static std::mutex mutex;
  static std::string remembered;  // why registration cannot work on this machine
  std::string why;
  {
    std::lock_guard lock(mutex);
    why = remembered;
  }
  if (why.empty()) {
    shim::cufile::FileHandle handle = shim::cufile::FileHandle::try_register(file.fd(), &why);
    if (handle) return std::optional<shim::cufile::FileHandle>(std::move(handle));
    if (!shim::cufile::availability().nvidia_fs) {
      std::lock_guard lock(mutex);
      remembered = why;
    }
  }
  if (backend == IoBackend::cufile) {
    throw Error(ErrorKind::cufile, "cuFile was requested but cannot read this file: " + why,
                {file.path().string()});
  }
  *note = "cufile unavailable: " + why;
  return std::nullopt;
}

// The region clipped to the level: [x0, x1) × [y0, y1) in level coordinates.
struct RegionClip {
  int64_t x = 0, y = 0, width = 0, height = 0;  // as asked
  int64_t x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  RegionClip(const Level& l, int64_t x_, int64_t y_, int64_t width_, int64_t height_)
      : x(x_),
        y(y_),
        width(width_),
        height(height_),
        x0(std::clamp<int64_t>(x_, 0, l.width)),
        x1(std::clamp<int64_t>(x_ + width_, 0, l.width)),
        y0(std::clamp<int64_t>(y_, 0, l.height)),
        y1(std::clamp<int64_t>(y_ + height_, 0, l.height)) {}
  bool any_tile() const { return x0 < x1 && y0 < y1; }
  bool inside() const { return x0 == x && y0 == y && x1 == x + width && y1 == y + height; }
};

// Out-of-level pixels: the whole view is filled first (the GPU sets memory at ~TB/s), then the
// tiles overwrite their part. The workers' streams are not ordered after this one: wait here.
void fill_view_on_gpu(const ImageView& out, DataType dtype, uint8_t fill) {
  // The fill value itself in the sample type (255 stays 255 in uint16; 7 is 7.0f in float32),
  // as the host path writes it.
  std::byte sample[4] = {};
  const size_t sample_bytes = size_of(dtype);
  if (dtype == DataType::uint8) {
    sample[0] = std::byte{fill};
  } else if (dtype == DataType::uint16) {
    uint16_t v = fill;
    std::memcpy(sample, &v, 2);
  } else if (dtype == DataType::uint32) {
    uint32_t v = fill;
    std::memcpy(sample, &v, 4);
  } else {
    float v = fill;
    std::memcpy(sample, &v, 4);
  }
  cuda::Stream fill_stream;
  if (sample_bytes == 1) {
    cuda::check(cudaMemset2DAsync(out.data, out.row_pitch, fill, out.row_bytes(),
                                  static_cast<size_t>(out.height), fill_stream.get()),
                "cudaMemset2DAsync (fill)");
  } else {
    read::fill_samples(out.data, out.row_pitch, out.row_bytes(), static_cast<size_t>(out.height),
                       sample, sample_bytes, fill_stream.get());
  }
  fill_stream.synchronize();
}

// Which decoder takes the region's tiles besides the CPU threads.
struct DecoderChoice {
  bool raw = false;                                  // coalesced raw ranges
  bool use_nvjpeg = false;                           // nvJPEG's hardware engines
  std::optional<gpu_codecs::LevelDecode> gpu_codec;  // nvCOMP / nvJPEG2000
};

void choose_decoders(const Shared& s, const RegionClip& r, DecoderChoice& d) {
  const source::LevelSource& tiles = s.tiles;
  // Coalesced raw ranges need the level in one file; other sources' raw tiles are read one by
  // one through the host path.
  d.raw = is_plain_raw(tiles) && s.file != nullptr;
  // nvJPEG is loaded (and its backends probed, which takes a while) only for levels it can take.
  // Scaled JPEG decoding (NDPI's derived levels) is libjpeg's IDCT scaling: CPU threads only.
  static const shim::nvjpeg::Availability no_nvjpeg{};
  const bool nvjpeg_level = nvjpeg_can_take(s.level) && tiles.format().jpeg_scale_denom == 1;
  const auto& nv = s.options.gpu_jpeg && nvjpeg_level ? shim::nvjpeg::availability() : no_nvjpeg;
  d.use_nvjpeg = nv.loaded && nv.hardware_backend;
  // Deflate, zstd and JPEG 2000 levels: nvCOMP / nvJPEG2000 where they cover the level.
  if (!d.raw && !d.use_nvjpeg && r.any_tile()) {
    if (auto engine = gpu_codecs::choose(tiles, s.options); engine != gpu_codecs::Engine::none) {
      d.gpu_codec.emplace(engine, tiles, s.slide.path.native(), s.level_index, s.out, s.options,
                          s.options.threads > 0 ? s.options.threads : hardware_threads());
    }
  }
}

// Every tile the region touches, to the queue of the decoder that takes it.
void plan_tiles(Shared& s, const RegionClip& r, DecoderChoice& d) {
  if (!r.any_tile()) return;
  const source::LevelSource& tiles = s.tiles;
  const int64_t tw = s.level.tile_width, th = s.level.tile_height;
  for (int64_t ty = r.y0 / th; ty <= (r.y1 - 1) / th; ++ty) {
    for (int64_t tx = r.x0 / tw; tx <= (r.x1 - 1) / tw; ++tx) {
      TileJob t;
      t.tx = tx;
      t.ty = ty;
      // Planar levels have several stored tiles per tile: the host path reads them.
      if (tiles.planes() == 1) {
        t.encoded = tiles.tile(tx, ty);
        t.offset = t.encoded.where();
        t.bytes = t.encoded.size();
      }
      const int64_t ax0 = std::max(tx * tw, r.x0), ax1 = std::min(tx * tw + tw, r.x1);
      const int64_t ay0 = std::max(ty * th, r.y0), ay1 = std::min(ty * th + th, r.y1);
      t.src_x = ax0 - tx * tw;
      t.src_y = ay0 - ty * th;
      t.dst_x = ax0 - r.x;
      t.dst_y = ay0 - r.y;
      t.width = ax1 - ax0;
      t.height = ay1 - ay0;
      t.whole = t.src_x == 0 && t.src_y == 0 && t.width == tw && t.height == th;
      const bool raw_ok = d.raw && t.encoded.single() && t.bytes >= s.tile_bytes &&
                          t.offset <= s.file_size && s.tile_bytes <= s.file_size - t.offset;
      if (raw_ok) {
        s.raw.push_back(t);
      } else if (d.use_nvjpeg && t.bytes > 0) {
        s.jpeg.push_back(t);
      } else if (d.gpu_codec && t.bytes > 0) {
        d.gpu_codec->add({t.tx, t.ty, t.encoded, t.offset, t.bytes, t.src_x, t.src_y, t.dst_x,
                          t.dst_y, t.width, t.height});
      } else {
        s.decode.push_back(t);  // absent, damaged or other codecs: the host path decides
      }
    }
  }
  s.jpeg_back = s.jpeg.size();
}

// The descriptors the raw ranges are read through, held for the read.
struct RangeIo {
  std::optional<shim::cufile::FileHandle> cufile;
  io::File direct;
  const std::byte* mapped = nullptr;
  size_t mapped_size = 0;
  std::string note;  // why `automatic` did not take cuFile
  RangeIo() = default;
  RangeIo(const RangeIo&) = delete;
  RangeIo& operator=(const RangeIo&) = delete;
  ~RangeIo() {
    if (mapped) ::munmap(const_cast<std::byte*>(mapped), mapped_size);
  }
};

void open_range_io(Shared& s, RangeIo& io) {
  const IoBackend backend = s.options.io;
  if (!s.raw.empty()) {
    io.cufile = choose_cufile(*s.file, backend, &io.note);
    if (io.cufile) {
      s.cufile = &*io.cufile;
      return;
    }
    io.direct = io::File::open_direct_or_empty(s.file->path(), io::File::Mode::read);
    if (io.direct.is_open()) s.direct = &io.direct;
    void* m = ::mmap(nullptr, s.file_size, PROT_READ, MAP_SHARED, s.file->fd(), 0);
    if (m != MAP_FAILED) {
      io.mapped = static_cast<const std::byte*>(m);
      io.mapped_size = static_cast<size_t>(s.file_size);
    }
    s.mapped = io.mapped;
  } else if (backend == IoBackend::cufile) {
    // Compressed tiles go through the CPU or nvJPEG; still honour an explicit request's check.
    if (s.file == nullptr) {
      throw Error(ErrorKind::cufile, "cuFile was requested but the level is not in one file",
                  s.where());
    }
    io.cufile = choose_cufile(*s.file, backend, &io.note);
  }
}

// Coalesces the uncompressed tiles into ranges in file order; returns the range size used.
// From the page cache, many ranges keep every thread busy; from the disk, fewer and larger
// direct reads come closer to its limit (bench/uc1_sweep.py, H100, 2026-11-25: cold level in
// 0.98 s with 32 MiB ranges, 1.05 s with 8 MiB; the 4 × 64 MiB pread limit 0.97 s).
size_t plan_raw_ranges(Shared& s) {
  size_t default_task = kDefaultTaskBytes;
  if (!s.raw.empty() && s.direct != nullptr) {
    uint64_t begin = UINT64_MAX, end = 0;
    for (const TileJob& t : s.raw) {
      begin = std::min(begin, t.offset);
      end = std::max(end, t.offset + s.tile_bytes);
    }
    begin = begin / kPage * kPage;
    end = std::min<uint64_t>(align_up(end), align_up(s.file_size));
    if (begin < end && mostly_uncached(s, begin, end)) default_task = kColdTaskBytes;
  }
  const size_t task_bytes =
      std::max<size_t>(s.options.task_bytes ? s.options.task_bytes : default_task,
                       align_up(s.tile_bytes) + 2 * kPage);
  if (!s.raw.empty()) {
    std::vector<uint64_t> offsets(s.raw.size());
    for (size_t i = 0; i < s.raw.size(); ++i) offsets[i] = s.raw[i].offset;
    RangePlanLimits limits{
        .page = kPage, .task_bytes = task_bytes, .max_gap = kMaxGap, .max_tiles = kMaxPlacements};
    for (PlannedRange& p : plan_ranges(offsets, s.tile_bytes, limits)) {
      s.ranges.push_back(RawRange{p.begin, p.end, std::move(p.tiles)});
    }
  }
  return task_bytes;
}

// The CPU workers this read gets, with each one's staging sized to this read, not to the
// largest possible one: a pipeline reading small regions from many threads must not hold
// task-sized pinned and device buffers for each.
int size_cpu_workers(Shared& s, size_t task_bytes) {
  const int threads = s.options.threads > 0 ? s.options.threads : hardware_threads();
  const size_t cpu_work = s.ranges.size() + s.decode.size() + s.jpeg.size();
  const int cpu_workers =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), cpu_work));
  for (const RawRange& r : s.ranges) s.slot_bytes = std::max<size_t>(s.slot_bytes, r.end - r.begin);
  if (const size_t decoded = s.decode.size() + s.jpeg.size(); decoded > 0 && cpu_workers > 0) {
    const size_t per_worker = (decoded + cpu_workers - 1) / static_cast<size_t>(cpu_workers);
    s.slot_bytes = std::max<size_t>(
        s.slot_bytes, std::min<size_t>(task_bytes, per_worker * align_up(s.tile_bytes)));
  }
  // Also what nvJPEG's workers need when they hand a batch back to be decoded on the CPU.
  s.slot_bytes = std::max<size_t>(s.slot_bytes, align_up(s.tile_bytes));
  const size_t budget = static_cast<size_t>(settings().read_device_staging_mib) << 20;
  s.twins.emplace(s.slot_bytes, StagingSlot::kDescriptorBytes, budget,
                  2 * static_cast<size_t>(std::max(cpu_workers, 1)));
  return cpu_workers;
}

// nvJPEG decoders lent by the process-wide pool for one read (making them costs far more than a
// read), given back when the lease ends.
struct NvjpegLease {
  std::vector<std::unique_ptr<shim::nvjpeg::BatchDecoder>> decoders;
  int device = 0;
  NvjpegLease(Shared& s, int device_, bool wait) : device(device_) {
    if (s.jpeg.size() < static_cast<size_t>(nvjpeg_batch())) return;
    decoders = shim::nvjpeg::DecoderPool::instance().acquire(
        device,
        static_cast<int>(std::min<size_t>(nvjpeg_workers(), s.jpeg.size() / nvjpeg_batch())), wait);
    if (!decoders.empty()) s.nv_name = decoders.front()->name();
  }
  NvjpegLease(const NvjpegLease&) = delete;
  NvjpegLease& operator=(const NvjpegLease&) = delete;
  ~NvjpegLease() {
    for (auto& d : decoders) shim::nvjpeg::DecoderPool::instance().release(device, std::move(d));
  }
};

// Runs every worker (nvJPEG feeders, GPU codec workers, CPU workers; the calling thread is one
// of the CPU workers) until the queues are empty or one fails; rethrows the first failure.
// Every worker waits for its own streams before ending (leases wait too when unwinding), so no
// GPU work of this read is in flight afterwards, failed or not.
void run_workers(Shared& s, NvjpegLease& nvjpeg, std::optional<gpu_codecs::LevelDecode>& gpu_codec,
                 int cpu_workers) {
  {
    std::vector<std::jthread> workers;
    auto guarded = [&s](auto&& body) {
      return [&s, body] {
        try {
          body();
        } catch (...) {
          s.record(std::current_exception());
        }
      };
    };
    for (auto& d : nvjpeg.decoders) {
      shim::nvjpeg::BatchDecoder* decoder = d.get();
      workers.emplace_back(guarded([&s, decoder] { nvjpeg_worker(s, *decoder); }));
    }
    for (int i = 0; gpu_codec && i < gpu_codec->workers(); ++i) {
      workers.emplace_back(guarded([&s, &gpu_codec, i] { gpu_codec->work(i, s.failed); }));
    }
    for (int i = 1; i < cpu_workers; ++i) workers.emplace_back(guarded([&s] { cpu_worker(s); }));
    if (cpu_workers > 0) guarded([&s] { cpu_worker(s); })();
  }
  if (s.error) std::rethrow_exception(s.error);
  if (gpu_codec) {
    s.file_bytes += gpu_codec->file_bytes();
    s.cpu_decoded += gpu_codec->cpu_tiles();
  }
}

void write_report(const Shared& s, const std::optional<gpu_codecs::LevelDecode>& gpu_codec,
                  const std::string& io_note, ReadReport& report) {
  report.file_bytes += s.file_bytes.load();
  report.pixel_bytes += s.out.tight_bytes();
  std::string io;
  if (!s.ranges.empty()) {
    io = s.cufile ? "cufile" : "posix+pinned";
    if (s.direct_bytes > 0) io += " (O_DIRECT for uncached ranges)";
  } else {
    io = "posix";
  }
  report.io_path = io;
  report.io_note = io_note;
  std::string decoder;
  auto add = [&decoder](const std::string& part) {
    decoder += (decoder.empty() ? "" : "+") + part;
  };
  if (!s.ranges.empty()) add("none");
  if (s.nv_decoded > 0) add(s.nv_name);
  if (gpu_codec && gpu_codec->gpu_tiles() > 0) add(gpu_codec->gpu_name());
  if (s.cpu_decoded > 0) {
    const Compression c = s.level.compression;
    add(c == Compression::jpeg ? "libjpeg-turbo" : "cpu-" + to_string(c));
  }
  report.decoder = decoder.empty() ? "none" : decoder;
}

}  // namespace

// The read: check, fill what lies outside the level, give each tile to a decoder, open the
// descriptors the raw ranges need, plan the ranges, run the workers, report.
void read_region_gpu(const Slide::Impl& slide, int level, int64_t x, int64_t y, int64_t width,
                     int64_t height, const ImageView& out, const ReadOptions& options,
                     ReadReport* report) {
  if (level < 0 || level >= static_cast<int>(slide.levels.size())) {
    throw Error(ErrorKind::invalid_argument, "no level " + std::to_string(level),
                {slide.path.string()});
  }
  const source::LevelSource& tiles = slide.level_source(level);
  const Level& l = tiles.layout();
  if (width < 0 || height < 0) {
    throw Error(ErrorKind::invalid_argument, "negative region size", {slide.path.string(), level});
  }
  check_gpu_output(slide, l, level, width, height, out);
  if (width == 0 || height == 0) return;
  if (l.tile_width == 0 || l.tile_height == 0) {
    throw Error(ErrorKind::format, "level has no tile size", {slide.path.string(), level});
  }
  require_device(DeviceSpec{Device::cuda, out.cuda_device});  // the clear error for cuda:N
  int previous_device = 0;
  cuda::check(cudaGetDevice(&previous_device), "cudaGetDevice");
  cuda::check(cudaSetDevice(out.cuda_device), "cudaSetDevice");
  struct RestoreDevice {
    int device;
    ~RestoreDevice() { (void)cudaSetDevice(device); }
  } restore{previous_device};

  Shared s(slide, tiles, level, out.crop(0, 0, width, height), options);
  s.file = tiles.single_file();
  s.file_size = s.file ? tiles.store(0).size() : 0;
  s.pixel = out.pixel_bytes();
  s.tile_row_bytes = static_cast<size_t>(l.tile_width) * s.pixel;
  s.tile_bytes = s.tile_row_bytes * l.tile_height;

  const RegionClip region(l, x, y, width, height);
  if (!region.inside()) fill_view_on_gpu(s.out, l.dtype, options.fill);
  DecoderChoice decoders;
  choose_decoders(s, region, decoders);
  plan_tiles(s, region, decoders);
  RangeIo io;
  open_range_io(s, io);
  const size_t task_bytes = plan_raw_ranges(s);
  const int cpu_workers = size_cpu_workers(s, task_bytes);
  NvjpegLease nvjpeg(s, out.cuda_device, options.gpu_jpeg_wait);
  run_workers(s, nvjpeg, decoders.gpu_codec, cpu_workers);
  if (report) write_report(s, decoders.gpu_codec, io.note, *report);
}

}  // namespace slidestream::read
