// convert_patches (slidestream/patches.hpp): a lookup table per channel (256 values, float32 or
// float16 bits) made here once per call, then a table lookup per sample on the CPU threads or in
// a CUDA kernel (patches/cuda/convert.cu), so both give the same bytes.
#include "patches/convert.hpp"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.hpp"
#include "slidestream/error.hpp"
#include "slidestream/patches.hpp"

namespace slidestream {
namespace patches {

uint16_t half_bits(float value) {
  uint32_t f;
  std::memcpy(&f, &value, 4);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u)
    return static_cast<uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0));
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to infinity
  if (abs < 0x38800000u) {  // a subnormal half (or zero)
    const uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
    const int shift = 113 - static_cast<int>(abs >> 23);
    if (shift > 24) return static_cast<uint16_t>(sign);
    const uint32_t kept = mantissa >> shift, rest = mantissa & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    const uint32_t rounded = kept + (rest > half || (rest == half && (kept & 1)));
    return static_cast<uint16_t>(sign | rounded);
  }
  const uint32_t biased = abs - 0x38000000u;  // exponent re-biased from 127 to 15
  const uint32_t kept = biased >> 13, rest = biased & 0x1FFFu;
  const uint32_t rounded = kept + (rest > 0x1000u || (rest == 0x1000u && (kept & 1)));
  return static_cast<uint16_t>(sign | rounded);
}

std::vector<uint32_t> value_table(int channels, PatchDtype dtype, const std::vector<float>& mean,
                                  const std::vector<float>& std) {
  std::vector<uint32_t> table(static_cast<size_t>(channels) * 256);
  for (int c = 0; c < channels; ++c) {
    const float m = mean.empty() ? 0.0f : mean[c];
    const float s = std.empty() ? 1.0f : std[c];
    for (int v = 0; v < 256; ++v) {
      const float x = (static_cast<float>(v) / 255.0f - m) / s;
      uint32_t bits = 0;
      if (dtype == PatchDtype::float32) {
        std::memcpy(&bits, &x, 4);
      } else {
        bits = half_bits(x);
      }
      table[static_cast<size_t>(c) * 256 + v] = bits;
    }
  }
  return table;
}

}  // namespace patches

void convert_patches(const ImageView& in, std::byte* out, PatchDtype dtype,
                     const std::vector<float>& mean, const std::vector<float>& std) {
  if (in.dtype != DataType::uint8) {
    throw Error(ErrorKind::invalid_argument, "convert_patches: the input must be uint8");
  }
  const auto channels = static_cast<size_t>(in.channels);
  if ((!mean.empty() && mean.size() != channels) || (!std.empty() && std.size() != channels)) {
    throw Error(ErrorKind::invalid_argument,
                "normalize: mean and std need " + std::to_string(channels) + " values each");
  }
  for (float s : std) {
    if (!(s != 0.0f) || !std::isfinite(s)) {
      throw Error(ErrorKind::invalid_argument, "normalize: std must be finite and non-zero");
    }
  }
  if (in.width == 0 || in.height == 0) return;
  const std::vector<uint32_t> table = patches::value_table(in.channels, dtype, mean, std);
  if (in.device == Device::cuda) {
#if SLIDESTREAM_HAVE_CUDA
    patches::convert_cuda(in, out, dtype, table);
    return;
#else
    throw Error(ErrorKind::unsupported, "GPU memory needs a build with SLIDESTREAM_CUDA=ON");
#endif
  }
  const size_t row_samples = static_cast<size_t>(in.width) * channels;
  const size_t element = dtype == PatchDtype::float32 ? 4 : 2;
  ThreadPool::shared().parallel_for(static_cast<size_t>(in.height), [&](size_t y) {
    const auto* src = reinterpret_cast<const uint8_t*>(in.row(static_cast<int64_t>(y)));
    std::byte* dst = out + y * row_samples * element;
    for (size_t i = 0; i < row_samples; ++i) {
      const uint32_t bits = table[(i % channels) * 256 + src[i]];
      if (element == 4) {
        std::memcpy(dst + i * 4, &bits, 4);
      } else {
        const auto h = static_cast<uint16_t>(bits);
        std::memcpy(dst + i * 2, &h, 2);
      }
    }
  });
}

}  // namespace slidestream
