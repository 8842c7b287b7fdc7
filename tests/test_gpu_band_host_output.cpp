// The band executor's output through pinned host memory (BandGeometry::host_out): when device
// output bands do not fit the device budget (wide float32 results), each band is copied down and
// a single device band is reused in stream order. Proved here on the GPU: with a budget that
// leaves room only for that, every band the writer gets equals the CPU's global result, for
// streamed and row-read levels (band 600: each read takes several of the slide's tile-rows),
// bands that divide nothing, and a chain with a halo.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/band.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

namespace fs = std::filesystem;

#if SLIDESTREAM_HAVE_CUDA

using pipeline::BandGeometry;
using pipeline::BandJob;

// The job pipeline::process would make for the band executor, writing into host memory.
BandJob job_for(const Slide& slide, const std::vector<ops::Op>& chain, int64_t band) {
  const Level& level = slide.level(0);
  BandJob job;
  job.slide = &slide;
  job.level = 0;
  job.chain = chain;
  job.formats = {ops::PixelFormat{level.channels, level.dtype}};
  for (const auto& op : chain) job.formats.push_back(ops::output_format(op, job.formats.back()));
  job.width = level.width;
  job.height = level.height;
  job.band = band;
  job.radius = ops::halo_radius(chain);
  job.read.device = Device::cuda;
  job.read.threads = 4;
  job.read.gpu_jpeg = true;
  return job;
}

TEST(GpuBandHostOutput, BandsThroughHostMemoryEqualTheCpu) {
  SLIDESTREAM_REQUIRE_GPU();
  int checked = 0;
  for (const char* name :
       {"vips-none-256.tif", "vips-none-bigtiff-512.tif", "vips-jpeg90-256.tif"}) {
    const fs::path path = test::fixture_dir() / name;
    if (!fs::exists(path)) continue;
    Slide slide = Slide::open(path);
    for (const std::vector<std::string>& names :
         {std::vector<std::string>{"sobel"}, std::vector<std::string>{"grey", "sobel", "sobel"}}) {
      std::vector<ops::Op> chain;
      std::string chain_text;
      for (const auto& n : names) {
        chain.push_back(ops::parse_op(n));
        chain_text += (chain_text.empty() ? "" : ",") + n;
      }
      pipeline::Options cpu_options;
      cpu_options.mode = pipeline::Mode::global;
      Image cpu = pipeline::process_to_image(slide, chain, cpu_options);
      for (int64_t band : {int64_t{97}, int64_t{256}, int64_t{600}}) {
        for (bool streamed : {false, true}) {
          BandJob job = job_for(slide, chain, band);
          if (streamed) {
            job.stream = pipeline::plan_raw_rows(slide, 0, 4u << 20, nullptr);
            if (job.stream.ranges.empty()) continue;  // not plainly uncompressed
          }
          const std::string what = std::string(name) + " " + chain_text + " band " +
                                   std::to_string(band) + (streamed ? " streamed" : " rows");
          Image got = Image::allocate(job.width, job.height, job.formats.back().channels,
                                      job.formats.back().dtype);
          std::mutex mutex;
          job.write = [&](int64_t y, const ImageView& b) {
            ASSERT_EQ(b.device, Device::cpu) << what;
            std::lock_guard lock(mutex);
            for (int64_t r = 0; r < b.height; ++r) {
              std::memcpy(got.view().row(y + r), b.row(r), b.row_bytes());
            }
          };
          // A budget with room for one device band only: the bands must go through the host.
          BandGeometry device_bands = pipeline::band_geometry(slide.level(0), job);
          ASSERT_FALSE(device_bands.host_out) << what;
          const uint64_t one_band = static_cast<uint64_t>(band) * device_bands.out_row_bytes;
          job.device_budget = device_bands.device_bytes - (device_bands.out_bands - 1) * one_band;
          BandGeometry g = pipeline::band_geometry(slide.level(0), job, job.device_budget);
          ASSERT_TRUE(g.host_out) << what;
          ASSERT_EQ(g.device_out_bands, 1) << what;
          pipeline::run_bands(job);
          ASSERT_EQ(std::memcmp(got.data(), cpu.data(), cpu.size_bytes()), 0) << what;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 0) << "no fixtures in " << test::fixture_dir();
}

#endif

}  // namespace
}  // namespace slidestream
