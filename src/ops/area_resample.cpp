// Area-average resampling on the host (ops/area_resample.hpp): the axis tables, and the CPU loop
// over output rows on the thread pool.
#include "ops/area_resample.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/thread_pool.hpp"
#include "slidestream/error.hpp"

namespace slidestream::ops {

AreaAxis area_axis(int64_t outputs, double factor) {
  if (!(factor >= 1.0 - 1e-9) || !std::isfinite(factor) || factor > 1 << 16) {
    throw Error(ErrorKind::invalid_argument,
                "area resampling needs a factor of at least 1, got " + std::to_string(factor));
  }
  if (std::abs(factor - std::round(factor)) < 1e-6) factor = std::round(factor);
  AreaAxis a;
  a.first.resize(static_cast<size_t>(outputs));
  a.count.resize(a.first.size());
  a.offset.resize(a.first.size());
  a.total.resize(a.first.size());
  // Footprint edges in fixed point; output i covers [edge(i), edge(i + 1)).
  auto edge = [&](int64_t i) {
    return static_cast<int64_t>(std::llround(static_cast<double>(i) * factor * kAreaUnit));
  };
  for (int64_t i = 0; i < outputs; ++i) {
    const int64_t b0 = edge(i), b1 = edge(i + 1);
    const int64_t s0 = b0 / kAreaUnit, s1 = (b1 + kAreaUnit - 1) / kAreaUnit;  // [s0, s1)
    a.first[i] = static_cast<int32_t>(s0);
    a.count[i] = static_cast<int32_t>(s1 - s0);
    a.offset[i] = static_cast<int32_t>(a.weights.size());
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t w = std::min(b1, (s + 1) * kAreaUnit) - std::max(b0, s * kAreaUnit);
      a.weights.push_back(static_cast<int32_t>(w));
    }
    a.total[i] = b1 - b0;
    a.source_extent = std::max(a.source_extent, s1);
  }
  return a;
}

namespace {

// area_divide with the reciprocal of the sample's total as the product of its axes' (from the
// tables), or area_sample's exact division where the totals reach 2^48 (factors beyond 4096).
struct RowDivider {
  double inv_y = 0;
  const double* inv_x = nullptr;  // nullptr: exact division

  uint8_t operator()(uint64_t sum, uint64_t total, int64_t ox) const {
    if (inv_x == nullptr) return static_cast<uint8_t>((sum + total / 2) / total);
    return area_divide(sum, total, inv_x[ox] * inv_y);
  }
};

// Output row `oy` of one region. Its source rows are first combined into one row of column sums
// (Σ_j wy_j · s_j, contiguous, so the compiler vectorizes it), then each output sample weighs
// the columns of its footprint (Σ_i wx_i · column_i) and is divided. The products are
// area_sample's summed in another order, exact in integers, so the bytes are the CUDA kernel's.
// Column: uint32_t where 255 × the largest y total fits, else uint64_t. kChannels: the common
// channel counts as constants, 0 for any other.
template <int kChannels, typename Column>
void resample_row(const uint8_t* src, size_t pitch, int channel_count, const AreaAxis& ax,
                  const AreaAxis& ay, const std::vector<double>& inv_x, int64_t oy, int64_t width,
                  uint8_t* dst, std::vector<Column>& columns) {
  const int channels = kChannels > 0 ? kChannels : channel_count;
  const size_t samples = static_cast<size_t>(ax.source_extent) * channels;
  columns.resize(samples);
  Column* col = columns.data();
  const int32_t y0 = ay.first[oy], ny = ay.count[oy], wy0 = ay.offset[oy];
  for (int32_t j = 0; j < ny; ++j) {
    const uint8_t* row = src + static_cast<size_t>(y0 + j) * pitch;
    const auto wy = static_cast<Column>(ay.weights[wy0 + j]);
    if (j == 0) {
      for (size_t k = 0; k < samples; ++k) col[k] = wy * row[k];
    } else {
      for (size_t k = 0; k < samples; ++k) col[k] += wy * row[k];
    }
  }
  const auto total_y = static_cast<uint64_t>(ay.total[oy]);
  const RowDivider divide{.inv_y = 1.0 / static_cast<double>(total_y),
                          .inv_x = inv_x.empty() ? nullptr : inv_x.data()};
  for (int64_t ox = 0; ox < width; ++ox, dst += channels) {
    const int32_t nx = ax.count[ox];
    const int32_t* wx = ax.weights.data() + ax.offset[ox];
    const Column* px = col + static_cast<size_t>(ax.first[ox]) * channels;
    const uint64_t total = static_cast<uint64_t>(ax.total[ox]) * total_y;
    if constexpr (kChannels > 0) {
      uint64_t sum[kChannels] = {};
      for (int32_t i = 0; i < nx; ++i, px += kChannels) {
        const auto w = static_cast<uint64_t>(wx[i]);
        for (int c = 0; c < kChannels; ++c) sum[c] += w * px[c];
      }
      for (int c = 0; c < kChannels; ++c) dst[c] = divide(sum[c], total, ox);
    } else {
      for (int c = 0; c < channels; ++c) {
        uint64_t sum = 0;
        for (int32_t i = 0; i < nx; ++i) {
          sum += static_cast<uint64_t>(wx[i]) * px[static_cast<size_t>(i) * channels + c];
        }
        dst[c] = divide(sum, total, ox);
      }
    }
  }
}

template <typename Column>
void resample_row_any(const uint8_t* src, size_t pitch, int channels, const AreaAxis& ax,
                      const AreaAxis& ay, const std::vector<double>& inv_x, int64_t oy,
                      int64_t width, uint8_t* dst) {
  thread_local std::vector<Column> columns;
  switch (channels) {
    case 1:
      return resample_row<1>(src, pitch, 1, ax, ay, inv_x, oy, width, dst, columns);
    case 3:
      return resample_row<3>(src, pitch, 3, ax, ay, inv_x, oy, width, dst, columns);
    case 4:
      return resample_row<4>(src, pitch, 4, ax, ay, inv_x, oy, width, dst, columns);
    default:
      return resample_row<0>(src, pitch, channels, ax, ay, inv_x, oy, width, dst, columns);
  }
}

int64_t largest(const std::vector<int64_t>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

}  // namespace

void area_resample_cpu(const ImageView& in, const ImageView& out, int64_t regions,
                       const AreaAxis& ax, const AreaAxis& ay, int threads) {
  if (regions <= 0 || out.height == 0 || out.width == 0) return;
  const int64_t in_rows = in.height / regions, out_rows = out.height / regions;
  const int channels = out.channels;
  // Reciprocals for RowDivider while the totals stay below 2^48 (else: exact division only).
  std::vector<double> inv_x;
  if (static_cast<double>(largest(ax.total)) * static_cast<double>(largest(ay.total)) <
      static_cast<double>(int64_t{1} << 48)) {
    inv_x.reserve(ax.total.size());
    for (int64_t t : ax.total) inv_x.push_back(1.0 / static_cast<double>(t));
  }
  const bool narrow = largest(ay.total) * 255 <= int64_t{UINT32_MAX};
  auto body = [&](size_t r) {
    const int64_t region = static_cast<int64_t>(r) / out_rows;
    const int64_t oy = static_cast<int64_t>(r) % out_rows;
    const auto* src = reinterpret_cast<const uint8_t*>(in.row(region * in_rows));
    auto* dst = reinterpret_cast<uint8_t*>(out.row(static_cast<int64_t>(r)));
    if (narrow) {
      resample_row_any<uint32_t>(src, in.row_pitch, channels, ax, ay, inv_x, oy, out.width, dst);
    } else {
      resample_row_any<uint64_t>(src, in.row_pitch, channels, ax, ay, inv_x, oy, out.width, dst);
    }
  };
  ThreadPool::shared().parallel_for(static_cast<size_t>(out.height), body,
                                    threads > 0 ? threads : hardware_threads());
}

}  // namespace slidestream::ops
