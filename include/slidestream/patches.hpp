// Cutting a slide into patches: where the tissue is (a mask from Otsu's threshold on a
// low-resolution image, small specks and holes removed) and the level-0 coordinates of a grid of
// patches that cover it. The pixels then come from read_regions / read_regions_at_mpp
// (slidestream/regions.hpp).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "slidestream/read_options.hpp"
#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"

namespace slidestream {

// What Otsu's threshold separates: HSV saturation ((max - min) / max of R, G, B; glass is grey,
// stained tissue coloured) or optical density (the mean over R, G, B of -log10((v + 1) / 256);
// glass is bright, tissue absorbs).
enum class TissueMethod { otsu_saturation, otsu_density };
// "otsu" (saturation) | "otsu-saturation" | "otsu-density"; anything else is invalid_argument.
TissueMethod parse_tissue_method(std::string_view text);

struct TissueOptions {
  int level = -1;  // threshold this level, or
  double mpp = 0;  // this resolution (needs the slide's mpp); neither: 8 µm/px if the slide
                   // says its mpp, else the last (smallest) level
  TissueMethod method = TissueMethod::otsu_saturation;
  int64_t max_speck_pixels = 64;  // tissue pieces of at most this many mask pixels (8-connected)
                                  // are removed
  int64_t max_hole_pixels = 64;   // holes of at most this many mask pixels (4-connected) filled
  int threads = 0;
};

struct TissueMask {
  int64_t width = 0, height = 0;
  double scale_x = 1.0, scale_y = 1.0;  // level-0 pixels per mask pixel
  double threshold = 0.0;               // Otsu's threshold on the measure (tissue: above it)
  std::vector<uint8_t> pixels;          // row-major, 1 tissue, 0 background
};

TissueMask tissue_mask(const Slide& slide, const TissueOptions& options = {});

// Otsu's threshold of `values` as scikit-image's threshold_otsu computes it (256 bins over
// [min, max], the centre of the bin that maximises the between-class variance).
double otsu_threshold(const std::vector<float>& values);
// Removes 8-connected tissue pieces of at most max_speck pixels, then fills 4-connected
// background pieces of at most max_hole pixels (scikit-image's remove_small_objects and
// remove_small_holes with max_size).
void clean_mask(std::vector<uint8_t>& mask, int64_t width, int64_t height, int64_t max_speck,
                int64_t max_hole);

struct GridOptions {
  int64_t size = 256;                // patch side, in pixels of `level` or at `mpp`
  int64_t stride = 0;                // between patch corners, same unit (0: size)
  int level = 0;                     // patches of this level, or
  double mpp = 0;                    // at this resolution (needs the slide's mpp)
  const TissueMask* mask = nullptr;  // keep only patches with enough tissue under them
  double min_tissue = 0.5;           // fraction of a patch's footprint that must be tissue
};

// The top-left corners, in level-0 pixels, of a grid over the whole slide (row by row), each
// patch's footprint starting inside level 0, filtered by the mask when there is one.
std::vector<RegionLocation> patch_grid(const Slide& slide, const GridOptions& options);

// Patches for a network: uint8 samples to float32 or float16, (v / 255 - mean[c]) / std[c] per
// channel c (mean 0 and std 1 where not given), same (rows, width, channels) layout, on the
// device the input is on. Values come from a 256-entry table per channel made on the host (float32
// arithmetic; float16 rounded to nearest even), so the CPU and the GPU give the same bytes.
enum class PatchDtype { float16, float32 };
// `in`: uint8, tight or pitched; `out`: in.width × in.height × in.channels elements, tight,
// on in's device. mean and std have in.channels entries or are empty.
void convert_patches(const ImageView& in, std::byte* out, PatchDtype dtype,
                     const std::vector<float>& mean, const std::vector<float>& std);

}  // namespace slidestream
