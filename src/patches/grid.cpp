// Patch grids (slidestream/patches.hpp): corners every stride over level 0 (in level-0 pixels:
// stride × the level's downsample, or × mpp / the slide's mpp), kept where the tissue mask
// covers at least min_tissue of the patch's footprint. Tissue fractions come from a summed-area
// table of the mask, so a grid costs one pass over the mask plus O(1) per patch.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/patches.hpp"

namespace slidestream {
namespace {

// Tissue pixels in [x0, x1) × [y0, y1) of the mask, from its summed-area table (w + 1 wide).
int64_t tissue_in(const std::vector<int64_t>& sat, int64_t w, int64_t x0, int64_t y0, int64_t x1,
                  int64_t y1) {
  const int64_t stride = w + 1;
  return sat[y1 * stride + x1] - sat[y0 * stride + x1] - sat[y1 * stride + x0] +
         sat[y0 * stride + x0];
}

std::vector<int64_t> summed_area(const TissueMask& m) {
  std::vector<int64_t> sat(static_cast<size_t>((m.width + 1) * (m.height + 1)), 0);
  const int64_t stride = m.width + 1;
  for (int64_t y = 0; y < m.height; ++y) {
    int64_t row = 0;
    for (int64_t x = 0; x < m.width; ++x) {
      row += m.pixels[y * m.width + x];
      sat[(y + 1) * stride + x + 1] = sat[y * stride + x + 1] + row;
    }
  }
  return sat;
}

// The fraction of the footprint [x, x + fx) × [y, y + fy) (level-0 pixels) that is tissue;
// mask pixels outside the mask count as background.
double tissue_fraction(const TissueMask& m, const std::vector<int64_t>& sat, double x, double y,
                       double fx, double fy) {
  const auto mx0 = static_cast<int64_t>(std::floor(x / m.scale_x));
  const auto my0 = static_cast<int64_t>(std::floor(y / m.scale_y));
  const auto mx1 = std::max(mx0 + 1, static_cast<int64_t>(std::ceil((x + fx) / m.scale_x)));
  const auto my1 = std::max(my0 + 1, static_cast<int64_t>(std::ceil((y + fy) / m.scale_y)));
  const int64_t area = (mx1 - mx0) * (my1 - my0);
  const int64_t cx0 = std::clamp<int64_t>(mx0, 0, m.width),
                cx1 = std::clamp<int64_t>(mx1, 0, m.width);
  const int64_t cy0 = std::clamp<int64_t>(my0, 0, m.height);
  const int64_t cy1 = std::clamp<int64_t>(my1, 0, m.height);
  if (cx0 >= cx1 || cy0 >= cy1) return 0.0;
  return static_cast<double>(tissue_in(sat, m.width, cx0, cy0, cx1, cy1)) /
         static_cast<double>(area);
}

}  // namespace

std::vector<RegionLocation> patch_grid(const Slide& slide, const GridOptions& o) {
  const std::string path = slide.path().string();
  if (o.size <= 0 || o.stride < 0) {
    throw Error(ErrorKind::invalid_argument, "patch size must be positive and stride >= 0", {path});
  }
  double scale_x = 1, scale_y = 1;  // level-0 pixels per patch pixel
  if (o.mpp > 0) {
    if (!slide.mpp_x() || !slide.mpp_y()) {
      throw Error(ErrorKind::invalid_argument,
                  "the slide does not say its resolution (no openslide.mpp-x / mpp-y): give a "
                  "level instead of an mpp",
                  {path});
    }
    scale_x = o.mpp / *slide.mpp_x();
    scale_y = o.mpp / *slide.mpp_y();
  } else {
    scale_x = scale_y = slide.level(o.level).downsample;
  }
  const int64_t stride = o.stride > 0 ? o.stride : o.size;
  const double step_x = static_cast<double>(stride) * scale_x;
  const double step_y = static_cast<double>(stride) * scale_y;
  const double foot_x = static_cast<double>(o.size) * scale_x;
  const double foot_y = static_cast<double>(o.size) * scale_y;
  const Level& l0 = slide.level(0);
  std::vector<int64_t> sat;
  if (o.mask != nullptr) sat = summed_area(*o.mask);
  std::vector<RegionLocation> out;
  for (int64_t j = 0;; ++j) {
    const auto y = static_cast<int64_t>(std::llround(static_cast<double>(j) * step_y));
    if (y >= l0.height) break;
    for (int64_t i = 0;; ++i) {
      const auto x = static_cast<int64_t>(std::llround(static_cast<double>(i) * step_x));
      if (x >= l0.width) break;
      if (o.mask != nullptr &&
          tissue_fraction(*o.mask, sat, static_cast<double>(x), static_cast<double>(y), foot_x,
                          foot_y) < o.min_tissue) {
        continue;
      }
      out.push_back({x, y});
    }
  }
  return out;
}

}  // namespace slidestream
