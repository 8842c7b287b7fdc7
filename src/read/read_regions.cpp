// Batched region reads (slidestream/regions.hpp) on the host, and the dispatch to the GPU
// reader. The plan (read/region_batch.hpp) lists each tile the batch touches once with the
// pieces of it that every region wants; CPU threads take tiles, decode each one (or find it in
// the caller's TileCache) and copy its pieces into the regions. Pieces of different tiles never
// overlap in the output, so the threads write without locks. Regions partly outside the level are
// filled first, as read_region fills them.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "core/thread_pool.hpp"
#include "read/decoded_tile_cache.hpp"
#include "read/region_batch.hpp"
#include "read/region_reader.hpp"
#include "slidestream/error.hpp"
#include "slidestream/regions.hpp"
#include "source/slide_impl.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include "read/gpu_read.hpp"
#endif

namespace slidestream {
namespace read {
namespace {

struct HostBatch {
  const RegionSource& source;
  const BatchPlan& plan;
  const ImageView& out;
  TileCache::Impl* cache;
  const void* slide_id;
  uint8_t fill;
  int64_t tile_rows;
  std::atomic<uint64_t> file_bytes{0};
};

ImageView region_view(const ImageView& out, const BatchPlan& plan, size_t region) {
  return out.crop(0, static_cast<int64_t>(region) * plan.height, plan.width, plan.height);
}

ImageView tile_view(const HostBatch& b, std::byte* data) {
  const Level& l = b.source.layout();
  ImageView v;
  v.data = data;
  v.width = l.tile_width;
  v.height = b.tile_rows;
  v.channels = l.channels;
  v.dtype = l.dtype;
  v.row_pitch = v.row_bytes();
  return v;
}

void place_pieces(const HostBatch& b, const BatchTile& t, const ImageView& tile) {
  const size_t pixel = tile.pixel_bytes();
  for (uint32_t k = 0; k < t.piece_count; ++k) {
    const BatchPiece& p = b.plan.pieces[t.first_piece + k];
    const ImageView region = region_view(b.out, b.plan, p.region);
    const size_t bytes = static_cast<size_t>(p.width) * pixel;
    for (int32_t r = 0; r < p.height; ++r) {
      std::memcpy(region.row(p.dst_y + r) + static_cast<size_t>(p.dst_x) * pixel,
                  tile.row(p.src_y + r) + static_cast<size_t>(p.src_x) * pixel, bytes);
    }
  }
}

std::vector<std::byte>& tile_scratch() {
  thread_local std::vector<std::byte> buffer;
  return buffer;
}

// One tile of the plan: from the cache, or decoded (into the cache when there is one).
void read_batch_tile(HostBatch& b, const BatchTile& t) {
  const size_t bytes = tile_view(b, nullptr).tight_bytes();
  TileCache::Impl::Key key;
  if (b.cache != nullptr) {
    key = {b.slide_id, b.source.file, b.source.level_index, -1, t.tx, t.ty};
    if (TileCache::Impl::Tile hit = b.cache->find(key)) {
      place_pieces(b, t, tile_view(b, const_cast<std::byte*>(hit->data())));
      return;
    }
  }
  std::shared_ptr<std::vector<std::byte>> owned;
  std::byte* data = nullptr;
  try {
    if (b.cache != nullptr && bytes <= b.cache->capacity) {
      owned = std::make_shared<std::vector<std::byte>>(bytes);
      data = owned->data();
    } else {
      std::vector<std::byte>& scratch = tile_scratch();
      if (scratch.size() < bytes) scratch.resize(bytes);
      data = scratch.data();
    }
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::out_of_memory, "cannot allocate a tile buffer",
                {b.source.file, b.source.level_index});
  }
  const ImageView tile = tile_view(b, data);
  b.file_bytes += decode_tile(b.source, t.tx, t.ty, tile, b.fill);
  place_pieces(b, t, tile);
  if (owned) b.cache->insert(key, std::move(owned));
}

void read_regions_host(const Slide::Impl& slide, int level, const BatchPlan& plan,
                       const ImageView& out, const ReadOptions& options, TileCache* cache,
                       ReadReport* report) {
  const RegionSource source{slide.level_source(level), slide.path.native(), level};
  HostBatch b{source,
              plan,
              out,
              cache ? &cache->impl() : nullptr,
              &slide,
              options.fill,
              plan.tiles.empty() ? 0 : decoded_tile_rows(source)};
  for (size_t i = 0; i < plan.needs_fill.size(); ++i) {
    if (plan.needs_fill[i]) fill_view(region_view(out, plan, i), options.fill);
  }
  const int threads = options.threads > 0 ? options.threads : hardware_threads();
  auto body = [&b](size_t i) { read_batch_tile(b, b.plan.tiles[i]); };
  if (threads == 1 || plan.tiles.size() <= 1) {
    for (size_t i = 0; i < plan.tiles.size(); ++i) body(i);
  } else {
    ThreadPool::shared().parallel_for(plan.tiles.size(), body, threads);
  }
  if (report) {
    report->file_bytes += b.file_bytes.load();
    report->pixel_bytes += out.row_bytes() * static_cast<size_t>(plan.height) * plan.x.size();
    report->io_path = "posix";
    report->decoder = plan.tiles.empty() ? "none" : "cpu-" + to_string(source.layout().compression);
  }
}

}  // namespace
}  // namespace read

void read_regions(const Slide& slide, int level, std::span<const RegionLocation> locations,
                  int64_t width, int64_t height, const ImageView& out, const ReadOptions& options,
                  TileCache* cache, ReadReport* report) {
  const Level& l = slide.level(level);  // range check
  const std::string path = slide.path().string();
  read::BatchPlan plan;
  try {
    plan = read::plan_batch(l, locations, width, height);
  } catch (const Error& e) {
    throw e.with_context({path, level});
  }
  const int64_t rows = static_cast<int64_t>(locations.size()) * height;
  const std::string problem = read::output_view_problem(l, out.device, width, rows, out);
  if (!problem.empty()) throw Error(ErrorKind::invalid_argument, problem, {path, level});
  if (locations.empty() || width == 0 || height == 0) return;
  if (out.device == Device::cuda) {
#if SLIDESTREAM_HAVE_CUDA
    read::read_regions_gpu(slide.impl(), level, plan, out, options, cache, report);
    return;
#else
    throw Error(ErrorKind::unsupported,
                "reading into GPU memory needs a build with SLIDESTREAM_CUDA=ON");
#endif
  }
  read::read_regions_host(slide.impl(), level, plan, out, options, cache, report);
}

Image read_regions(const Slide& slide, int level, std::span<const RegionLocation> locations,
                   int64_t width, int64_t height, const ReadOptions& options, TileCache* cache) {
  const Level& l = slide.level(level);
  if (width < 0 || height < 0) {
    throw Error(ErrorKind::invalid_argument, "negative region size",
                {slide.path().string(), level});
  }
  Image image = Image::allocate(width, static_cast<int64_t>(locations.size()) * height, l.channels,
                                l.dtype, options.device, options.cuda_device);
  read_regions(slide, level, locations, width, height, image.view(), options, cache);
  return image;
}

}  // namespace slidestream
