// What the GPU read paths (the region reader, read/cuda/gpu_read.cpp, and the batched reader,
// read/cuda/gpu_batch_read.cpp) share about nvJPEG and their output: which levels and which
// streams go to nvJPEG's hardware engines so that the pixels equal libjpeg-turbo's, the batch
// and worker counts measured on the lent GPUs, and the check of a caller's device view.
#pragma once

#include <cstdint>
#include <span>

#include "codec/jpeg_ycc.hpp"
#include "slidestream/image.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::read {

inline constexpr int kMaxNvjpegBatch = 256;
// Tiles per nvJPEG batch and batch decoders per read (Settings::nvjpeg_batch / nvjpeg_workers).
int nvjpeg_batch();
int nvjpeg_workers();

// YCbCr 8-bit interleaved JPEG levels only: how an RGB-tagged TIFF JPEG's colour space is
// guessed differs between decoders.
bool nvjpeg_can_take(const Level& level);

// Whether nvJPEG's hardware engines plus ycc_to_rgb give exactly what libjpeg-turbo gives for
// this stream (JPEGTables merged in); fills *shape with its planes' geometry when they do.
bool gpu_decodable(const Level& level, std::span<const std::byte> stream,
                   codec::ycc::Planes* shape);

// Throws invalid_argument unless `out` is device memory on out.cuda_device that takes
// width × height pixels of the level.
void check_gpu_output(const Slide::Impl& slide, const Level& l, int level, int64_t width,
                      int64_t height, const ImageView& out);

}  // namespace slidestream::read
