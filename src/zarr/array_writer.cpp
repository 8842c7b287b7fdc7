// ArrayWriter: encodes chunks (or shards) on a thread pool and lands each as one file; metadata
// last. GPU sources are staged unit by unit through pinned buffers (zarr/device_staging.hpp).
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "core/crc32c.hpp"
#include "core/thread_pool.hpp"
#include "io/file.hpp"
#include "slidestream/error.hpp"
#include "slidestream/settings.hpp"
#include "slidestream/zarr.hpp"
#include "zarr/chunk_codec.hpp"
#include "zarr/chunk_file.hpp"
#include "zarr/device_staging.hpp"
#include "zarr/layout.hpp"
#include "zarr/parallel.hpp"
#include "zarr/write_path.hpp"
#include "zarr/writer_impl.hpp"

namespace slidestream::zarr {
namespace {

using detail::AlignedBuffer;
using detail::Layout;

// Staging memory (host, pinned or device) held by the units in flight of one write_region:
// Settings::zarr_staging_mib.

// Encodes one unit (chunk, or shard of inner chunks) whose pixels inside the array are `region`
// (host, interleaved) into `out`; returns the encoded size. Compressed inner chunks of a shard are
// encoded in parallel on `pool` (nested inside the per-shard task: a band of a few wide shards
// would otherwise leave most threads idle).
size_t encode_unit(const Layout& l, const ImageView& region, int64_t uy, int64_t ux,
                   AlignedBuffer& out, ThreadPool* pool, int parallelism) {
  thread_local AlignedBuffer raw;
  const bool plain = l.encoding.compressor == detail::Compressor::none && !l.encoding.crc32c;
  if (!l.sharded) {
    if (plain) {
      out.reserve(l.chunk_bytes());
      detail::pack_chunk(region, l, out.data());
      return l.chunk_bytes();
    }
    raw.reserve(l.chunk_bytes());
    detail::pack_chunk(region, l, raw.data());
    out.reserve(detail::encoded_bound(l, l.chunk_bytes()));
    return detail::encode_bytes(l, std::span(raw.data(), l.chunk_bytes()), out.data());
  }
  // A shard: inner chunks in C order, then the index of (offset, nbytes) pairs and its crc32c.
  const int64_t n_down = l.inner_down(), n_across = l.inner_across();
  const size_t n = static_cast<size_t>(n_down * n_across);
  std::vector<uint64_t> index(2 * n, ~uint64_t{0});  // 2^64-1: chunk absent
  // Inner chunks inside the array (edge shards hold fewer).
  const int64_t rows = std::min(n_down, (l.height - uy * l.unit_h + l.chunk_h - 1) / l.chunk_h);
  const int64_t cols = std::min(n_across, (l.width - ux * l.unit_w + l.chunk_w - 1) / l.chunk_w);
  auto inner_view = [&](int64_t iy, int64_t ix) {
    const int64_t y0 = uy * l.unit_h + iy * l.chunk_h, x0 = ux * l.unit_w + ix * l.chunk_w;
    return region.crop(x0 - ux * l.unit_w, y0 - uy * l.unit_h, std::min(l.chunk_w, l.width - x0),
                       std::min(l.chunk_h, l.height - y0));
  };
  size_t pos = 0;
  if (plain) {
    out.reserve(n * l.chunk_bytes() + l.index_bytes());
    for (int64_t iy = 0; iy < rows; ++iy) {
      for (int64_t ix = 0; ix < cols; ++ix) {
        detail::pack_chunk(inner_view(iy, ix), l, out.data() + pos);
        const size_t k = static_cast<size_t>(iy * n_across + ix);
        index[2 * k] = pos;
        index[2 * k + 1] = l.chunk_bytes();
        pos += l.chunk_bytes();
      }
    }
  } else {
    const size_t present = static_cast<size_t>(rows * cols);
    std::vector<std::vector<std::byte>> pieces(present);
    auto encode_one = [&](size_t i) {
      thread_local AlignedBuffer scratch;
      scratch.reserve(l.chunk_bytes());
      detail::pack_chunk(inner_view(static_cast<int64_t>(i) / cols, static_cast<int64_t>(i) % cols),
                         l, scratch.data());
      auto& piece = pieces[i];
      piece.resize(detail::encoded_bound(l, l.chunk_bytes()));
      piece.resize(
          detail::encode_bytes(l, std::span(scratch.data(), l.chunk_bytes()), piece.data()));
    };
    detail::run_parallel(pool, present, parallelism, encode_one);
    size_t total = 0;
    for (const auto& piece : pieces) total += piece.size();
    out.reserve(total + l.index_bytes());
    for (size_t i = 0; i < present; ++i) {
      const size_t k = static_cast<size_t>((static_cast<int64_t>(i) / cols) * n_across +
                                           static_cast<int64_t>(i) % cols);
      std::memcpy(out.data() + pos, pieces[i].data(), pieces[i].size());
      index[2 * k] = pos;
      index[2 * k + 1] = pieces[i].size();
      pos += pieces[i].size();
    }
  }
  std::memcpy(out.data() + pos, index.data(), 16 * n);  // little-endian hosts
  if (l.index_crc32c) {
    uint32_t crc = crc32c(std::span<const std::byte>(out.data() + pos, 16 * n));
    std::memcpy(out.data() + pos + 16 * n, &crc, 4);
  }
  return pos + l.index_bytes();
}

Error with_file(const Error& e, const std::filesystem::path& path) {
  return e.with_context({.file = path.string()});
}

// Pieces in which a large GPU unit goes to disk: each is written as soon as its bytes landed in
// staging, so the disk starts on a unit while the rest of it is still crossing PCIe. Without it a
// wave of workers first copies whole shards (tens of MiB each) before any byte is written, and
// the disk idles for the length of that copy at the start and again between waves.
constexpr size_t kPieceBytes = size_t{8} << 20;

// Lays out a plain unit (uncompressed, interleaved) of GPU pixels in a staging buffer through
// `ops`, queued, not waited for: a chunk padded with the fill value, or a shard's inner chunks in
// C order followed by its index and the index's crc32c (kept in `index_bytes`, which must outlive
// the copies). Calls ops.mark(end) where a piece of about kPieceBytes ending on a 4 KiB boundary
// is queued. Returns the unit's size in bytes. Ops: fill(offset, bytes), copy(view, offset,
// pitch), put(host bytes, size, offset), mark(end).
template <typename Ops>
size_t assemble_plain_unit(const Layout& l, const ImageView& region, int64_t uy, int64_t ux,
                           Ops& ops, std::vector<std::byte>& index_bytes) {
  if (!l.sharded) {
    if (region.height < l.unit_h || region.width < l.unit_w) ops.fill(0, l.unit_bytes());
    const size_t pitch = static_cast<size_t>(l.unit_w) * l.pixel_bytes();
    // Bands of rows whose byte size is a multiple of 4 KiB.
    const size_t step = 4096 / std::gcd(pitch, size_t{4096});
    const int64_t band = static_cast<int64_t>(std::max(step, kPieceBytes / pitch / step * step));
    for (int64_t r0 = 0; r0 < region.height; r0 += band) {
      const int64_t r1 = std::min(region.height, r0 + band);
      ops.copy(region.crop(0, r0, region.width, r1 - r0), static_cast<size_t>(r0) * pitch, pitch);
      if (r1 < region.height) ops.mark(static_cast<size_t>(r1) * pitch);
    }
    return l.unit_bytes();
  }
  const int64_t n_down = l.inner_down(), n_across = l.inner_across();
  const size_t n = static_cast<size_t>(n_down * n_across);
  const size_t chunk_pitch = static_cast<size_t>(l.chunk_w) * l.pixel_bytes();
  std::vector<uint64_t> index(2 * n, ~uint64_t{0});  // 2^64-1: chunk absent
  size_t pos = 0, marked = 0;
  for (int64_t iy = 0; iy < n_down; ++iy) {
    const int64_t y0 = uy * l.unit_h + iy * l.chunk_h;
    if (y0 >= l.height) break;
    for (int64_t ix = 0; ix < n_across; ++ix) {
      const int64_t x0 = ux * l.unit_w + ix * l.chunk_w;
      if (x0 >= l.width) break;
      ImageView sub =
          region.crop(x0 - ux * l.unit_w, y0 - uy * l.unit_h, std::min(l.chunk_w, l.width - x0),
                      std::min(l.chunk_h, l.height - y0));
      if (sub.height < l.chunk_h || sub.width < l.chunk_w) ops.fill(pos, l.chunk_bytes());
      ops.copy(sub, pos, chunk_pitch);
      const size_t k = static_cast<size_t>(iy * n_across + ix);
      index[2 * k] = pos;
      index[2 * k + 1] = l.chunk_bytes();
      pos += l.chunk_bytes();
      if (pos - marked >= kPieceBytes && pos % 4096 == 0) {
        ops.mark(pos);
        marked = pos;
      }
    }
  }
  index_bytes.resize(l.index_bytes());
  std::memcpy(index_bytes.data(), index.data(), 16 * n);  // little-endian hosts
  if (l.index_crc32c) {
    uint32_t crc = crc32c(std::span<const std::byte>(index_bytes.data(), 16 * n));
    std::memcpy(index_bytes.data() + 16 * n, &crc, 4);
  }
  ops.put(index_bytes.data(), index_bytes.size(), pos);
  return pos + index_bytes.size();
}

// Assembly in a pinned slot: padding and index written by the CPU, pixels by async copies; each
// mark records an event, so that the piece before it can be written once that event completed.
struct PinnedOps {
  device::StagingSlot& slot;
  const Layout& layout;
  std::vector<size_t> ends;
  std::vector<int> markers;
  void fill(size_t offset, size_t bytes) {
    detail::fill_samples(slot.data() + offset, bytes, layout);
  }
  void copy(const ImageView& v, size_t offset, size_t pitch) { slot.copy_async(v, offset, pitch); }
  void put(const std::byte* p, size_t bytes, size_t offset) {
    std::memcpy(slot.data() + offset, p, bytes);
  }
  void mark(size_t end) {
    ends.push_back(end);
    markers.push_back(slot.record());
  }
};

// Assembly in device memory: everything through the stage's stream, in order; cuFile writes the
// unit in one call once all of it is there, so marks are not needed.
struct DeviceOps {
  device::DeviceStage& stage;
  const AlignedBuffer& fill_chunk;  // at least one chunk (a whole unit unsharded) of fill samples
  void fill(size_t offset, size_t bytes) { stage.upload_async(fill_chunk.data(), bytes, offset); }
  void copy(const ImageView& v, size_t offset, size_t pitch) { stage.copy_async(v, offset, pitch); }
  void put(const std::byte* p, size_t bytes, size_t offset) {
    stage.upload_async(p, bytes, offset);
  }
  void mark(size_t) {}
};

// Holds one of the writer's encoder places for a scope.
class EncoderTurn {
 public:
  explicit EncoderTurn(std::counting_semaphore<>& s) : s_(s) { s_.acquire(); }
  ~EncoderTurn() { s_.release(); }
  EncoderTurn(const EncoderTurn&) = delete;
  EncoderTurn& operator=(const EncoderTurn&) = delete;

 private:
  std::counting_semaphore<>& s_;
};

// Units written at once: every unit in flight holds a staging buffer (host, pinned or device) of
// its size, within the staging budget (Settings::zarr_staging_mib).
size_t in_flight_limit(const Layout& l, int threads, int io_depth) {
  const size_t unit_bytes = l.unit_bytes() + (l.sharded ? l.index_bytes() : 0);
  const size_t budget = static_cast<size_t>(settings().zarr_staging_mib) << 20;
  const size_t by_budget = std::max<size_t>(2, budget / std::max<size_t>(unit_bytes, 1));
  return std::min<size_t>(static_cast<size_t>(std::max(threads, io_depth)), by_budget);
}

// The nearest existing directory at or above `path`: where a cuFile probe can run before the
// output exists.
std::filesystem::path existing_ancestor(const std::filesystem::path& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  if (ec) return ".";
  while (!p.empty() && !std::filesystem::is_directory(p, ec)) {
    if (p == p.parent_path()) break;
    p = p.parent_path();
  }
  return p;
}

}  // namespace

AlignedBuffer ArrayWriter::Impl::take_buffer() {
  std::lock_guard lock(buffers_mutex);
  if (buffers.empty()) return AlignedBuffer();
  AlignedBuffer b = std::move(buffers.back());
  buffers.pop_back();
  return b;
}

void ArrayWriter::Impl::give_buffer(AlignedBuffer buffer) {
  std::lock_guard lock(buffers_mutex);
  buffers.push_back(std::move(buffer));
}

std::unique_ptr<device::StagingSlot> ArrayWriter::Impl::take_slot(int cuda_device) {
  {
    std::lock_guard lock(slots_mutex);
    auto& idle = slots[cuda_device];
    if (!idle.empty()) {
      auto s = std::move(idle.back());
      idle.pop_back();
      return s;
    }
  }
  // Room for a whole shard file (inner chunks plus index) or one chunk.
  return device::make_staging_slot(
      layout.unit_bytes() + (layout.sharded ? layout.index_bytes() : 0), cuda_device);
}

void ArrayWriter::Impl::give_slot(int cuda_device, std::unique_ptr<device::StagingSlot> slot) {
  std::lock_guard lock(slots_mutex);
  slots[cuda_device].push_back(std::move(slot));
}

std::unique_ptr<device::DeviceStage> ArrayWriter::Impl::take_stage(int cuda_device) {
  {
    std::lock_guard lock(stages_mutex);
    auto& idle = stages[cuda_device];
    if (!idle.empty()) {
      auto s = std::move(idle.back());
      idle.pop_back();
      return s;
    }
  }
  return device::make_device_stage(
      layout.unit_bytes() + (layout.sharded ? layout.index_bytes() : 0), cuda_device);
}

void ArrayWriter::Impl::give_stage(int cuda_device, std::unique_ptr<device::DeviceStage> stage) {
  std::lock_guard lock(stages_mutex);
  stages[cuda_device].push_back(std::move(stage));
}

void ArrayWriter::Impl::note(const std::string& text) {
  std::lock_guard lock(path_mutex);
  if (io_note.find(text) == std::string::npos) io_note += (io_note.empty() ? "" : "; ") + text;
}

void ArrayWriter::Impl::choose_gpu_path() {
  std::lock_guard lock(path_mutex);
  if (path_chosen) return;
  const bool layout_ok = detail::cufile_can_write(layout);
  const bool compat_only = device::cufile_compat_mode();
  std::string problem;
  if (detail::cufile_problem_needed(options.io, layout_ok, compat_only)) {
    problem = device::cufile_write_problem(path);
  }
  detail::WritePathChoice choice =
      detail::choose_write_path(options.io, layout_ok, problem, compat_only, path);
  use_cufile = choice.cufile;
  if (!choice.note.empty()) io_note += (io_note.empty() ? "" : "; ") + choice.note;
  if (use_cufile) {
    fill_chunk.reserve(layout.chunk_bytes());
    detail::fill_samples(fill_chunk.data(), layout.chunk_bytes(), layout);
  }
  path_chosen = true;
}

void ArrayWriter::Impl::write_unit_from_host(const ImageView& region, int64_t uy, int64_t ux) {
  AlignedBuffer buffer = take_buffer();
  size_t size = 0;
  {
    EncoderTurn turn(*encoders);
    size = encode_unit(layout, region, uy, ux, buffer, pool.get(), threads);
  }
  detail::write_chunk_file(path / layout.unit_key(uy, ux), buffer.data(), size, file_options,
                           stats);
  give_buffer(std::move(buffer));
}

bool ArrayWriter::Impl::write_unit_with_cufile(const ImageView& region, int64_t uy, int64_t ux) {
  auto stage = take_stage(region.cuda_device);
  DeviceOps ops{*stage, fill_chunk};
  std::vector<std::byte> index_bytes;
  const size_t size = assemble_plain_unit(layout, region, uy, ux, ops, index_bytes);
  stage->wait();
  std::string why;
  const auto file = path / layout.unit_key(uy, ux);
  const bool landed = detail::write_chunk_file_by(
      file, size, stats, [&](const io::File& f) { return stage->write_file(f.fd(), size, &why); });
  give_stage(region.cuda_device, std::move(stage));
  if (landed) {
    stats.cufile_files.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  // The probe registered a file here, this one did not: `cufile` keeps its promise or fails.
  if (options.io == IoBackend::cufile) {
    throw Error(ErrorKind::cufile, "cuFile cannot register this chunk file: " + why,
                {.file = file.string()});
  }
  note("cufile could not register some chunk files (" + why + "), those went through posix");
  return false;
}

void ArrayWriter::Impl::write_unit_through_pinned(const ImageView& region, int64_t uy, int64_t ux) {
  const auto file = path / layout.unit_key(uy, ux);
  auto slot = take_slot(region.cuda_device);
  if (detail::cufile_can_write(layout)) {
    // The unit's bytes are the pixels: copied from the GPU straight to their place in the file's
    // bytes, no CPU pass over them.
    PinnedOps ops{*slot, layout, {}, {}};
    std::vector<std::byte> index_bytes;
    const size_t size = assemble_plain_unit(layout, region, uy, ux, ops, index_bytes);
    ops.ends.push_back(size);  // the last piece: everything queued
    detail::write_chunk_file_in_pieces(
        file, slot->data(), size, ops.ends,
        [&](size_t piece) {
          if (piece < ops.markers.size()) {
            slot->wait_for(ops.markers[piece]);
          } else {
            slot->wait();
          }
        },
        file_options, stats);
    give_slot(region.cuda_device, std::move(slot));
    return;
  }
  // Compressed or planar: the unit's pixels land interleaved in the slot, then are encoded.
  const size_t pitch = static_cast<size_t>(layout.unit_w) * layout.pixel_bytes();
  if (region.height < layout.unit_h || region.width < layout.unit_w) {
    detail::fill_samples(slot->data(), layout.unit_bytes(), layout);
  }
  slot->copy_from_device(region, pitch);
  ImageView staged = region;
  staged.data = slot->data();
  staged.row_pitch = pitch;
  staged.device = Device::cpu;
  AlignedBuffer buffer = take_buffer();
  size_t size = 0;
  {
    EncoderTurn turn(*encoders);
    size = encode_unit(layout, staged, uy, ux, buffer, pool.get(), threads);
  }
  give_slot(region.cuda_device, std::move(slot));
  detail::write_chunk_file(file, buffer.data(), size, file_options, stats);
  give_buffer(std::move(buffer));
}

void ArrayWriter::Impl::write_unit(const ImageView& region, int64_t uy, int64_t ux) {
  if (region.device == Device::cpu) {
    write_unit_from_host(region, uy, ux);
    return;
  }
  if (use_cufile && write_unit_with_cufile(region, uy, ux)) return;
  write_unit_through_pinned(region, uy, ux);
}

namespace {

// The state every writer of `path` needs, before anything on disk is touched: validated options,
// the layout, the encoder and I/O pool.
std::unique_ptr<ArrayWriter::Impl> make_impl(const std::filesystem::path& path,
                                             const ArraySpec& spec, const WriteOptions& options) {
  auto impl = std::make_unique<ArrayWriter::Impl>();
  impl->path = path;
  impl->spec = spec;
  impl->layout = Layout::from_spec(spec);
  impl->options = options;
  // Bounded above as well: each in-flight unit is a thread, and a value read from a caller built
  // against another layout of WriteOptions must not start millions of them.
  constexpr int kMaxWorkers = 4096;
  if (options.threads < 0 || options.io_depth < 0 || options.threads > kMaxWorkers ||
      options.io_depth > kMaxWorkers) {
    throw Error(ErrorKind::invalid_argument,
                "threads and io_depth must be in [0, " + std::to_string(kMaxWorkers) +
                    "] (0: default), got " + std::to_string(options.threads) + " and " +
                    std::to_string(options.io_depth),
                {.file = path.string()});
  }
  impl->threads = options.threads > 0 ? options.threads : hardware_threads();
  impl->io_depth =
      options.io_depth > 0 ? options.io_depth : static_cast<int>(settings().zarr_io_depth);
  // No more workers than units in flight can use: a small array gets a small pool.
  const Layout& layout = impl->layout;
  const size_t units = static_cast<size_t>(layout.units_down() * layout.units_across());
  const size_t workers = std::min(in_flight_limit(layout, impl->threads, impl->io_depth), units);
  if (workers > 1) impl->pool = std::make_unique<ThreadPool>(static_cast<int>(workers - 1));
  impl->encoders = std::make_unique<std::counting_semaphore<>>(impl->threads);
  impl->file_options.allow_direct = options.direct_io;
  return impl;
}

}  // namespace

ArrayWriter ArrayWriter::create(const std::filesystem::path& path, const ArraySpec& spec,
                                const WriteOptions& options) {
  auto impl = make_impl(path, spec, options);
  // An explicit cuFile request is checked before the output is touched: a refusal must not cost
  // the user an existing output (overwrite) or leave an empty directory behind.
  if (options.io == IoBackend::cufile) {
    const bool layout_ok = detail::cufile_can_write(impl->layout);
    (void)detail::choose_write_path(
        options.io, layout_ok,
        layout_ok ? device::cufile_write_problem(existing_ancestor(path)) : std::string(),
        device::cufile_compat_mode(), path);
  }
  // Nothing at `path` changes before finish(): an existing output is replaced only then.
  impl->output = detail::OutputDir::create(path, options.overwrite, options.overwrite_any, false,
                                           options.stage_overwrite);
  impl->path = impl->output.write_dir();
  auto make_dir = [](const std::filesystem::path& dir) {
    std::error_code e;
    std::filesystem::create_directories(dir, e);
    if (e) {
      ErrorKind kind = e == std::errc::no_space_on_device ? ErrorKind::disk_full : ErrorKind::io;
      throw Error(kind, "cannot create directory: " + e.message(), {.file = dir.string()});
    }
  };
  // Every chunk row's directory up front, so workers never race to create them.
  const Layout& l = impl->layout;
  const std::filesystem::path& dir = impl->path;
  if (l.separator == '/') {
    for (int64_t uy = 0; uy < l.units_down(); ++uy) make_dir(dir / l.unit_row_dir(uy));
  }
  if (options.durable) impl->file_system = detail::FileSystemSync(dir);
  return ArrayWriter(std::move(impl));
}

ArrayWriter ArrayWriter::attach(const std::filesystem::path& path, const ArraySpec& spec,
                                const WriteOptions& options) {
  auto impl = make_impl(path, spec, options);
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorKind::not_found, "no array to attach to (create() it first)",
                {.file = path.string()});
  }
  for (const char* name : {"zarr.json", ".zarray"}) {
    if (std::filesystem::exists(path / name, ec)) {
      throw Error(ErrorKind::already_exists,
                  "the array is complete (its metadata exists); attached writers may not change it",
                  {.file = (path / name).string()});
    }
  }
  // create() made every chunk row's directory; an attached writer adds none, so a writer of the
  // wrong array (another spec, another path) fails on its first chunk instead of spreading files.
  if (options.durable) impl->file_system = detail::FileSystemSync(path);
  return ArrayWriter(std::move(impl));
}

ArrayWriter::ArrayWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArrayWriter::ArrayWriter(ArrayWriter&&) noexcept = default;
ArrayWriter& ArrayWriter::operator=(ArrayWriter&&) noexcept = default;
ArrayWriter::~ArrayWriter() {
  // Unfinished: a failed write, or one that wrote chunks, removes what it made (OutputDir). A
  // fresh array that no chunk was written to yet stays: other writers may attach() to it (Dask).
  if (impl_ && !impl_->finished && !impl_->failed && impl_->stats.files.load() == 0 &&
      !impl_->output.staged()) {
    impl_->output.keep();
  }
}

const ArraySpec& ArrayWriter::spec() const noexcept {
  return impl_->spec;
}

void ArrayWriter::write_region(int64_t y, int64_t x, const ImageView& src) {
  Impl& s = *impl_;
  const Layout& l = s.layout;
  auto fail = [&](const std::string& what) {
    throw Error(ErrorKind::invalid_argument, "write_region: " + what, {.file = s.path.string()});
  };
  if (s.finished || s.chunks_finished) fail("the array is already finished");
  if (src.channels != l.channels || src.dtype != l.dtype) {
    fail("source has " + std::to_string(src.channels) + " x " + std::string(to_string(src.dtype)) +
         ", the array " + std::to_string(l.channels) + " x " + std::string(to_string(l.dtype)));
  }
  if (y < 0 || x < 0 || y % l.unit_h || x % l.unit_w) {
    fail("(" + std::to_string(y) + ", " + std::to_string(x) + ") is not on the " +
         (l.sharded ? "shard" : "chunk") + " grid");
  }
  if (src.height < 0 || src.width < 0 || y + src.height > l.height || x + src.width > l.width) {
    fail("source extends past the array");
  }
  if ((src.height % l.unit_h && y + src.height != l.height) ||
      (src.width % l.unit_w && x + src.width != l.width)) {
    fail("source must cover whole chunks (shards) except at the array's edges");
  }
  if (src.data == nullptr && src.height && src.width) fail("null source");
  if (src.row_pitch < src.row_bytes()) fail("row pitch smaller than a row");
  const int64_t uy0 = y / l.unit_h, ux0 = x / l.unit_w;
  const int64_t nd = (src.height + l.unit_h - 1) / l.unit_h;
  const int64_t na = (src.width + l.unit_w - 1) / l.unit_w;
  const size_t n = static_cast<size_t>(nd * na);
  if (n == 0) return;
  auto body = [&](size_t i) {
    const int64_t uy = uy0 + static_cast<int64_t>(i) / na;
    const int64_t ux = ux0 + static_cast<int64_t>(i) % na;
    const int64_t ry = uy * l.unit_h, rx = ux * l.unit_w;
    ImageView region = src.crop(rx - x, ry - y, std::min(l.unit_w, l.width - rx),
                                std::min(l.unit_h, l.height - ry));
    s.write_unit(region, uy, ux);
  };
  if (src.device == Device::cuda) {
    s.choose_gpu_path();
  } else if (s.options.io == IoBackend::cufile) {
    fail(
        "cufile writes take sources in GPU memory, this one is in host memory (use io auto or "
        "posix)");
  }
  const int parallelism = static_cast<int>(in_flight_limit(l, s.threads, s.io_depth));
  {
    std::lock_guard lock(s.path_mutex);
    s.used_depth = std::max(
        s.used_depth, static_cast<int>(std::min<size_t>(static_cast<size_t>(parallelism), n)));
  }
  try {
    detail::run_parallel(s.pool.get(), n, parallelism, body);
  } catch (const Error& e) {
    s.failed = true;
    throw with_file(e, s.path);
  } catch (...) {
    s.failed = true;
    throw;
  }
}

void ArrayWriter::write(const ImageView& src) {
  const Layout& l = impl_->layout;
  if (src.height != l.height || src.width != l.width) {
    throw Error(ErrorKind::invalid_argument,
                "write: source is " + std::to_string(src.width) + " x " +
                    std::to_string(src.height) + ", the array " + std::to_string(l.width) + " x " +
                    std::to_string(l.height),
                {.file = impl_->path.string()});
  }
  write_region(0, 0, src);
}

void ArrayWriter::set_attributes(const std::string& json_object) {
  auto doc = nlohmann::json::parse(json_object, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw Error(ErrorKind::invalid_argument, "attributes must be a JSON object",
                {.file = impl_->path.string()});
  }
  impl_->attributes = std::move(doc);
}

WriteReport ArrayWriter::finish() {
  Impl& s = *impl_;
  if (s.failed) {
    throw Error(ErrorKind::cancelled,
                "an earlier chunk write failed; the array is left without metadata so that no "
                "reader takes it for complete",
                {.file = s.path.string()});
  }
  if (s.finished) {
    throw Error(ErrorKind::invalid_argument, "finish() called twice", {.file = s.path.string()});
  }
  const bool durable = s.options.durable;
  uint64_t meta = 0;
  try {
    // Chunks first, durably; only then the metadata that declares the array complete.
    if (durable) s.file_system.sync();
    if (s.layout.format == Format::v2) {
      if (!s.attributes.empty()) {
        meta +=
            detail::write_small_file_atomically(s.path / ".zattrs", s.attributes.dump(2), durable);
      }
      meta += detail::write_small_file_atomically(
          s.path / ".zarray", detail::v2_array_metadata(s.layout).dump(2), durable);
    } else {
      meta += detail::write_small_file_atomically(
          s.path / "zarr.json", detail::v3_array_metadata(s.layout, s.attributes).dump(2), durable);
    }
    if (durable) io::sync_directory(s.path);
    // Complete: it takes the place of the old output (if any), which is removed only now.
    s.output.commit(durable);
    if (durable && s.output.path().empty()) {
      io::sync_directory(std::filesystem::absolute(s.path).parent_path());
    }
  } catch (...) {
    s.failed = true;
    throw;
  }
  s.finished = true;
  if (s.finish_counter) s.finish_counter->fetch_add(1);
  return s.report(meta);
}

WriteReport ArrayWriter::finish_chunks() {
  Impl& s = *impl_;
  if (s.failed) {
    throw Error(ErrorKind::cancelled,
                "an earlier chunk write failed; its chunks are not declared written",
                {.file = s.path.string()});
  }
  if (s.finished) {
    throw Error(ErrorKind::invalid_argument, "finish_chunks() after finish()",
                {.file = s.path.string()});
  }
  if (s.options.durable) {
    try {
      s.file_system.sync();
    } catch (...) {
      s.failed = true;
      throw;
    }
  }
  s.chunks_finished = true;
  s.output.keep();  // another writer finishes the array: what this one created stays
  return s.report(0);
}

WriteReport ArrayWriter::Impl::report(uint64_t metadata_bytes) {
  Impl& s = *this;
  WriteReport report;
  report.bytes_written = s.stats.bytes.load() + metadata_bytes;
  report.chunks_written = s.stats.files.load();
  report.io_depth = s.used_depth;
  const uint64_t files = s.stats.files.load(), direct = s.stats.direct_files.load(),
                 cufile = s.stats.cufile_files.load();
  const uint64_t posix = files - cufile;
  std::string posix_path;
  if (direct == 0) {
    posix_path = "posix";
  } else if (direct == posix) {
    posix_path = "posix (O_DIRECT)";
  } else {
    posix_path = "posix (O_DIRECT for large chunks, page cache for small)";
  }
  // cuFile without nvidia-fs is cuFile's own POSIX fallback, not GPUDirect Storage: say so.
  const std::string cufile_path =
      device::cufile_compat_mode() ? "cufile (compat mode: no nvidia-fs)" : "cufile";
  if (cufile == 0 || files == 0) {
    report.io_path = posix_path;
  } else if (cufile == files) {
    report.io_path = cufile_path;
  } else {
    report.io_path = cufile_path + " for " + std::to_string(cufile) + " files, " + posix_path +
                     " for " + std::to_string(posix);
  }
  {
    std::lock_guard lock(s.path_mutex);
    if (!s.io_note.empty()) report.io_path += "; " + s.io_note;
  }
  return report;
}

}  // namespace slidestream::zarr
