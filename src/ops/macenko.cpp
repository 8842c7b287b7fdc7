// Fitting Macenko's stain normalisation, step for step as torchstain's numpy MacenkoNormalizer
// (Macenko et al., ISBI 2009), in double precision on the host: optical densities, the plane of
// the two largest principal components of the pixels dense enough (all OD >= beta), the extreme
// angles (alpha and 100 - alpha percentiles) as the H and E vectors, and the 99th percentiles of
// the least-squares concentrations. Applying the fit is the pointwise op `macenko`.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/ops.hpp"

namespace slidestream::ops {
namespace {

// numpy.percentile's default ('linear'): between the order statistics around q/100 * (n - 1).
double percentile(std::vector<double>& v, double q) {
  double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
  double a = v[lo];
  double b = a;
  if (hi != lo) b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(lo) + 1, v.end());
  double t = pos - static_cast<double>(lo);
  return a + (b - a) * t;
}

// Eigen-decomposition of a symmetric 3 x 3 matrix by cyclic Jacobi rotations; eigenvalues
// ascending (as numpy.linalg.eigh), eigenvectors as columns of `vectors`.
void eigh3(std::array<std::array<double, 3>, 3> m, std::array<double, 3>& values,
           std::array<std::array<double, 3>, 3>& vectors) {
  std::array<std::array<double, 3>, 3> v{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = std::abs(m[0][1]) + std::abs(m[0][2]) + std::abs(m[1][2]);
    if (off < 1e-300) break;
    for (int p = 0; p < 2; ++p) {
      for (int q = p + 1; q < 3; ++q) {
        if (m[p][q] == 0.0) continue;
        double theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
        double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int k = 0; k < 3; ++k) {  // m = J^T m J
          double mkp = m[k][p], mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (int k = 0; k < 3; ++k) {
          double mpk = m[p][k], mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (int k = 0; k < 3; ++k) {
          double vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  std::array<int, 3> order{0, 1, 2};
  std::sort(order.begin(), order.end(), [&](int a, int b) { return m[a][a] < m[b][b]; });
  for (int j = 0; j < 3; ++j) {
    values[j] = m[order[j]][order[j]];
    for (int k = 0; k < 3; ++k) vectors[k][j] = v[k][order[j]];
  }
}

// Calls fn(od) with the three optical densities of every pixel, row by row.
template <typename Fn>
void for_each_pixel_od(const ImageView& rgb, const std::array<double, 256>& od_of, Fn&& fn) {
  for (int64_t y = 0; y < rgb.height; ++y) {
    const auto* row = reinterpret_cast<const uint8_t*>(rgb.row(y));
    for (int64_t x = 0; x < rgb.width; ++x) {
      fn(std::array<double, 3>{od_of[row[3 * x]], od_of[row[3 * x + 1]], od_of[row[3 * x + 2]]});
    }
  }
}

}  // namespace

StainFit fit_macenko(const ImageView& rgb, float io, double alpha, double beta) {
  if (rgb.device != Device::cpu || rgb.dtype != DataType::uint8 || rgb.channels != 3) {
    throw Error(ErrorKind::invalid_argument,
                "ops: fit_macenko takes a host 3-channel uint8 RGB image");
  }
  if (!(io >= 1.0f) || !(alpha >= 0.0 && alpha <= 50.0)) {
    throw Error(ErrorKind::invalid_argument, "ops: fit_macenko needs Io >= 1, 0 <= alpha <= 50");
  }
  std::array<double, 256> od_of{};
  for (int x = 0; x < 256; ++x) od_of[x] = -std::log((x + 1.0) / static_cast<double>(io));
  // The pixels torchstain keeps ("ODhat"): every OD >= beta. The image is walked again for each
  // statistic rather than copied, so memory stays at one double per pixel.
  auto dense = [beta](const std::array<double, 3>& od) {
    return !(od[0] < beta || od[1] < beta || od[2] < beta);
  };

  // Mean and covariance of the dense pixels, in two passes (numpy.cov, N - 1).
  const int64_t n = rgb.width * rgb.height;
  size_t count = 0;
  std::array<double, 3> sum{};
  for_each_pixel_od(rgb, od_of, [&](const std::array<double, 3>& od) {
    if (!dense(od)) return;
    ++count;
    for (int c = 0; c < 3; ++c) sum[c] += od[c];
  });
  if (count < 2) {
    throw Error(ErrorKind::invalid_argument,
                "ops: fit_macenko: fewer than 2 pixels have every optical density >= beta (" +
                    std::to_string(count) + " of " + std::to_string(n) + ")");
  }
  std::array<double, 3> mean{};
  for (int c = 0; c < 3; ++c) mean[c] = sum[c] / static_cast<double>(count);
  std::array<std::array<double, 3>, 3> cov{};
  for_each_pixel_od(rgb, od_of, [&](const std::array<double, 3>& od) {
    if (!dense(od)) return;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) cov[i][j] += (od[i] - mean[i]) * (od[j] - mean[j]);
    }
  });
  for (auto& r : cov) {
    for (double& v : r) v /= static_cast<double>(count - 1);
  }
  std::array<double, 3> values{};
  std::array<std::array<double, 3>, 3> vectors{};
  eigh3(cov, values, vectors);

  // Angles in the plane of eigenvectors 1 and 2 (the two largest), and their percentiles.
  std::vector<double> values_of_pixels;  // phi, then each concentration in turn
  values_of_pixels.reserve(count);
  for_each_pixel_od(rgb, od_of, [&](const std::array<double, 3>& od) {
    if (!dense(od)) return;
    double t0 = 0, t1 = 0;
    for (int c = 0; c < 3; ++c) {
      t0 += od[c] * vectors[c][1];
      t1 += od[c] * vectors[c][2];
    }
    values_of_pixels.push_back(std::atan2(t1, t0));
  });
  double min_phi = percentile(values_of_pixels, alpha);
  double max_phi = percentile(values_of_pixels, 100.0 - alpha);
  std::array<double, 3> v_min{}, v_max{};
  for (int c = 0; c < 3; ++c) {
    v_min[c] = vectors[c][1] * std::cos(min_phi) + vectors[c][2] * std::sin(min_phi);
    v_max[c] = vectors[c][1] * std::cos(max_phi) + vectors[c][2] * std::sin(max_phi);
  }
  StainFit fit;
  // Haematoxylin first: the vector with the larger red OD (torchstain's heuristic).
  const auto& h = v_min[0] > v_max[0] ? v_min : v_max;
  const auto& e = v_min[0] > v_max[0] ? v_max : v_min;
  for (int c = 0; c < 3; ++c) {
    fit.he[c][0] = h[c];
    fit.he[c][1] = e[c];
  }

  // Least-squares concentrations of every pixel, and their 99th percentiles.
  double a = 0, b = 0, d = 0;
  for (int c = 0; c < 3; ++c) {
    a += h[c] * h[c];
    b += h[c] * e[c];
    d += e[c] * e[c];
  }
  double det = a * d - b * b;
  std::array<double, 3> p0{}, p1{};
  for (int c = 0; c < 3; ++c) {
    p0[c] = (d * h[c] - b * e[c]) / det;
    p1[c] = (a * e[c] - b * h[c]) / det;
  }
  for (int k = 0; k < 2; ++k) {
    const auto& pk = k == 0 ? p0 : p1;
    values_of_pixels.clear();
    values_of_pixels.reserve(static_cast<size_t>(n));
    for_each_pixel_od(rgb, od_of, [&](const std::array<double, 3>& od) {
      values_of_pixels.push_back(pk[0] * od[0] + pk[1] * od[1] + pk[2] * od[2]);
    });
    fit.max_c[k] = percentile(values_of_pixels, 99.0);
  }
  return fit;
}

}  // namespace slidestream::ops
