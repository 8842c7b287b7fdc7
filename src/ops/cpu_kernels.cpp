// CPU kernels: rows in parallel on the shared ThreadPool, inner loops over flat channel-interleaved
// float rows that the compiler can vectorise. The arithmetic is kernel_math.hpp's, in the same
// order as the CUDA kernels.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "core/thread_pool.hpp"
#include "ops/kernels.hpp"
#include "slidestream/error.hpp"

namespace slidestream::ops::detail {
namespace {

// Below this many output values a call runs on the calling thread: waking the pool costs more.
constexpr int64_t kSerialWork = int64_t{1} << 16;

// Runs body(row_begin, row_end) over [0, rows) in blocks, in parallel when the work is large.
template <typename Body>
void for_row_blocks(int64_t rows, int64_t values_per_row, const Body& body) {
  if (rows <= 0) return;
  auto& pool = ThreadPool::shared();
  if (rows * values_per_row < kSerialWork || pool.size() <= 1 || rows == 1) {
    body(int64_t{0}, rows);
    return;
  }
  int64_t blocks_wanted = int64_t{pool.size() + 1} * 4;
  int64_t block = std::max<int64_t>(1, (rows + blocks_wanted - 1) / blocks_wanted);
  int64_t blocks = (rows + block - 1) / block;
  pool.parallel_for(static_cast<size_t>(blocks), [&](size_t b) {
    int64_t begin = static_cast<int64_t>(b) * block;
    body(begin, std::min(rows, begin + block));
  });
}

// sqrt over n values, then stored as float or scaled uint8. _mm_sqrt_ps and std::sqrt are both
// the correctly rounded IEEE square root; the intrinsic only avoids the errno check that stops
// compilers from vectorising std::sqrt.
void finish_row(float* s, int64_t n, std::byte* out, bool out_u8) {
  int64_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(s + i, _mm_sqrt_ps(_mm_loadu_ps(s + i)));
#endif
  for (; i < n; ++i) s[i] = math::sqrt(s[i]);
  if (out_u8) {
    auto* o = reinterpret_cast<uint8_t*>(out);
    for (int64_t k = 0; k < n; ++k) o[k] = math::to_u8_scaled(s[k]);
  } else {
    std::memcpy(out, s, static_cast<size_t>(n) * sizeof(float));
  }
}

template <Pointwise K, typename T>
void sobel_typed(const PointwiseParams& pre, bool out_u8, const ImageView& in, Window in_at,
                 const ImageView& out, Window out_at, ImageExtent image) {
  const int in_c = in.channels;
  const int c = pointwise_channels(K, in_c);
  const int64_t w = out.width;
  const int64_t row_values = (w + 2) * c;

  // Input column (within `in`) of each buffer column: out's columns with one each side, the
  // border rule applied to the image.
  std::vector<int64_t> columns(static_cast<size_t>(w + 2));
  for (int64_t k = 0; k < w + 2; ++k) {
    columns[static_cast<size_t>(k)] = math::reflect(out_at.x - 1 + k, image.width) - in_at.x;
  }
  auto input_row = [&](int64_t out_y) {  // `in` row of image row out_at.y + out_y
    return math::reflect(out_at.y + out_y, image.height) - in_at.y;
  };

  for_row_blocks(out.height, w * c, [&](int64_t y_begin, int64_t y_end) {
    std::vector<float> buffer(static_cast<size_t>(row_values * 3 + w * c));
    float* rows[3] = {buffer.data(), buffer.data() + row_values, buffer.data() + 2 * row_values};
    float* sums = buffer.data() + 3 * row_values;
    // Columns 1..w are out's own, contiguous in `in`; only 0 and w + 1 go through the border
    // rule. Without a colour op the interior is one flat, vectorisable loop.
    const int64_t interior = columns[1];
    auto convert = [&](int64_t in_row, float* dst) {
      const T* src = reinterpret_cast<const T*>(in.row(in_row));
      for (int64_t k : {int64_t{0}, w + 1}) {
        pointwise_pixel<K>(pre, pre.table, src + columns[static_cast<size_t>(k)] * in_c, in_c,
                           dst + k * c);
      }
      const T* s = src + interior * in_c;
      float* d = dst + c;
      if constexpr (K == Pointwise::none) {
        for (int64_t i = 0; i < w * c; ++i) d[i] = to_float(s[i]);
      } else {
        for (int64_t k = 0; k < w; ++k) {
          pointwise_pixel<K>(pre, pre.table, s + k * in_c, in_c, d + k * c);
        }
      }
    };
    convert(input_row(y_begin - 1), rows[0]);
    convert(input_row(y_begin), rows[1]);
    for (int64_t y = y_begin; y < y_end; ++y) {
      convert(input_row(y + 1), rows[2]);
      const float* a = rows[0];
      const float* b = rows[1];
      const float* d = rows[2];
      const int64_t n = w * c;
      for (int64_t i = 0; i < n; ++i) {
        sums[i] = math::sobel(a[i], a[i + c], a[i + 2 * c], b[i], b[i + 2 * c], d[i], d[i + c],
                              d[i + 2 * c]);
      }
      finish_row(sums, n, out.row(y), out_u8);
      std::rotate(rows, rows + 1, rows + 3);
    }
  });
}

template <Pointwise K, typename T>
void pointwise_typed(const PointwiseParams& params, const ImageView& in, const ImageView& out) {
  const int in_c = in.channels;
  const int out_c = out.channels;
  for_row_blocks(out.height, out.width * out_c, [&](int64_t y_begin, int64_t y_end) {
    for (int64_t y = y_begin; y < y_end; ++y) {
      const T* src = reinterpret_cast<const T*>(in.row(y));
      if constexpr (K == Pointwise::macenko) {  // uint8 output
        auto* dst = reinterpret_cast<uint8_t*>(out.row(y));
        float v[3];
        for (int64_t x = 0; x < out.width; ++x) {
          pointwise_pixel<K>(params, params.table, src + x * in_c, in_c, v);
          for (int c = 0; c < 3; ++c) dst[x * 3 + c] = static_cast<uint8_t>(v[c]);
        }
      } else {
        float* dst = reinterpret_cast<float*>(out.row(y));
        for (int64_t x = 0; x < out.width; ++x) {
          pointwise_pixel<K>(params, params.table, src + x * in_c, in_c, dst + x * out_c);
        }
      }
    }
  });
}

template <typename T>
void downsample_typed(const ImageView& in, const ImageView& out) {
  const int c = out.channels;
  for_row_blocks(out.height, out.width * c, [&](int64_t y_begin, int64_t y_end) {
    for (int64_t y = y_begin; y < y_end; ++y) {
      const T* top = reinterpret_cast<const T*>(in.row(2 * y));
      const T* bottom = reinterpret_cast<const T*>(in.row(2 * y + 1));
      T* dst = reinterpret_cast<T*>(out.row(y));
      for (int64_t x = 0; x < out.width; ++x) {
        for (int ch = 0; ch < c; ++ch) {
          int64_t i = x * c + ch;
          int64_t j = 2 * x * c + ch;
          if constexpr (std::is_same_v<T, float>) {
            dst[i] = math::downsample_mean(top[j], top[j + c], bottom[j], bottom[j + c]);
          } else {
            dst[i] = static_cast<T>(
                (uint32_t{top[j]} + top[j + c] + bottom[j] + bottom[j + c] + 2) >> 2);
          }
        }
      }
    }
  });
}

// Runs Run<K, T> for the pointwise kind `kind`: a fold over 0..kPointwiseKinds - 1, so that a kind
// added to pointwise.hpp is dispatched with no edit here. Kinds a kernel is not built for
// (Run<K, T>::built) are never instantiated.
template <typename T, template <Pointwise, typename> class Run, size_t... I>
void for_kind(Pointwise kind, std::index_sequence<I...>, const KernelCall& call) {
  auto one = [&](auto k) {
    constexpr Pointwise K = static_cast<Pointwise>(decltype(k)::value);
    if constexpr (Run<K, T>::built) {
      if (kind == K) {
        Run<K, T>::run(call);
        return true;
      }
    }
    return false;
  };
  if (!(one(std::integral_constant<size_t, I>{}) || ...)) {
    throw Error(ErrorKind::unsupported, "ops: no CPU kernel for this colour op on " +
                                            std::string(to_string(call.in.dtype)) + " input");
  }
}

template <Pointwise K, typename T>
struct RunSobel {
  static constexpr bool built = pointwise_takes_type<K, T>() && pointwise_fuses_into_sobel(K);
  static void run(const KernelCall& c) {
    sobel_typed<K, T>(c.pointwise, c.out.dtype == DataType::uint8, c.in, c.in_at, c.out, c.out_at,
                      c.image);
  }
};

template <Pointwise K, typename T>
struct RunPointwise {
  static constexpr bool built = pointwise_takes_type<K, T>() && K != Pointwise::none;
  static void run(const KernelCall& c) {
    ImageView src =
        c.in.crop(c.out_at.x - c.in_at.x, c.out_at.y - c.in_at.y, c.out.width, c.out.height);
    pointwise_typed<K, T>(c.pointwise, src, c.out);
  }
};

template <template <Pointwise, typename> class Run>
void dispatch(const KernelCall& call) {
  constexpr auto kinds = std::make_index_sequence<kPointwiseKinds>{};
  if (call.in.dtype == DataType::uint8) {
    for_kind<uint8_t, Run>(call.pointwise.kind, kinds, call);
  } else {
    for_kind<float, Run>(call.pointwise.kind, kinds, call);
  }
}

}  // namespace

void sobel_cpu(const KernelCall& call) {
  dispatch<RunSobel>(call);
}

void pointwise_cpu(const KernelCall& call) {
  dispatch<RunPointwise>(call);
}

void downsample2_cpu(const ImageView& in, const ImageView& out) {
  switch (in.dtype) {
    case DataType::uint8:
      return downsample_typed<uint8_t>(in, out);
    case DataType::uint16:
      return downsample_typed<uint16_t>(in, out);
    case DataType::float32:
      return downsample_typed<float>(in, out);
    case DataType::uint32:
      break;  // refused by ops.cpp
  }
}

}  // namespace slidestream::ops::detail
