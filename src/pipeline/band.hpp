// The GPU band executor for the tiled mode: the level is processed one band (a row of output
// tiles, full width) at a time from a small device ring of the slide's tile-rows. Each tile-row
// is read once, full width, straight into device memory by the GPU read path (coalesced reads,
// one placement kernel), while earlier bands are computed; a band's window (its rows plus the
// chain's halo, clipped to the level) is gathered from the ring by device-to-device copies and
// the chain runs over it with image coordinates, so borders follow the image and the result is
// bit-identical to the global mode. Device memory: the ring, one window and, when the result
// goes to the host, two output bands; never the level.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::pipeline {

struct BandJob {
  const Slide* slide = nullptr;
  int level = 0;
  std::vector<ops::Op> chain;
  std::vector<ops::PixelFormat> formats;  // formats[0]: the slide's; back(): the chain's output
  int64_t width = 0, height = 0;          // the level
  int64_t band = 0;                       // output band height (the tile / unit edge)
  int64_t radius = 0;                     // the chain's total halo
  ReadOptions read;                       // device cuda; gpu_jpeg false for bit-exactness
  // Exactly one of: the destination image on the GPU (width × height), or a host writer called
  // with each finished band (rows [y, y + band.height), full width, host memory) in band order,
  // from one thread.
  const ImageView* image = nullptr;
  std::function<void(int64_t y, const ImageView& band)> write;
  // After each band (enqueued for `image`, written for `write`), from one thread at a time.
  std::function<void(int64_t bands_done)> on_band;
};

struct BandReport {
  uint64_t bytes_read = 0;
  std::string io_path;
};

// The band executor's geometry, pure arithmetic (tested on its own).
struct BandGeometry {
  int64_t tile_rows = 0;   // the slide's tile-rows over the level
  int64_t row_height = 0;  // a tile-row's height (the slide's tile height)
  int64_t bands = 0;
  int ring = 0;              // tile-rows held on the device
  int64_t window_rows = 0;   // rows of the largest window
  size_t in_row_bytes = 0;   // a full-width row of the slide's pixels
  size_t out_row_bytes = 0;  // a full-width row of the chain's output
  uint64_t device_bytes = 0;
};
struct BandRows {
  int64_t y0 = 0, y1 = 0;      // the output rows of the band
  int64_t in0 = 0, in1 = 0;    // the rows its window holds: [y0 - radius, y1 + radius) clipped
  int64_t first = 0, end = 0;  // the tile-rows that window touches: [first, end)
};
BandRows band_rows(const BandJob& job, int64_t row_height, int64_t band);
// Throws Error(invalid_argument) for a level without tiles.
BandGeometry band_geometry(const Level& level, const BandJob& job);

// Device memory run_bands allocates for `job` on `level`, or 0 when the band executor does not
// take the job (*why says why): a level without tiles, an empty chain, a halo larger than the
// band, or buffers beyond `budget` bytes.
uint64_t band_device_bytes(const Level& level, const BandJob& job, uint64_t budget,
                           std::string* why);

#if SLIDESTREAM_HAVE_CUDA
// Defined in src/pipeline/cuda/band_executor.cpp. Throws the first failure (read, compute or
// write) as Error naming the stage and the tile-row or band; nothing is left running.
BandReport run_bands(const BandJob& job);
#endif

}  // namespace slidestream::pipeline
