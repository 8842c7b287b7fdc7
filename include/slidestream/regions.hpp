// Batched region reads: many regions of one size from one level of a slide into one
// (N, height, width, channels) buffer in host or GPU memory, the way training and inference code
// cuts a slide into patches. Every tile the batch touches is decoded once however many regions
// share it, and each region's pixels equal Slide::read_region's for the same place (tiles,
// edges, fill outside the level). A TileCache, passed by the caller, keeps decoded tiles for the
// next batches: bounded in bytes, least recently used first out, entries kept per slide and per
// device. No cache is global.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"

namespace slidestream {

// A region's top-left corner in level-0 pixels, as OpenSlide's read_region takes it.
struct RegionLocation {
  int64_t x = 0;
  int64_t y = 0;
  friend bool operator==(const RegionLocation&, const RegionLocation&) = default;
};

// A level-0 coordinate in the pixels of a level of this downsample: the quotient, or the
// integer within 1e-6 of it (x * downsample in floating point seldom lands exactly), rounded
// down otherwise. The Python package's read_region uses the same rule.
int64_t level_coordinate(int64_t level0, double downsample) noexcept;

// A bounded cache of decoded tiles for batched reads. Thread-safe; share one between the
// threads that read the same slides. Entries are keyed by slide, level, tile and device, so one
// cache may serve many slides; tiles in use stay valid when they are evicted.
class TileCache {
 public:
  // capacity_bytes: the decoded bytes it may hold (0 holds nothing).
  explicit TileCache(size_t capacity_bytes);
  ~TileCache();
  TileCache(const TileCache&) = delete;
  TileCache& operator=(const TileCache&) = delete;

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;
    size_t entries = 0;
    size_t used_bytes = 0;  // never above capacity_bytes
    // GPU reads keep tiles in GPU memory: a buffer of capacity_bytes per GPU, reserved on the
    // GPU's first cached read; these count its tiles (all GPUs).
    uint64_t device_hits = 0;
    uint64_t device_misses = 0;
    size_t device_entries = 0;
    size_t device_used_bytes = 0;  // never above capacity_bytes per GPU
  };
  size_t capacity_bytes() const noexcept;
  Stats stats() const;
  void clear();

  struct Impl;  // internal: src/read/decoded_tile_cache.hpp
  Impl& impl() const noexcept { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Reads locations.size() regions of `level`, each width × height pixels with its top-left corner
// at a level-0 location, into `out`: a view width pixels wide and locations.size() × height rows
// tall, region i in rows [i × height, (i + 1) × height) (a tight view is an (N, H, W, C) array).
// out.device decides host or GPU memory. Pixels outside the level get options.fill. Tiles decode
// on options.threads CPU threads; into GPU memory also on nvJPEG where a whole-level GPU read
// would use it. `cache` (may be null) is consulted and filled: host reads keep tiles in host
// memory, GPU reads in GPU memory (TileCache::Stats says how much).
// Errors name the slide, the level and the tile (a damaged tile fails the whole batch).
void read_regions(const Slide& slide, int level, std::span<const RegionLocation> locations,
                  int64_t width, int64_t height, const ImageView& out,
                  const ReadOptions& options = {}, TileCache* cache = nullptr,
                  ReadReport* report = nullptr);

// The same into a freshly allocated image of width × (N × height) pixels on options.device.
Image read_regions(const Slide& slide, int level, std::span<const RegionLocation> locations,
                   int64_t width, int64_t height, const ReadOptions& options = {},
                   TileCache* cache = nullptr);

// Regions at a target resolution in microns per pixel: read from the level with the largest
// downsample whose resolution is not coarser than asked, then area-averaged (each output pixel
// the mean of its footprint, fixed-point weights, rounded half up) to `mpp`. CPU and GPU give the
// same bytes. Needs the slide's mpp (openslide.mpp-x / -y): without it, or for an mpp finer than
// level 0's, Error(invalid_argument) saying so. uint8 levels only.
struct MppSource {
  int level = 0;
  double factor_x = 1.0, factor_y = 1.0;  // source pixels per output pixel (>= 1)
  int64_t source_width = 0, source_height = 0;
};
MppSource mpp_source(const Slide& slide, double mpp, int64_t width, int64_t height);

void read_regions_at_mpp(const Slide& slide, double mpp, std::span<const RegionLocation> locations,
                         int64_t width, int64_t height, const ImageView& out,
                         const ReadOptions& options = {}, TileCache* cache = nullptr,
                         ReadReport* report = nullptr);
Image read_regions_at_mpp(const Slide& slide, double mpp, std::span<const RegionLocation> locations,
                          int64_t width, int64_t height, const ReadOptions& options = {},
                          TileCache* cache = nullptr);

}  // namespace slidestream
