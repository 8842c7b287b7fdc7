// The op kernels behind ops::apply, one entry per kind of work, with the CPU implementation in
// cpu_kernels.cpp and the CUDA one in cuda/kernels.cu. Arguments are already validated by
// ops.cpp: views are non-empty, formats match, `in` covers out's area plus the halo (clipped to
// the image).
#pragma once

#include <cstddef>
#include <memory>

#include "ops/pointwise.hpp"
#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"

namespace slidestream::ops::detail {

// Per-channel Sobel of the pointwise op `pre` applied to `in` (fused: the pointwise result is
// computed as the Sobel reads it, with the same float operations as the unfused chain).
struct SobelJob {
  PointwiseParams pre;
  bool out_u8 = false;
};

// A pointwise op over `in` (already cropped to out's area) into `out`, same width and height.
void pointwise_cpu(const PointwiseParams& params, const ImageView& in, const ImageView& out);
void sobel_cpu(const SobelJob& job, const ImageView& in, Window in_at, const ImageView& out,
               Window out_at, ImageExtent image);
void downsample2_cpu(const ImageView& in, const ImageView& out);

#if SLIDESTREAM_HAVE_CUDA
void pointwise_cuda(const PointwiseParams& params, const ImageView& in, const ImageView& out,
                    void* stream);
void sobel_cuda(const SobelJob& job, const ImageView& in, Window in_at, const ImageView& out,
                Window out_at, ImageExtent image, void* stream);
void downsample2_cuda(const ImageView& in, const ImageView& out, void* stream);

// Stream-ordered device memory (cudaMallocAsync / cudaFreeAsync) for a chain's intermediates,
// so that running a chain never synchronises the device.
std::shared_ptr<std::byte> allocate_on_stream(size_t bytes, int device, void* stream);
#endif

}  // namespace slidestream::ops::detail
