// The kernels behind ops::apply: the CPU ones in cpu_kernels.cpp, the CUDA ones in cuda/kernels.cu,
// each reached through the op table (op_table.cpp) by one signature, KernelCall. Arguments are
// already validated by ops.cpp: views are non-empty, formats match, `in` covers out's area plus
// the halo (clipped to the image).
#pragma once

#include <cstddef>
#include <memory>

#include "ops/pointwise.hpp"
#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"

namespace slidestream::ops::detail {

// One kernel pass. `pointwise` is the colour op the kernel runs per pixel: for a colour op its
// own parameters; for a neighbourhood op (Sobel) the colour op fused before it (computed as the
// kernel reads its input, with the same float operations as the unfused chain), or none.
struct KernelCall {
  const Op& op;
  const PointwiseParams& pointwise;
  const ImageView& in;
  Window in_at;
  const ImageView& out;
  Window out_at;
  ImageExtent image;
  void* stream = nullptr;  // a cudaStream_t for the CUDA kernels
};
using Kernel = void (*)(const KernelCall&);

// A pointwise op over out's area of `in`; a per-channel Sobel (uint8 or float32 output, as
// `out` is) of the fused colour op over `in`.
void pointwise_cpu(const KernelCall& call);
void sobel_cpu(const KernelCall& call);
void downsample2_cpu(const ImageView& in, const ImageView& out);

#if SLIDESTREAM_HAVE_CUDA
void pointwise_cuda(const KernelCall& call);
void sobel_cuda(const KernelCall& call);
void downsample2_cuda(const ImageView& in, const ImageView& out, void* stream);

// Stream-ordered device memory (cudaMallocAsync / cudaFreeAsync) for a chain's intermediates,
// so that running a chain never synchronises the device.
std::shared_ptr<std::byte> allocate_on_stream(size_t bytes, int device, void* stream);
#endif

}  // namespace slidestream::ops::detail
