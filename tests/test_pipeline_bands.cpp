// The band executor's geometry (pipeline/band.hpp), checked against brute force: every band's
// window holds exactly the rows within the halo of its output rows, clipped to the level; the
// tile-rows it touches are exactly those holding those rows; the ring is deep enough for the
// reader to stay ahead; and the executor refuses what it cannot do (the slot executor runs then).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "pipeline/band.hpp"

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
              if (first < 0) first = y / tile;
              last = y / tile;
            }
            EXPECT_EQ(r.in0, lo);
            EXPECT_EQ(r.in1, hi);
            EXPECT_EQ(r.first, first);
            EXPECT_EQ(r.end, last + 1);
            EXPECT_LE(r.in1 - r.in0, g.window_rows);
            widest = std::max(widest, r.end - r.first);
          }
          EXPECT_EQ(covered, height);
          EXPECT_EQ(g.tile_rows, (height + tile - 1) / tile);
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
  const uint64_t in_row = 26420 * 3, out_row = 26420 * 12;
  std::string why;
  ImageView destination;  // into an image on the GPU: no output bands of its own
  job.image = &destination;
  uint64_t to_image = band_device_bytes(level, job, 1ull << 30, &why);
  EXPECT_EQ(to_image, 5 * 512 * in_row + 514 * in_row) << why;
  job.image = nullptr;
  job.write = [](int64_t, const ImageView&) {};
  uint64_t to_host = band_device_bytes(level, job, 1ull << 30, &why);
  EXPECT_EQ(to_host, to_image + 2 * 512 * out_row);
  EXPECT_LE(to_host, 1ull << 30);
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

}  // namespace
}  // namespace slidestream::pipeline
