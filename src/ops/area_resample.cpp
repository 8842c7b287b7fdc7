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
AreaAxisView view_of(const AreaAxis& a) {
  return {a.first.data(), a.count.data(), a.offset.data(), a.weights.data(), a.total.data()};
}
}  // namespace

void area_resample_cpu(const ImageView& in, const ImageView& out, int64_t regions,
                       const AreaAxis& ax, const AreaAxis& ay, int threads) {
  if (regions <= 0 || out.height == 0 || out.width == 0) return;
  const int64_t in_rows = in.height / regions, out_rows = out.height / regions;
  const AreaAxisView vx = view_of(ax), vy = view_of(ay);
  const int channels = out.channels;
  auto body = [&](size_t r) {
    const int64_t region = static_cast<int64_t>(r) / out_rows;
    const int64_t oy = static_cast<int64_t>(r) % out_rows;
    const auto* src = reinterpret_cast<const uint8_t*>(in.row(region * in_rows));
    auto* dst = reinterpret_cast<uint8_t*>(out.row(static_cast<int64_t>(r)));
    for (int64_t ox = 0; ox < out.width; ++ox) {
      for (int c = 0; c < channels; ++c) {
        dst[ox * channels + c] = area_sample(src, in.row_pitch, channels, vx, vy, ox, oy, c);
      }
    }
  };
  ThreadPool::shared().parallel_for(static_cast<size_t>(out.height), body,
                                    threads > 0 ? threads : hardware_threads());
}

}  // namespace slidestream::ops
