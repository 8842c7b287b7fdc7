// Regions at a target resolution (slidestream/regions.hpp: read_regions_at_mpp): the batch is
// read at the best level with read_regions (tiles decoded once, cache, GPU or host), then
// area-averaged to the target by ops/area_resample on the same device.
#include <cmath>
#include <memory>
#include <string>

#include "ops/area_resample.hpp"
#include "read/region_reader.hpp"
#include "slidestream/error.hpp"
#include "slidestream/regions.hpp"

namespace slidestream {

MppSource mpp_source(const Slide& slide, double mpp, int64_t width, int64_t height) {
  const std::string path = slide.path().string();
  if (!slide.mpp_x() || !slide.mpp_y() || *slide.mpp_x() <= 0 || *slide.mpp_y() <= 0) {
    throw Error(ErrorKind::invalid_argument,
                "the slide does not say its resolution (no openslide.mpp-x / mpp-y): read at a "
                "level instead of at an mpp",
                {path});
  }
  if (!(mpp > 0) || !std::isfinite(mpp)) {
    throw Error(ErrorKind::invalid_argument, "mpp must be positive, got " + std::to_string(mpp),
                {path});
  }
  const double mx = *slide.mpp_x(), my = *slide.mpp_y();
  constexpr double kSlack = 1 + 1e-6;
  if (mpp * kSlack < std::max(mx, my)) {
    throw Error(ErrorKind::invalid_argument,
                "mpp " + std::to_string(mpp) + " is finer than level 0's (" + std::to_string(mx) +
                    " x " + std::to_string(my) + "): area averaging does not upsample",
                {path});
  }
  MppSource s;
  for (const Level& l : slide.levels()) {
    if (std::max(mx, my) * l.downsample <= mpp * kSlack) s.level = l.index;
  }
  const double ds = slide.level(s.level).downsample;
  s.factor_x = std::max(1.0, mpp / (mx * ds));
  s.factor_y = std::max(1.0, mpp / (my * ds));
  s.source_width = ops::area_axis(width, s.factor_x).source_extent;
  s.source_height = ops::area_axis(height, s.factor_y).source_extent;
  return s;
}

namespace {

// The batch's regions at the source level, before resampling, on the output's device. On a GPU
// from the stream-ordered pool (ops::device_scratch): a cudaMalloc and cudaFree of a batch's
// source (about 200 MB for 1,024 patches) per call would cost their own time, and the cudaFree
// would wait for the whole device, a model running beside the loader included.
struct SourceRegions {
  Image host;
  std::shared_ptr<std::byte> device_memory;
  ImageView view;
};

SourceRegions source_regions(const MppSource& source, int64_t n, const Level& l,
                             const ImageView& out) {
  SourceRegions s;
  if (out.device == Device::cuda) {
#if SLIDESTREAM_HAVE_CUDA
    s.view = ImageView{.width = source.source_width,
                       .height = n * source.source_height,
                       .channels = l.channels,
                       .dtype = l.dtype,
                       .device = Device::cuda,
                       .cuda_device = out.cuda_device};
    s.view.row_pitch = s.view.row_bytes();
    s.device_memory = ops::device_scratch(s.view.tight_bytes(), out.cuda_device);
    s.view.data = s.device_memory.get();
    return s;
#endif
  }
  s.host = Image::allocate(source.source_width, n * source.source_height, l.channels, l.dtype);
  s.view = s.host.view();
  return s;
}

}  // namespace

void read_regions_at_mpp(const Slide& slide, double mpp, std::span<const RegionLocation> locations,
                         int64_t width, int64_t height, const ImageView& out,
                         const ReadOptions& options, TileCache* cache, ReadReport* report) {
  if (width < 0 || height < 0) {
    throw Error(ErrorKind::invalid_argument, "negative region size", {slide.path().string()});
  }
  const MppSource source = mpp_source(slide, mpp, width, height);
  const Level& l = slide.level(source.level);
  if (l.dtype != DataType::uint8) {
    throw Error(ErrorKind::unsupported, "reads at an mpp need uint8 levels",
                {slide.path().string(), source.level});
  }
  const int64_t n = static_cast<int64_t>(locations.size());
  const std::string problem = read::output_view_problem(l, out.device, width, n * height, out);
  if (!problem.empty()) {
    throw Error(ErrorKind::invalid_argument, problem, {slide.path().string(), source.level});
  }
  const ops::AreaAxis ax = ops::area_axis(width, source.factor_x);
  const ops::AreaAxis ay = ops::area_axis(height, source.factor_y);
  const bool identity = ax.source_extent == width && ay.source_extent == height;
  if (identity) {
    read_regions(slide, source.level, locations, width, height, out, options, cache, report);
    return;
  }
  ReadOptions at_source = options;
  at_source.device = out.device;
  at_source.cuda_device = out.cuda_device;
  const SourceRegions src = source_regions(source, n, l, out);
  read_regions(slide, source.level, locations, source.source_width, source.source_height, src.view,
               at_source, cache, report);
  if (n == 0 || width == 0 || height == 0) return;
  if (out.device == Device::cuda) {
#if SLIDESTREAM_HAVE_CUDA
    ops::area_resample_cuda(src.view, out.crop(0, 0, width, n * height), n, ax, ay);
    return;
#endif
  }
  ops::area_resample_cpu(src.view, out.crop(0, 0, width, n * height), n, ax, ay, options.threads);
}

Image read_regions_at_mpp(const Slide& slide, double mpp, std::span<const RegionLocation> locations,
                          int64_t width, int64_t height, const ReadOptions& options,
                          TileCache* cache) {
  if (width < 0 || height < 0) {
    throw Error(ErrorKind::invalid_argument, "negative region size", {slide.path().string()});
  }
  const Level& l = slide.level(mpp_source(slide, mpp, width, height).level);
  Image image = Image::allocate(width, static_cast<int64_t>(locations.size()) * height, l.channels,
                                l.dtype, options.device, options.cuda_device);
  read_regions_at_mpp(slide, mpp, locations, width, height, image.view(), options, cache);
  return image;
}

}  // namespace slidestream
