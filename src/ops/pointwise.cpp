#include "ops/pointwise.hpp"

#include <algorithm>
#include <cmath>

namespace slidestream::ops::detail {
namespace {

// Ruifrok & Johnston's stain vectors, rows H, E, DAB, taken as written (scikit-image's
// rgb_from_hed), and their inverse by cofactors in double precision, rounded once to float.
struct HedMatrix {
  float m[9];
};

constexpr HedMatrix invert_rgb_from_hed() {
  constexpr double a[9] = {0.65, 0.70, 0.29, 0.07, 0.99, 0.11, 0.27, 0.57, 0.78};
  double cof[9] = {
      a[4] * a[8] - a[5] * a[7],    -(a[1] * a[8] - a[2] * a[7]), a[1] * a[5] - a[2] * a[4],
      -(a[3] * a[8] - a[5] * a[6]), a[0] * a[8] - a[2] * a[6],    -(a[0] * a[5] - a[2] * a[3]),
      a[3] * a[7] - a[4] * a[6],    -(a[0] * a[7] - a[1] * a[6]), a[0] * a[4] - a[1] * a[3]};
  double det = a[0] * cof[0] + a[1] * cof[3] + a[2] * cof[6];
  HedMatrix h{};
  for (int i = 0; i < 9; ++i) h.m[i] = static_cast<float>(cof[i] / det);
  return h;
}

constexpr HedMatrix kHedFromRgb = invert_rgb_from_hed();

}  // namespace

PointwiseParams make_pointwise(Pointwise kind, float io, const StainFit& stains) {
  PointwiseParams p;
  p.kind = kind;
  std::copy(std::begin(kHedFromRgb.m), std::end(kHedFromRgb.m), p.hed_from_rgb);
  if (kind == Pointwise::od) {
    double top = io;
    for (int x = 0; x < 256; ++x) {
      double clipped = std::clamp(static_cast<double>(x), 1.0, top);
      p.table[x] = static_cast<float>(0.0 - std::log(clipped / top));  // 0 - : +0, not -0, at Io
    }
  } else if (kind == Pointwise::macenko) {
    p.io = io;
    for (int x = 0; x < 256; ++x) {
      p.table[x] = static_cast<float>(0.0 - std::log((x + 1.0) / static_cast<double>(io)));
    }
    // Least squares C = (HE^T HE)^-1 HE^T od (what numpy's lstsq gives for a full-rank HE), each
    // row then scaled by max_c_ref / max_c, all in double, rounded once to float.
    const auto& he = stains.he;
    double a = 0, b = 0, d = 0;  // HE^T HE = [[a, b], [b, d]]
    for (int c = 0; c < 3; ++c) {
      a += he[c][0] * he[c][0];
      b += he[c][0] * he[c][1];
      d += he[c][1] * he[c][1];
    }
    double det = a * d - b * b;
    const StainFit reference;
    for (int c = 0; c < 3; ++c) {
      double row0 = (d * he[c][0] - b * he[c][1]) / det;
      double row1 = (a * he[c][1] - b * he[c][0]) / det;
      p.to_concentration[c] = static_cast<float>(row0 * reference.max_c[0] / stains.max_c[0]);
      p.to_concentration[3 + c] = static_cast<float>(row1 * reference.max_c[1] / stains.max_c[1]);
      p.he_ref[2 * c] = static_cast<float>(reference.he[c][0]);
      p.he_ref[2 * c + 1] = static_cast<float>(reference.he[c][1]);
    }
  } else if (kind == Pointwise::hed) {
    const double log_adjust = std::log(1e-6);
    for (int x = 0; x < 256; ++x) {
      double v = std::max(static_cast<double>(x) / 255.0, 1e-6);
      p.table[x] = static_cast<float>(std::log(v) / log_adjust);
    }
  }
  return p;
}

}  // namespace slidestream::ops::detail
