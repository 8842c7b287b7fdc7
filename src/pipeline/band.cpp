#include "pipeline/band.hpp"

#include <algorithm>

#include "slidestream/error.hpp"

namespace slidestream::pipeline {

BandRows band_rows(const BandJob& job, int64_t row_height, int64_t band) {
  BandRows r;
  r.y0 = band * job.band;
  r.y1 = std::min(job.height, r.y0 + job.band);
  r.in0 = std::max<int64_t>(0, r.y0 - job.radius);
  r.in1 = std::min(job.height, r.y1 + job.radius);
  r.first = r.in0 / row_height;
  r.end = (r.in1 - 1) / row_height + 1;
  return r;
}

BandGeometry band_geometry(const Level& level, const BandJob& job) {
  if (level.tile_width == 0 || level.tile_height == 0 || job.band <= 0 || job.width <= 0 ||
      job.height <= 0) {
    throw Error(ErrorKind::invalid_argument, "band executor: level without tiles or empty band");
  }
  BandGeometry g;
  g.row_height = level.tile_height;
  g.tile_rows = (job.height + g.row_height - 1) / g.row_height;
  g.bands = (job.height + job.band - 1) / job.band;
  int64_t widest = 0;
  for (int64_t b = 0; b < g.bands; ++b) {
    BandRows r = band_rows(job, g.row_height, b);
    widest = std::max(widest, r.end - r.first);
    g.window_rows = std::max(g.window_rows, r.in1 - r.in0);
  }
  // Two tile-rows beyond what one window touches: the reader works that far ahead of the GPU.
  g.ring = static_cast<int>(std::min(g.tile_rows, widest + 2));
  const auto& in = job.formats.front();
  const auto& out = job.formats.back();
  g.in_row_bytes =
      static_cast<size_t>(job.width) * size_of(in.dtype) * static_cast<size_t>(in.channels);
  g.out_row_bytes =
      static_cast<size_t>(job.width) * size_of(out.dtype) * static_cast<size_t>(out.channels);
  g.device_bytes =
      static_cast<uint64_t>(g.ring) * static_cast<uint64_t>(g.row_height) * g.in_row_bytes +
      static_cast<uint64_t>(g.window_rows) * g.in_row_bytes;
  // A host writer gets two output bands on the device: one computed while the other goes down.
  if (!job.image) g.device_bytes += 2 * static_cast<uint64_t>(job.band) * g.out_row_bytes;
  return g;
}

uint64_t band_device_bytes(const Level& level, const BandJob& job, uint64_t budget,
                           std::string* why) {
  auto refuse = [&](const std::string& reason) -> uint64_t {
    if (why) *why = reason;
    return 0;
  };
  if (level.tile_width == 0 || level.tile_height == 0) return refuse("the level has no tiles");
  if (job.chain.empty()) return refuse("no ops to run");
  if (job.band <= 0 || job.width <= 0 || job.height <= 0) return refuse("empty level or band");
  if (job.radius > job.band) return refuse("the halo is larger than the tile");
  BandGeometry g = band_geometry(level, job);
  if (g.device_bytes > budget) return refuse("the band buffers exceed the device budget");
  return g.device_bytes;
}

}  // namespace slidestream::pipeline
