// The GPU band executor for the tiled mode: the level is processed one band (a row of output
// tiles, full width) at a time from a small device ring of the slide's tile-rows. Each tile-row
// is read once, full width, straight into device memory, while earlier bands are computed; a
// band's window (its rows plus the chain's halo, clipped to the level) is gathered from the ring
// and the chain runs over it with image coordinates, so borders follow the image and the result
// is bit-identical to the global mode. Device memory: the ring, one window and, when the result
// goes to a writer, a few output bands; never the level.
//
// Two readers fill the ring. Plainly uncompressed levels are streamed: every tile-row's tiles are
// grouped into MiB-scale file ranges (plan_raw_rows), read by a pool of threads in file order
// into pinned memory and copied up, still in the file's tile layout, into the row's ring slot;
// nothing waits for a whole row, and the gather kernel turns tile layout into the window's image
// layout. Other levels (JPEG and the other codecs) are read a tile-row at a time through the GPU
// read path, which decodes them, into image-layout ring slots.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/file.hpp"
#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"

#if defined(__CUDACC__)
#define SLIDESTREAM_BAND_HD __host__ __device__ __forceinline__
#else
#define SLIDESTREAM_BAND_HD inline
#endif

namespace slidestream::pipeline {

// ---- Streaming uncompressed levels

// One copy from a range's bytes (at `from`, relative to the range's start) to the tile-row's
// ring slot (at `to`: tile tx lives at tx × tile_bytes), `bytes` long.
struct RowCopy {
  uint64_t from = 0, to = 0, bytes = 0;
};
// A page-aligned file range holding some tiles of one tile-row.
struct RowRange {
  int64_t row = 0;
  int index = 0;                // within its row
  uint64_t begin = 0, end = 0;  // page-aligned; `end` may pass the end of the file
  uint64_t needed = 0;          // bytes from `begin` that must exist (the last tile's end)
  std::vector<RowCopy> copies;  // adjacent tiles merged
};
struct RawRowPlan {
  const io::File* file = nullptr;  // every range is in this file (the level source's only store)
  std::vector<RowRange> ranges;    // row by row, each row's in file order
  std::vector<int> ranges_in_row;
  int max_ranges_per_row = 0;
  uint64_t max_range_bytes = 0;
  uint64_t tile_bytes = 0;  // one stored tile: tile_width × tile_height × pixel bytes
};
// The plan for streaming `level` by tile-rows in ranges of about `task_bytes`, or an empty plan
// (*why says why) where the level is not plainly uncompressed (compression, predictor, planar
// layout, big-endian samples, photometric), its tiles are not single ranges of one file, or a
// tile is absent, short or beyond the file: the GPU read path handles (and reports) those.
RawRowPlan plan_raw_rows(const Slide& slide, int level, uint64_t task_bytes, std::string* why);

struct BandJob {
  const Slide* slide = nullptr;
  int level = 0;
  std::vector<ops::Op> chain;
  std::vector<ops::PixelFormat> formats;  // formats[0]: the slide's; back(): the chain's output
  int64_t width = 0, height = 0;          // the level
  int64_t band = 0;                       // output band height (the tile / unit edge)
  int64_t radius = 0;                     // the chain's total halo
  ReadOptions read;                       // device cuda; nvJPEG too (bit-exact)
  // Exactly one of: the destination image on the GPU (width × height), or a writer called with
  // each finished band (rows [y, y + band.height), full width). The band is in GPU memory unless
  // host_bands is set (e.g. for a host-side pyramid) or device bands do not fit device_budget
  // (BandGeometry::host_out): then in pinned host memory. It stays valid
  // until `write` returns. Up to writers() bands are written at once, from as many threads, so a
  // band's last chunks never leave the disk idle while the next band waits; never a band twice.
  const ImageView* image = nullptr;
  std::function<void(int64_t y, const ImageView& band)> write;
  bool host_bands = false;
  // After each band (enqueued for `image`, written for `write`), with the number of bands done,
  // from one thread at a time.
  std::function<void(int64_t bands_done)> on_band;
  // Non-empty: the level is streamed by these ranges (plan_raw_rows), ring slots in tile layout;
  // empty: read a tile-row at a time through the GPU read path.
  RawRowPlan stream;
  // The row reader (not streamed): the slide's tile-rows each read of the GPU read path takes,
  // one ring slot; 0: as many as cover a band. Fewer, longer reads pay each read's fixed costs
  // (batch set-up, the wait for its last decodes) less often, which is what JPEG levels need;
  // streamed levels always hold one tile-row per slot (their tile layout).
  int tile_rows_per_read = 0;
  // Bytes the ring's reader may have in flight at once (threads × range size when streaming):
  // the ring holds that much beyond what one window touches, so readers never wait for a slot.
  uint64_t read_ahead_bytes = 0;
  // Device memory the ring, the window and the output bands may take (band_geometry's budget).
  uint64_t device_budget = ~0ull;
};

struct BandReport {
  uint64_t bytes_read = 0;
  std::string io_path;
  bool streamed = false;  // the level was streamed by file ranges (plan_raw_rows)
};

// The band executor's geometry, pure arithmetic (tested on its own).
struct BandGeometry {
  int64_t tile_rows = 0;   // ring rows over the level ("tile-rows" below)
  int64_t row_height = 0;  // a ring row's height: the slide's tile height, times
                           // tile_rows_per_read for the row reader
  int64_t bands = 0;
  int ring = 0;              // tile-rows held on the device
  int64_t window_rows = 0;   // rows of the largest window
  size_t in_row_bytes = 0;   // a full-width row of the slide's pixels
  size_t window_pitch = 0;   // the window's row pitch: in_row_bytes rounded up to 16
  size_t slot_bytes = 0;     // one ring slot: a tile-row, in image or in (padded) tile layout
  size_t out_row_bytes = 0;  // a full-width row of the chain's output
  int out_bands = 0;         // output bands in flight to the writers (0 when writing into `image`)
  // Whether those bands are in pinned host memory: the job asks for it (host_bands), or device
  // bands do not fit the budget. Then one band on the device is enough (each is copied down, in
  // stream order, before the next is computed into it).
  bool host_out = false;
  int device_out_bands = 0;  // output bands on the device: out_bands, or 1 when host_out
  uint64_t device_bytes = 0;
};
struct BandRows {
  int64_t y0 = 0, y1 = 0;      // the output rows of the band
  int64_t in0 = 0, in1 = 0;    // the rows its window holds: [y0 - radius, y1 + radius) clipped
  int64_t first = 0, end = 0;  // the tile-rows that window touches: [first, end)
};
BandRows band_rows(const BandJob& job, int64_t row_height, int64_t band);
// The deepest ring (up to what read_ahead_bytes asks for) and the most output bands (up to 3)
// that fit `budget`, falling back to a ring of the window's tile-rows + 2 and 2 output bands,
// then to output bands in pinned host memory with one on the device (wide float32 results).
// Throws Error(invalid_argument) for a level without tiles.
BandGeometry band_geometry(const Level& level, const BandJob& job, uint64_t budget = ~0ull);

// Device memory run_bands allocates for `job` on `level`, or 0 when the band executor does not
// take the job (*why says why): a level without tiles, an empty chain, a halo larger than the
// band, or buffers beyond `budget` bytes.
uint64_t band_device_bytes(const Level& level, const BandJob& job, uint64_t budget,
                           std::string* why);

// Where image pixel row `y`, byte `x` of a full-width row lives in a ring of tile-rows held in
// tile layout (each slot: the row's tiles one after the other, each tile_height rows of
// tile_row_bytes). The gather kernel and the host-side tests share it.
struct TileRingLayout {
  int64_t tile_height = 0;
  uint64_t tile_row_bytes = 0;
  uint64_t tile_bytes = 0;
  uint64_t slot_bytes = 0;
  int64_t ring = 0;
};
SLIDESTREAM_BAND_HD uint64_t tile_ring_offset(const TileRingLayout& l, int64_t y, uint64_t x) {
  const int64_t row = y / l.tile_height;
  const uint64_t in_tile_y = static_cast<uint64_t>(y - row * l.tile_height);
  const uint64_t tx = x / l.tile_row_bytes;
  return static_cast<uint64_t>(row % l.ring) * l.slot_bytes + tx * l.tile_bytes +
         in_tile_y * l.tile_row_bytes + (x - tx * l.tile_row_bytes);
}

#if SLIDESTREAM_HAVE_CUDA
// Defined in src/pipeline/cuda/band_executor.cpp. Throws the first failure (read, compute or
// write) as Error naming the stage and the tile-row or band; nothing is left running.
BandReport run_bands(const BandJob& job);
#endif

}  // namespace slidestream::pipeline
