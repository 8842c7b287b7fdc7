#include "pipeline/band.hpp"

#include <algorithm>

#include "read/cuda/range_plan.hpp"  // pure arithmetic, built with or without CUDA
#include "slidestream/error.hpp"
#include "source/slide_impl.hpp"

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

BandGeometry band_geometry(const Level& level, const BandJob& job, uint64_t budget) {
  if (level.tile_width == 0 || level.tile_height == 0 || job.band <= 0 || job.width <= 0 ||
      job.height <= 0) {
    throw Error(ErrorKind::invalid_argument, "band executor: level without tiles or empty band");
  }
  BandGeometry g;
  // The row reader reads several of the slide's tile-rows at once (one ring row); by default
  // enough to cover a band, so that a band waits for about one read.
  int64_t per_read = 1;
  if (job.stream.ranges.empty()) {
    per_read = job.tile_rows_per_read > 0
                   ? job.tile_rows_per_read
                   : std::max<int64_t>(1, (job.band + level.tile_height - 1) / level.tile_height);
  }
  g.row_height = int64_t{level.tile_height} * per_read;
  g.tile_rows = (job.height + g.row_height - 1) / g.row_height;
  g.bands = (job.height + job.band - 1) / job.band;
  int64_t widest = 0;
  for (int64_t b = 0; b < g.bands; ++b) {
    BandRows r = band_rows(job, g.row_height, b);
    widest = std::max(widest, r.end - r.first);
    g.window_rows = std::max(g.window_rows, r.in1 - r.in0);
  }
  const auto& in = job.formats.front();
  const auto& out = job.formats.back();
  g.in_row_bytes =
      static_cast<size_t>(job.width) * size_of(in.dtype) * static_cast<size_t>(in.channels);
  // 16-byte rows let the gather kernel move 16 bytes per thread.
  g.window_pitch = (g.in_row_bytes + 15) / 16 * 16;
  g.out_row_bytes =
      static_cast<size_t>(job.width) * size_of(out.dtype) * static_cast<size_t>(out.channels);
  g.slot_bytes = job.stream.ranges.empty() ? static_cast<size_t>(g.row_height) * g.in_row_bytes
                                           : static_cast<size_t>(level.tiles_across) *
                                                 static_cast<size_t>(job.stream.tile_bytes);

  // Two tile-rows beyond what one window touches let a row-at-a-time reader work ahead of the
  // GPU; a streaming reader has read_ahead_bytes in flight, spread over that many more rows.
  int64_t wanted_extra = 2;
  if (job.read_ahead_bytes > 0 && g.slot_bytes > 0) {
    const auto rows =
        static_cast<int64_t>((job.read_ahead_bytes + g.slot_bytes - 1) / g.slot_bytes);
    wanted_extra = std::clamp<int64_t>(rows + 1, 2, 16);
  }
  // More output bands let writers overlap bands (one's last chunks with the next one's first).
  // Device bands first (the writer copies each chunk down itself); where they do not fit, bands
  // copied down to pinned host memory, with a single one on the device.
  struct OutChoice {
    int bands;
    bool host;
  };
  std::vector<OutChoice> out_choices;
  if (job.image) {
    out_choices = {{0, false}};
  } else if (job.host_bands) {
    out_choices = {{3, true}, {2, true}};
  } else {
    out_choices = {{3, false}, {2, false}, {3, true}, {2, true}};
  }
  for (OutChoice out : out_choices) {
    for (int64_t extra : {wanted_extra, int64_t{2}}) {
      g.ring = static_cast<int>(std::min(g.tile_rows, widest + extra));
      g.out_bands = out.bands;
      g.host_out = out.host;
      g.device_out_bands = out.host ? 1 : out.bands;
      g.device_bytes = static_cast<uint64_t>(g.ring) * g.slot_bytes +
                       static_cast<uint64_t>(g.window_rows) * g.window_pitch +
                       static_cast<uint64_t>(g.device_out_bands) * static_cast<uint64_t>(job.band) *
                           g.out_row_bytes;
      if (g.device_bytes <= budget) return g;
    }
  }
  return g;  // the smallest; band_device_bytes refuses it
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
  BandGeometry g = band_geometry(level, job, budget);
  if (g.device_bytes > budget) return refuse("the band buffers exceed the device budget");
  return g.device_bytes;
}

RawRowPlan plan_raw_rows(const Slide& slide, int level_index, uint64_t task_bytes,
                         std::string* why) {
  auto refuse = [&](const std::string& reason) {
    if (why) *why = reason;
    return RawRowPlan{};
  };
  const Level& l = slide.level(level_index);
  const source::LevelSource& tiles = slide.impl().level_source(level_index);
  if (l.tile_width == 0 || l.tile_height == 0) return refuse("the level has no tiles");
  if (l.compression != Compression::none) return refuse("the level is " + to_string(l.compression));
  // The layouts whose stored bytes are the pixels as delivered (the GPU read path's test).
  const size_t sample = size_of(l.dtype);
  if (l.planar_configuration != 1 || l.predictor != 1 ||
      (l.photometric != 1 && l.photometric != 2) || l.samples_per_pixel != l.channels ||
      l.bits_per_sample != 8 * sample || (tiles.format().big_endian && sample > 1)) {
    return refuse(
        "the stored samples need converting (planar, predictor, photometric, bits or "
        "byte order)");
  }
  const uint64_t tile_bytes =
      uint64_t{l.tile_width} * l.tile_height * static_cast<uint64_t>(l.channels) * sample;
  // Ranges are read with the file's descriptor (O_DIRECT, page-cache residency): one file only.
  const io::File* file = tiles.single_file();
  if (file == nullptr) return refuse("the level's tiles are not all in one file");
  if (tiles.strips() || tiles.crops()) return refuse("the level's stored tiles are not its grid");
  const uint64_t file_size = tiles.store(0).size();
  RawRowPlan plan;
  plan.file = file;
  plan.tile_bytes = tile_bytes;
  constexpr uint64_t kPage = 4096;
  read::RangePlanLimits limits{.page = kPage,
                               .task_bytes = std::max<uint64_t>(task_bytes, tile_bytes + 2 * kPage),
                               .max_gap = 256 << 10,
                               .max_tiles = 2048};
  std::vector<uint64_t> offsets(static_cast<size_t>(l.tiles_across));
  for (int64_t row = 0; row < l.tiles_down; ++row) {
    for (int64_t tx = 0; tx < l.tiles_across; ++tx) {
      const source::TileBytes bytes = tiles.tile(tx, row);
      const uint64_t offset = bytes.front().offset, count = bytes.size();
      if (!bytes.single() || count < tile_bytes) {
        return refuse("tile (" + std::to_string(tx) + ", " + std::to_string(row) +
                      ") is absent or shorter than a tile");
      }
      if (offset > file_size || tile_bytes > file_size - offset) {
        return refuse("tile (" + std::to_string(tx) + ", " + std::to_string(row) +
                      ") lies beyond the end of the file");
      }
      offsets[static_cast<size_t>(tx)] = offset;
    }
    int index = 0;
    for (read::PlannedRange& p : read::plan_ranges(offsets, tile_bytes, limits)) {
      RowRange r;
      r.row = row;
      r.index = index++;
      r.begin = p.begin;
      r.end = p.end;
      for (size_t tx : p.tiles) {
        const uint64_t from = offsets[tx] - p.begin, to = tx * tile_bytes;
        r.needed = std::max(r.needed, from + tile_bytes);
        if (!r.copies.empty() && r.copies.back().from + r.copies.back().bytes == from &&
            r.copies.back().to + r.copies.back().bytes == to) {
          r.copies.back().bytes += tile_bytes;
        } else {
          r.copies.push_back({from, to, tile_bytes});
        }
      }
      plan.max_range_bytes = std::max(plan.max_range_bytes, r.end - r.begin);
      plan.ranges.push_back(std::move(r));
    }
    plan.ranges_in_row.push_back(index);
    plan.max_ranges_per_row = std::max(plan.max_ranges_per_row, index);
  }
  return plan;
}

}  // namespace slidestream::pipeline
