// The GPU read path, called by the region reader (src/read/) when the destination view lives on
// a GPU. Implemented under src/read/cuda/ when built with CUDA; callers guard with
// SLIDESTREAM_HAVE_CUDA and throw Error(unsupported) otherwise.
#pragma once

#include <cstdint>

#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::read {

// Reads [x, x+width) × [y, y+height) of `level` into `out` (out.device == Device::cuda, at least
// width × height, any row pitch). Pixels outside the level get options.fill.
void read_region_gpu(const Slide::Impl& slide, int level, int64_t x, int64_t y, int64_t width,
                     int64_t height, const ImageView& out, const ReadOptions& options,
                     ReadReport* report);

}  // namespace slidestream::read

namespace slidestream::read {

struct BatchPlan;  // read/region_batch.hpp

// A planned batch (slidestream/regions.hpp) into `out` (GPU memory, plan.width wide and
// regions × plan.height tall): each tile decoded once, on nvJPEG's engines and CPU threads,
// into a device tile arena, then every piece placed by one kernel. Pixels equal the host read's.
// `cache` (may be null) keeps decoded tiles in GPU memory between batches.
void read_regions_gpu(const Slide::Impl& slide, int level, const BatchPlan& plan,
                      const ImageView& out, const ReadOptions& options, TileCache* cache,
                      ReadReport* report);

}  // namespace slidestream::read
