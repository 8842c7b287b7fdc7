// slidestream._core.tissue_mask and slidestream._core.patch_grid (slidestream/patches.hpp) for
// Python: the mask comes back as a (H, W) uint8 NumPy array with its scale and threshold; a mask
// goes in the same way; grids come back as (N, 2) int64 arrays of level-0 (x, y).
#include "slidestream/patches.hpp"

#include <nanobind/stl/string.h>

#include <cstring>
#include <string>
#include <vector>

#include "binding.hpp"
#include "slidestream/error.hpp"

namespace slidestream::python {
namespace {

using MaskIn = nb::ndarray<const uint8_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

template <typename T>
nb::object numpy_of(std::vector<T>&& values, std::initializer_list<size_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::cast(nb::ndarray<nb::numpy, T>(owned->data(), shape.size(), shape.begin(), owner));
}

nb::dict tissue_mask_py(const PySlide& self, int level, double mpp, const std::string& method,
                        int64_t max_speck_pixels, int64_t max_hole_pixels, int threads) {
  auto slide = self.get();
  TissueOptions o;
  o.level = level;
  o.mpp = mpp;
  o.method = parse_tissue_method(method);
  o.max_speck_pixels = max_speck_pixels;
  o.max_hole_pixels = max_hole_pixels;
  o.threads = threads;
  TissueMask m;
  {
    nb::gil_scoped_release unlocked;
    m = tissue_mask(*slide, o);
  }
  nb::dict d;
  const auto h = static_cast<size_t>(m.height), w = static_cast<size_t>(m.width);
  d["mask"] = numpy_of(std::move(m.pixels), {h, w});
  d["scale_x"] = m.scale_x;
  d["scale_y"] = m.scale_y;
  d["threshold"] = m.threshold;
  return d;
}

nb::object patch_grid_py(const PySlide& self, int64_t size, int64_t stride, int level, double mpp,
                         const nb::object& mask, double scale_x, double scale_y,
                         double min_tissue) {
  auto slide = self.get();
  GridOptions o;
  o.size = size;
  o.stride = stride;
  o.level = level;
  o.mpp = mpp;
  o.min_tissue = min_tissue;
  TissueMask m;
  if (!mask.is_none()) {
    const MaskIn array = nb::cast<MaskIn>(mask);
    m.height = static_cast<int64_t>(array.shape(0));
    m.width = static_cast<int64_t>(array.shape(1));
    m.scale_x = scale_x;
    m.scale_y = scale_y;
    m.pixels.assign(array.data(), array.data() + array.size());
    if (!(scale_x > 0) || !(scale_y > 0)) {
      throw Error(ErrorKind::invalid_argument, "mask scale must be positive");
    }
    o.mask = &m;
  }
  std::vector<RegionLocation> grid;
  {
    nb::gil_scoped_release unlocked;
    grid = patch_grid(*slide, o);
  }
  std::vector<int64_t> flat(grid.size() * 2);
  for (size_t i = 0; i < grid.size(); ++i) {
    flat[2 * i] = grid[i].x;
    flat[2 * i + 1] = grid[i].y;
  }
  return numpy_of(std::move(flat), {grid.size(), 2});
}

}  // namespace

void bind_patches(nb::module_& m) {
  m.def("tissue_mask", &tissue_mask_py, nb::arg("slide"), nb::arg("level") = -1,
        nb::arg("mpp") = 0.0, nb::arg("method") = "otsu", nb::arg("max_speck_pixels") = 64,
        nb::arg("max_hole_pixels") = 64, nb::arg("threads") = 0,
        "A tissue mask: {mask: (H, W) uint8, scale_x, scale_y, threshold}.");
  m.def("patch_grid", &patch_grid_py, nb::arg("slide"), nb::arg("size"), nb::arg("stride") = 0,
        nb::arg("level") = 0, nb::arg("mpp") = 0.0, nb::arg("mask").none() = nb::none(),
        nb::arg("scale_x") = 1.0, nb::arg("scale_y") = 1.0, nb::arg("min_tissue") = 0.5,
        "Level-0 (x, y) corners of a patch grid, (N, 2) int64.");
}

}  // namespace slidestream::python
