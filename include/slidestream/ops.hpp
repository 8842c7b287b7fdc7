// Pathology kernels, the same results on the CPU and on a GPU (the views' device decides).
// Definitions to the digit are in ../shared/OPS-NOTES.md and docs/ops.md.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "slidestream/image.hpp"

namespace slidestream::ops {

// Every op is described by one entry of the op table (src/ops/op_table.cpp) and found by its
// name (parse_op); its kind is its place in that table. These enumerators name the ops built in
// when this API was fixed; an op added later can be reached by name without one.
enum class OpKind : uint8_t {
  sobel,            // per-channel 2-D Sobel magnitude, float32 (skimage.filters.sobel)
  sobel_u8,         // the same, scaled to uint8: rint(clamp(v, 0, 1) * 255)
  grey,             // rgb2gray, float32, 1 channel
  optical_density,  // -ln(clamp(x, 1, Io) / Io), float32, per channel
  hed,              // rgb2hed, float32, 3 channels
  macenko,          // Macenko stain normalisation with a fitted StainFit, uint8 RGB -> uint8 RGB
};

// Macenko's stain vectors (columns H, E, in optical-density space) and the 99th percentiles of
// the two stain concentrations. The defaults are torchstain's reference (HERef, maxCRef), the
// target every slide is normalised to.
struct StainFit {
  double he[3][2] = {{0.5626, 0.2159}, {0.7201, 0.8012}, {0.4062, 0.5581}};
  double max_c[2] = {1.9705, 1.0308};
};

struct Op {
  OpKind kind = OpKind::sobel;
  float io = 255.0f;  // optical_density's Io; macenko's (parse_op gives it 240, as torchstain)
  StainFit stains =
      {};  // macenko: the slide's fit (prepare / fit_macenko); normalised to StainFit{}
  std::array<float, 4> values = {};  // numeric parameters of other ops, as their entry places them
};

// Fits Macenko's method to a host uint8 RGB image (a whole slide or its low-resolution level) as
// torchstain's numpy MacenkoNormalizer does (Io, alpha percentile, beta OD threshold). Throws
// Error(invalid_argument) when fewer than 2 pixels have all optical densities >= beta.
StainFit fit_macenko(const ImageView& rgb, float io = 240.0f, double alpha = 1.0,
                     double beta = 0.15);

// "sobel", "sobel-u8", "grey", "od", "od:240", "hed", "macenko" (stains left at the reference
// until prepare() fits them): a name, then its numeric parameters, each after a ':'.
Op parse_op(const std::string& name);
std::string to_string(const Op& op);
std::vector<std::string> op_names();  // every op parse_op knows, in the table's order

// Some ops learn from the slide before a run, so that every tile of it uses the same parameters
// (macenko fits its stains on the slide's lowest-resolution level). `overview` returns that level
// as a host image; prepare() calls it at most once, and only when an op of the chain needs it.
using SlideOverview = std::function<Image()>;
bool needs_preparing(const Op& op);
std::vector<Op> prepare(std::vector<Op> chain, const SlideOverview& overview);

// Pixels each side an op needs beyond the area it produces.
int halo_radius(const Op& op) noexcept;

struct PixelFormat {
  int channels = 3;
  DataType dtype = DataType::uint8;
};
// What an op produces from `input`; throws Error(unsupported) for inputs it does not take.
PixelFormat output_format(const Op& op, PixelFormat input);

// Where a view sits in the whole image (image coordinates of its pixel (0, 0)), and the size of
// that image, so that border rules apply to the image, never to the tile.
struct Window {
  int64_t x = 0;
  int64_t y = 0;
};
struct ImageExtent {
  int64_t width = 0;
  int64_t height = 0;
};

// Computes `op` for every pixel of `out` (placed at out_at). `in` (placed at in_at) must hold
// every image pixel within halo_radius(op) of out's area, clipped to the image. Both views on the
// host, or both on a GPU; cuda_stream (a cudaStream_t) orders GPU work, nullptr = default stream.
void apply(const Op& op, const ImageView& in, Window in_at, const ImageView& out, Window out_at,
           ImageExtent image, void* cuda_stream = nullptr);

// A chain of ops, each one's output feeding the next (e.g. grey then sobel).
int halo_radius(const std::vector<Op>& chain) noexcept;  // the sum of the ops' radii
PixelFormat output_format(const std::vector<Op>& chain, PixelFormat input);

// Runs `chain` as apply() runs one op: `in` must hold every image pixel within
// halo_radius(chain) of out's area, clipped to the image; the result equals applying the ops one
// by one to the whole image, bit for bit. A colour op followed by Sobel runs fused in one pass
// (no intermediate); other chains use intermediate buffers (stream-ordered device memory on a
// GPU, so nothing synchronises). `in` and `out` must not overlap.
void apply_chain(const std::vector<Op>& chain, const ImageView& in, Window in_at,
                 const ImageView& out, Window out_at, ImageExtent image,
                 void* cuda_stream = nullptr);

// 2× area downsampling: (a + b + c + d + 2) >> 2 on uint8 (libvips' pyramid rule), the plain mean
// on float32; out is floor(w / 2) × floor(h / 2) of in. in at an even (x, y) of its level.
void downsample2(const ImageView& in, const ImageView& out, void* cuda_stream = nullptr);

}  // namespace slidestream::ops
