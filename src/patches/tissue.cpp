// Tissue masks (slidestream/patches.hpp): a low-resolution RGB image of the slide (a level, or
// the whole slide at an mpp through read_regions_at_mpp, white outside), a per-pixel measure
// (saturation or optical density), Otsu's threshold computed as scikit-image computes it, and
// the small pieces removed by connected components. Masks are small (thousands of pixels a
// side), so this runs on the host.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/patches.hpp"

namespace slidestream {
namespace {

constexpr double kDefaultMaskMpp = 8.0;

float measure(const uint8_t* p, int channels, TissueMethod method) {
  const int r = p[0], g = channels >= 3 ? p[1] : p[0], b = channels >= 3 ? p[2] : p[0];
  if (method == TissueMethod::otsu_saturation) {
    const int hi = std::max({r, g, b}), lo = std::min({r, g, b});
    return hi == 0 ? 0.0f : static_cast<float>(hi - lo) / static_cast<float>(hi);
  }
  auto od = [](int v) { return -std::log10((static_cast<double>(v) + 1.0) / 256.0); };
  return static_cast<float>((od(r) + od(g) + od(b)) / 3.0);
}

// Sizes of the connected pieces of pixels equal to `value`, and each pixel's piece.
std::vector<int64_t> components(const std::vector<uint8_t>& mask, int64_t w, int64_t h,
                                uint8_t value, bool eight, std::vector<int32_t>& label) {
  label.assign(mask.size(), -1);
  std::vector<int64_t> sizes;
  std::vector<int64_t> stack;
  for (int64_t start = 0; start < w * h; ++start) {
    if (mask[start] != value || label[start] >= 0) continue;
    const int32_t id = static_cast<int32_t>(sizes.size());
    int64_t size = 0;
    stack.push_back(start);
    label[start] = id;
    while (!stack.empty()) {
      const int64_t i = stack.back();
      stack.pop_back();
      ++size;
      const int64_t x = i % w, y = i / w;
      for (int64_t dy = -1; dy <= 1; ++dy) {
        for (int64_t dx = -1; dx <= 1; ++dx) {
          if ((dx == 0 && dy == 0) || (!eight && dx != 0 && dy != 0)) continue;
          const int64_t nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
          const int64_t j = ny * w + nx;
          if (mask[j] == value && label[j] < 0) {
            label[j] = id;
            stack.push_back(j);
          }
        }
      }
    }
    sizes.push_back(size);
  }
  return sizes;
}

// The image the mask is made from, on the host, with its scale in level-0 pixels per pixel.
Image mask_source(const Slide& slide, const TissueOptions& o, double* sx, double* sy) {
  ReadOptions read;
  read.threads = o.threads;
  read.fill = 255;  // outside the slide is glass
  const bool has_mpp = slide.mpp_x() && slide.mpp_y();
  double mpp = o.mpp;
  if (o.level < 0 && mpp <= 0 && has_mpp) mpp = kDefaultMaskMpp;
  if (o.level < 0 && mpp > 0) {
    const Level& l0 = slide.level(0);
    *sx = mpp / *slide.mpp_x();
    *sy = mpp / *slide.mpp_y();
    const auto w = static_cast<int64_t>(std::ceil(static_cast<double>(l0.width) / *sx));
    const auto h = static_cast<int64_t>(std::ceil(static_cast<double>(l0.height) / *sy));
    const RegionLocation origin{0, 0};
    return read_regions_at_mpp(slide, mpp, {&origin, 1}, w, h, read);
  }
  const int level = o.level >= 0 ? o.level : static_cast<int>(slide.levels().size()) - 1;
  const Level& l = slide.level(level);
  *sx = static_cast<double>(slide.level(0).width) / static_cast<double>(l.width);
  *sy = static_cast<double>(slide.level(0).height) / static_cast<double>(l.height);
  return slide.read_level(level, read);
}

}  // namespace

TissueMethod parse_tissue_method(std::string_view text) {
  if (text == "otsu" || text == "otsu-saturation") return TissueMethod::otsu_saturation;
  if (text == "otsu-density") return TissueMethod::otsu_density;
  throw Error(ErrorKind::invalid_argument, "unknown tissue method \"" + std::string(text) +
                                               "\" (otsu, otsu-saturation, otsu-density)");
}

double otsu_threshold(const std::vector<float>& values) {
  if (values.empty()) return 0.0;
  const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
  const double lo = *lo_it, hi = *hi_it;
  if (hi <= lo) return lo;
  constexpr int kBins = 256;
  std::vector<double> counts(kBins, 0.0), centres(kBins);
  const double width = (hi - lo) / kBins;
  for (float v : values) {
    int bin = static_cast<int>((v - lo) / (hi - lo) * kBins);
    counts[std::clamp(bin, 0, kBins - 1)] += 1;
  }
  for (int i = 0; i < kBins; ++i) centres[i] = lo + width * (i + 0.5);
  // Between-class variance of splitting after bin i, as threshold_otsu writes it.
  std::vector<double> w1(kBins), m1(kBins), w2(kBins), m2(kBins);
  double cw = 0, cm = 0;
  for (int i = 0; i < kBins; ++i) {
    cw += counts[i];
    cm += counts[i] * centres[i];
    w1[i] = cw;
    m1[i] = cw > 0 ? cm / cw : 0;
  }
  cw = 0;
  cm = 0;
  for (int i = kBins - 1; i >= 0; --i) {
    cw += counts[i];
    cm += counts[i] * centres[i];
    w2[i] = cw;
    m2[i] = cw > 0 ? cm / cw : 0;
  }
  int best = 0;
  double best_variance = -1;
  for (int i = 0; i + 1 < kBins; ++i) {
    const double d = m1[i] - m2[i + 1];
    const double variance = w1[i] * w2[i + 1] * d * d;
    if (variance > best_variance) {
      best_variance = variance;
      best = i;
    }
  }
  return centres[best];
}

void clean_mask(std::vector<uint8_t>& mask, int64_t w, int64_t h, int64_t max_speck,
                int64_t max_hole) {
  std::vector<int32_t> label;
  if (max_speck > 0) {
    const std::vector<int64_t> sizes = components(mask, w, h, 1, true, label);
    for (size_t i = 0; i < mask.size(); ++i) {
      if (mask[i] == 1 && sizes[label[i]] <= max_speck) mask[i] = 0;
    }
  }
  if (max_hole > 0) {
    const std::vector<int64_t> sizes = components(mask, w, h, 0, false, label);
    for (size_t i = 0; i < mask.size(); ++i) {
      if (mask[i] == 0 && sizes[label[i]] <= max_hole) mask[i] = 1;
    }
  }
}

TissueMask tissue_mask(const Slide& slide, const TissueOptions& options) {
  TissueMask m;
  const Image image = mask_source(slide, options, &m.scale_x, &m.scale_y);
  if (image.dtype() != DataType::uint8) {
    throw Error(ErrorKind::unsupported, "tissue masks need uint8 RGB or grey levels",
                {slide.path().string()});
  }
  m.width = image.width();
  m.height = image.height();
  const ImageView& v = image.view();
  std::vector<float> values(static_cast<size_t>(m.width * m.height));
  for (int64_t y = 0; y < m.height; ++y) {
    const auto* row = reinterpret_cast<const uint8_t*>(v.row(y));
    for (int64_t x = 0; x < m.width; ++x) {
      values[y * m.width + x] = measure(row + x * v.channels, v.channels, options.method);
    }
  }
  m.threshold = otsu_threshold(values);
  m.pixels.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) m.pixels[i] = values[i] > m.threshold ? 1 : 0;
  clean_mask(m.pixels, m.width, m.height, options.max_speck_pixels, options.max_hole_pixels);
  return m;
}

}  // namespace slidestream
