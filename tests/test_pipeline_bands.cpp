// The band executor's geometry (pipeline/band.hpp), checked against brute force: every band's
// window holds exactly the rows within the halo of its output rows, clipped to the level; the
// tile-rows it touches are exactly those holding those rows; the ring is deep enough for the
// reader to stay ahead; and the executor refuses what it cannot do (the slot executor runs then).
// The streamed reader's plan (plan_raw_rows) and the gather's arithmetic (tile_ring_offset) are
// proved on the host: reading each planned range, copying it into a wrapping ring as the GPU
// does, and gathering rows back gives the level exactly as the host read path decodes it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "io/file.hpp"
#include "pipeline/band.hpp"
#include "slidestream/error.hpp"
#include "support/test_support.hpp"

namespace slidestream::pipeline {
namespace {

BandJob job_of(int64_t width, int64_t height, int64_t band, int64_t radius) {
  BandJob job;
  job.chain = {ops::parse_op("sobel")};
  job.formats = {ops::PixelFormat{3, DataType::uint8}, ops::PixelFormat{3, DataType::float32}};
  job.width = width;
  job.height = height;
  job.band = band;
  job.radius = radius;
  return job;
}

Level level_of(int64_t width, int64_t height, uint32_t tile) {
  Level l;
  l.width = width;
  l.height = height;
  l.tile_width = l.tile_height = tile;
  l.channels = 3;
  return l;
}

TEST(PipelineBands, WindowsAndTileRowsMatchBruteForce) {
  for (int64_t height : {1, 7, 255, 256, 257, 1000}) {
    for (uint32_t tile : {1u, 16u, 256u}) {
      for (int64_t band : {1, 3, 64, 256, 300, 2000}) {
        for (int64_t radius : {0, 1, 3}) {
          if (radius > band) continue;
          BandJob job = job_of(50, height, band, radius);
          Level level = level_of(50, height, tile);
          BandGeometry g = band_geometry(level, job);
          int64_t covered = 0, widest = 0;
          for (int64_t b = 0; b < g.bands; ++b) {
            BandRows r = band_rows(job, g.row_height, b);
            ASSERT_EQ(r.y0, covered);
            covered = r.y1;
            int64_t lo = height, hi = 0, first = -1, last = -1;
            for (int64_t y = 0; y < height; ++y) {
              bool needed = y >= r.y0 - radius && y < r.y1 + radius;
              if (!needed) continue;
              lo = std::min(lo, y);
              hi = std::max(hi, y + 1);
              if (first < 0) first = y / g.row_height;
              last = y / g.row_height;
            }
            EXPECT_EQ(r.in0, lo);
            EXPECT_EQ(r.in1, hi);
            EXPECT_EQ(r.first, first);
            EXPECT_EQ(r.end, last + 1);
            EXPECT_LE(r.in1 - r.in0, g.window_rows);
            widest = std::max(widest, r.end - r.first);
          }
          EXPECT_EQ(covered, height);
          // The row reader reads whole bands' worth of tile-rows at once.
          EXPECT_EQ(g.row_height, tile * std::max<int64_t>(1, (band + tile - 1) / tile));
          EXPECT_EQ(g.tile_rows, (height + g.row_height - 1) / g.row_height);
          // The reader never waits for a slot the band it feeds still needs.
          EXPECT_TRUE(g.ring >= widest + 2 || g.ring == g.tile_rows)
              << "height " << height << " tile " << tile << " band " << band;
          EXPECT_LE(g.ring, g.tile_rows);
        }
      }
    }
  }
}

TEST(PipelineBands, DeviceBytesCountRingWindowAndOutputBands) {
  // The seed slide's shape: 26420 x 19920 RGB, 512 tiles, Sobel to float32.
  BandJob job = job_of(26420, 19920, 512, 1);
  Level level = level_of(26420, 19920, 512);
  level.tiles_across = 52;
  level.tiles_down = 39;
  const uint64_t in_row = 26420 * 3, out_row = 26420 * 12;
  const uint64_t pitch = (in_row + 15) / 16 * 16;  // the window's rows, 16-byte aligned
  std::string why;
  ImageView destination;  // into an image on the GPU: no output bands of its own
  job.image = &destination;
  uint64_t to_image = band_device_bytes(level, job, 1ull << 30, &why);
  // A window touches 3 tile-rows; the row-at-a-time reader works 2 ahead.
  EXPECT_EQ(to_image, 5 * 512 * in_row + 514 * pitch) << why;
  job.image = nullptr;
  job.write = [](int64_t, const ImageView&) {};
  // Three output bands: two being written while the third is computed.
  uint64_t to_writer = band_device_bytes(level, job, 1ull << 30, &why);
  EXPECT_EQ(to_writer, to_image + 3 * 512 * out_row);
  EXPECT_EQ(band_geometry(level, job, 1ull << 30).out_bands, 3);
  // A tighter budget keeps two output bands rather than refusing.
  const uint64_t tight = to_image + 2 * 512 * out_row;
  EXPECT_EQ(band_device_bytes(level, job, tight, &why), tight);
  EXPECT_EQ(band_geometry(level, job, tight).out_bands, 2);

  // Streamed: slots hold the row's stored tiles (52 × 512² × 3 bytes), and the ring deepens by
  // the rows the readers have in flight (16 threads × 4 MiB = 1.6 rows → 2) plus one.
  job.stream.ranges.resize(1);
  job.stream.tile_bytes = 512 * 512 * 3;
  job.read_ahead_bytes = 16ull << 22;
  BandGeometry g = band_geometry(level, job, 1ull << 30);
  EXPECT_EQ(g.slot_bytes, 52u * 512 * 512 * 3);
  EXPECT_EQ(g.ring, 3 + 3);
  EXPECT_EQ(g.out_bands, 3);
  EXPECT_EQ(g.device_bytes, 6 * g.slot_bytes + 514 * pitch + 3 * 512 * out_row);
  EXPECT_LE(g.device_bytes, 1ull << 30);
}

TEST(PipelineBands, WideFloatBandsGoThroughHostMemoryWithinTheBudget) {
  // The seed slide streamed to a float32 Sobel: three device bands (3 × 162 MB) do not fit 448
  // MiB, so the bands are copied down to pinned host memory and one stays on the device.
  BandJob job = job_of(26420, 19920, 512, 1);
  Level level = level_of(26420, 19920, 512);
  level.tiles_across = 52;
  level.tiles_down = 39;
  job.write = [](int64_t, const ImageView&) {};
  job.stream.ranges.resize(1);
  job.stream.tile_bytes = 512 * 512 * 3;
  job.read_ahead_bytes = 16ull << 22;
  const uint64_t budget = 448ull << 20;
  const uint64_t in_row = 26420 * 3, out_row = 26420 * 12;
  const uint64_t pitch = (in_row + 15) / 16 * 16;
  BandGeometry g = band_geometry(level, job, budget);
  EXPECT_TRUE(g.host_out);
  EXPECT_EQ(g.out_bands, 3);
  EXPECT_EQ(g.device_out_bands, 1);
  EXPECT_EQ(g.ring, 3 + 3);
  EXPECT_EQ(g.device_bytes, 6 * g.slot_bytes + 514 * pitch + 512 * out_row);
  EXPECT_LE(g.device_bytes, budget);
  std::string why;
  EXPECT_EQ(band_device_bytes(level, job, budget, &why), g.device_bytes) << why;
  // Device bands where they fit (uint8 output), and always host bands when the job asks.
  job.formats.back() = ops::PixelFormat{3, DataType::uint8};
  g = band_geometry(level, job, budget);
  EXPECT_FALSE(g.host_out);
  EXPECT_EQ(g.device_out_bands, g.out_bands);
  job.host_bands = true;
  g = band_geometry(level, job, budget);
  EXPECT_TRUE(g.host_out);
  EXPECT_EQ(g.device_out_bands, 1);
}

TEST(PipelineBands, RefusesWhatTheSlotExecutorMustDo) {
  std::string why;
  BandJob job = job_of(100, 100, 2, 3);
  EXPECT_EQ(band_device_bytes(level_of(100, 100, 16), job, 1ull << 30, &why), 0u);
  EXPECT_NE(why.find("halo"), std::string::npos);
  job = job_of(100, 100, 16, 1);
  EXPECT_EQ(band_device_bytes(level_of(100, 100, 0), job, 1ull << 30, &why), 0u);
  job.chain.clear();
  EXPECT_EQ(band_device_bytes(level_of(100, 100, 16), job, 1ull << 30, &why), 0u);
  job = job_of(100000, 100000, 4096, 1);
  EXPECT_EQ(band_device_bytes(level_of(100000, 100000, 4096), job, 1ull << 30, &why), 0u);
  EXPECT_NE(why.find("budget"), std::string::npos);
}

namespace fs = std::filesystem;

// Rebuilds `level` of `slide` on the host the way the streamed GPU path does: every planned
// range read from the file, its copies applied to the row's slot of a `ring`-deep ring in tile
// layout, rows gathered back through tile_ring_offset as soon as their tile-row is in.
Image stream_on_host(const Slide& slide, int level, const RawRowPlan& plan, int64_t ring) {
  const Level& l = slide.level(level);
  const size_t pixel = size_of(l.dtype) * static_cast<size_t>(l.channels);
  TileRingLayout layout;
  layout.tile_height = l.tile_height;
  layout.tile_row_bytes = uint64_t{l.tile_width} * pixel;
  layout.tile_bytes = plan.tile_bytes;
  layout.slot_bytes = static_cast<uint64_t>(l.tiles_across) * plan.tile_bytes;
  layout.ring = ring;
  std::vector<std::byte> slots(layout.slot_bytes * static_cast<uint64_t>(ring), std::byte{0xee});
  io::File file(slide.path(), io::File::Mode::read);
  Image out = Image::allocate(l.width, l.height, l.channels, l.dtype);
  const size_t row_bytes = static_cast<size_t>(l.width) * pixel;
  size_t next = 0;
  for (int64_t row = 0; row < l.tiles_down; ++row) {
    for (; next < plan.ranges.size() && plan.ranges[next].row == row; ++next) {
      const RowRange& r = plan.ranges[next];
      std::vector<std::byte> bytes(r.end - r.begin);
      size_t got = file.read_some(bytes, r.begin);
      EXPECT_GE(got, r.needed);
      std::byte* slot = slots.data() + static_cast<uint64_t>(row % ring) * layout.slot_bytes;
      for (const RowCopy& c : r.copies) {
        EXPECT_LE(c.to + c.bytes, layout.slot_bytes);
        std::memcpy(slot + c.to, bytes.data() + c.from, c.bytes);
      }
    }
    const int64_t y1 = std::min<int64_t>(l.height, (row + 1) * l.tile_height);
    for (int64_t y = row * l.tile_height; y < y1; ++y) {
      std::byte* dst = out.view().row(y);
      for (uint64_t x = 0; x < row_bytes; ++x) dst[x] = slots[tile_ring_offset(layout, y, x)];
    }
  }
  EXPECT_EQ(next, plan.ranges.size());
  return out;
}

TEST(PipelineBands, StreamedRangesRebuildEveryUncompressedLevelExactly) {
  int checked = 0;
  for (const char* name : {"vips-none-256.tif", "vips-none-bigtiff-512.tif"}) {
    const fs::path path = test::fixture_dir() / name;
    if (!fs::exists(path)) continue;
    Slide slide = Slide::open(path);
    for (int level = 0; level < static_cast<int>(slide.levels().size()); ++level) {
      const Level& l = slide.level(level);
      Image expected = slide.read_level(level);
      // Ranges of one tile and of many (merged copies), rings that wrap and one that does not.
      for (uint64_t task : {uint64_t{1}, uint64_t{1} << 20, uint64_t{4} << 20}) {
        std::string why;
        RawRowPlan plan = plan_raw_rows(slide, level, task, &why);
        ASSERT_FALSE(plan.ranges.empty()) << name << " level " << level << ": " << why;
        ASSERT_EQ(plan.ranges_in_row.size(), static_cast<size_t>(l.tiles_down));
        // Every tile of every row lands exactly once, each range is page-aligned and stays
        // within the task size unless it holds a single tile.
        size_t at = 0;
        for (int64_t row = 0; row < l.tiles_down; ++row) {
          std::set<uint64_t> starts;
          uint64_t bytes = 0;
          for (int k = 0; k < plan.ranges_in_row[static_cast<size_t>(row)]; ++k, ++at) {
            const RowRange& r = plan.ranges[at];
            ASSERT_EQ(r.row, row);
            ASSERT_EQ(r.index, k);
            EXPECT_EQ(r.begin % 4096, 0u);
            EXPECT_EQ(r.end % 4096, 0u);
            EXPECT_LE(r.needed, r.end - r.begin);
            EXPECT_LE(r.end - r.begin, plan.max_range_bytes);
            for (const RowCopy& c : r.copies) {
              EXPECT_EQ(c.to % plan.tile_bytes, 0u);
              EXPECT_EQ(c.bytes % plan.tile_bytes, 0u);
              for (uint64_t t = c.to; t < c.to + c.bytes; t += plan.tile_bytes) {
                EXPECT_TRUE(starts.insert(t).second) << "tile at " << t << " copied twice";
              }
              bytes += c.bytes;
            }
          }
          EXPECT_EQ(bytes, static_cast<uint64_t>(l.tiles_across) * plan.tile_bytes);
        }
        for (int64_t ring : {int64_t{1}, int64_t{2}, l.tiles_down}) {
          Image streamed = stream_on_host(slide, level, plan, ring);
          for (int64_t y = 0; y < l.height; ++y) {
            ASSERT_EQ(std::memcmp(streamed.view().row(y), expected.view().row(y),
                                  expected.view().row_bytes()),
                      0)
                << name << " level " << level << " task " << task << " ring " << ring << " row "
                << y;
          }
        }
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no uncompressed fixtures in " << test::fixture_dir();
}

TEST(PipelineBands, StreamingRefusesLevelsThatNeedDecoding) {
  int checked = 0;
  for (const auto& [name, reason] :
       std::vector<std::pair<const char*, const char*>>{{"tf-jpeg-256.tif", "jpeg"},
                                                        {"tf-lzw-pred-256.tif", "lzw"},
                                                        {"tf-float32-none-256.tif", "byte order"},
                                                        {"tf-float32-bigendian-fpred-128.tif", ""},
                                                        {"tf-planar-deflate-256.tif", ""}}) {
    const fs::path path = test::fixture_dir() / name;
    if (!fs::exists(path)) continue;
    Slide slide = Slide::open(path);
    std::string why;
    EXPECT_TRUE(plan_raw_rows(slide, 0, 4 << 20, &why).ranges.empty()) << name;
    EXPECT_FALSE(why.empty()) << name;
    EXPECT_NE(why.find(reason), std::string::npos) << name << ": " << why;
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no compressed fixtures in " << test::fixture_dir();
}

// Sets entry `index` of tag `tag` (a LONG array: 324 TileOffsets, 325 TileByteCounts) in the
// first directory of a classic little-endian TIFF to `value`, in place: a damaged or sparse
// file made from a good one.
void patch_tile_entry(const fs::path& path, uint16_t tag, size_t index, uint32_t value) {
  io::File f(path, io::File::Mode::read_write);
  auto u16 = [&](uint64_t at) {
    uint16_t v = 0;
    f.read_exact(std::as_writable_bytes(std::span(&v, 1)), at);
    return v;
  };
  auto u32 = [&](uint64_t at) {
    uint32_t v = 0;
    f.read_exact(std::as_writable_bytes(std::span(&v, 1)), at);
    return v;
  };
  ASSERT_EQ(u16(0), 0x4949) << "not a little-endian TIFF";
  ASSERT_EQ(u16(2), 42) << "not a classic TIFF";
  const uint32_t ifd = u32(4);
  for (uint16_t i = 0, n = u16(ifd); i < n; ++i) {
    const uint64_t entry = ifd + 2 + 12 * uint64_t{i};
    if (u16(entry) != tag) continue;
    ASSERT_EQ(u16(entry + 2), 4) << "tag " << tag << " is not LONG";
    const uint32_t count = u32(entry + 4);
    ASSERT_LT(index, count);
    const uint64_t at = count == 1 ? entry + 8 : u32(entry + 8) + 4 * uint64_t{index};
    f.write_exact(std::as_bytes(std::span(&value, 1)), at);
    return;
  }
  FAIL() << "no tag " << tag << " in the first directory";
}

TEST(PipelineBands, StreamingRefusesAbsentTiles) {
  // (Tiles past the end of the file never get this far: opening the slide refuses them.)
  const fs::path source = test::fixture_dir() / "vips-none-256.tif";
  ASSERT_TRUE(fs::exists(source)) << source;
  const fs::path dir = test::scratch_dir("pipeline_bands_absent");
  const fs::path sparse = dir / "sparse.tif";
  fs::copy_file(source, sparse);
  patch_tile_entry(sparse, 324, 1, 0);  // TileOffsets[1] and TileByteCounts[1] = 0: tile (1, 0)
  patch_tile_entry(sparse, 325, 1, 0);  // is absent, as sparse writers leave it
  Slide slide = Slide::open(sparse);
  ASSERT_EQ(slide.tile_location(0, 1, 0).byte_count, 0u);
  std::string why;
  EXPECT_TRUE(plan_raw_rows(slide, 0, 4 << 20, &why).ranges.empty());
  EXPECT_NE(why.find("tile (1, 0) is absent"), std::string::npos) << why;
  EXPECT_FALSE(plan_raw_rows(Slide::open(source), 0, 4 << 20, &why).ranges.empty());
}

}  // namespace
}  // namespace slidestream::pipeline
