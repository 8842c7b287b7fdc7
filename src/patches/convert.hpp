// Inside convert_patches (slidestream/patches.hpp): the per-channel value table and the GPU
// pass, shared by patches/convert.cpp and patches/cuda/convert.cu.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "slidestream/image.hpp"
#include "slidestream/patches.hpp"

namespace slidestream::patches {

// IEEE binary16 bits of `value`, rounded to nearest even (infinities and NaN kept).
uint16_t half_bits(float value);
// channels × 256 entries: float32 bits, or float16 bits in the low half.
std::vector<uint32_t> value_table(int channels, PatchDtype dtype, const std::vector<float>& mean,
                                  const std::vector<float>& std);
#if SLIDESTREAM_HAVE_CUDA
// Looks every sample of `in` (GPU memory) up in `table`; returns when `out` is complete.
void convert_cuda(const ImageView& in, std::byte* out, PatchDtype dtype,
                  const std::vector<uint32_t>& table);
#endif

}  // namespace slidestream::patches
