// The op table (op_table.hpp says what an entry holds): the one list of the library's ops, in
// OpKind's order. An op added here is known to parse_op, the CLI's --op, the pipeline (halos,
// formats, tiling) and both devices at once; src/ops/README.md says how to add one.
#include "ops/op_table.hpp"

#include <cmath>
#include <iterator>
#include <string>

#include "slidestream/error.hpp"

namespace slidestream::ops::detail {
namespace {

float& io_of(Op& op) {
  return op.io;
}

// Optical density's Io: -ln(clamp(x, 1, Io) / Io) needs Io >= 1.
constexpr ParamSpec kOdParams[] = {{.name = "Io", .fallback = 255.0f, .min = 1.0f, .at = io_of}};
// Macenko's Io, 240 as torchstain's normaliser.
constexpr ParamSpec kMacenkoParams[] = {
    {.name = "Io", .fallback = 240.0f, .min = 1.0f, .at = io_of}};

// Fits the slide's stain vectors on its lowest-resolution level: one fit for every tile, so tiled
// equals global.
void fit_stains_on(Op& op, const SlideOverview& overview) {
  try {
    op.stains = fit_macenko(overview().view(), op.io);
  } catch (const Error& e) {
    throw Error(e.kind(), "fitting Macenko stains: " + e.cause(), e.context());
  }
}

#if SLIDESTREAM_HAVE_CUDA
constexpr Kernel kSobelCuda = sobel_cuda;
constexpr Kernel kPointwiseCuda = pointwise_cuda;
#else
constexpr Kernel kSobelCuda = nullptr;
constexpr Kernel kPointwiseCuda = nullptr;
#endif

constexpr Formats sobel_formats(DataType gives) {
  return {.takes_channels = 0,
          .takes_uint8 = true,
          .takes_float32 = true,
          .takes = "uint8 or float32 pixels",
          .gives = gives};
}

// Sobel's kernels take a fused colour op; a colour op alone runs the pointwise kernels.
constexpr OpEntry kTable[] = {
    {.kind = OpKind::sobel,
     .name = "sobel",
     .alias = nullptr,
     .params = {},
     .halo = 1,
     .formats = sobel_formats(DataType::float32),
     .takes_fused = true,
     .cpu = sobel_cpu,
     .cuda = kSobelCuda},
    {.kind = OpKind::sobel_u8,
     .name = "sobel-u8",
     .alias = "sobel_u8",
     .params = {},
     .halo = 1,
     .formats = sobel_formats(DataType::uint8),
     .takes_fused = true,
     .cpu = sobel_cpu,
     .cuda = kSobelCuda},
    {.kind = OpKind::grey,
     .name = "grey",
     .alias = "gray",
     .params = {},
     .formats = {.takes_channels = 3,
                 .takes_float32 = true,
                 .takes = "3-channel uint8 or float32 RGB",
                 .gives_channels = 1},
     .pointwise = Pointwise::grey,
     .cpu = pointwise_cpu,
     .cuda = kPointwiseCuda},
    {.kind = OpKind::optical_density,
     .name = "od",
     .alias = nullptr,
     .params = kOdParams,
     .formats = {.takes = "uint8 pixels"},
     .pointwise = Pointwise::od,
     .cpu = pointwise_cpu,
     .cuda = kPointwiseCuda},
    {.kind = OpKind::hed,
     .name = "hed",
     .alias = nullptr,
     .params = {},
     .formats = {.takes_channels = 3, .takes = "3-channel uint8 RGB"},
     .pointwise = Pointwise::hed,
     .cpu = pointwise_cpu,
     .cuda = kPointwiseCuda},
    {.kind = OpKind::macenko,
     .name = "macenko",
     .alias = nullptr,
     .params = kMacenkoParams,
     .formats = {.takes_channels = 3, .takes = "3-channel uint8 RGB", .gives = DataType::uint8},
     .pointwise = Pointwise::macenko,
     .cpu = pointwise_cpu,
     .cuda = kPointwiseCuda,
     .prepare = fit_stains_on},
};

constexpr bool in_kind_order() {
  for (size_t i = 0; i < std::size(kTable); ++i) {
    if (static_cast<size_t>(kTable[i].kind) != i) return false;
  }
  return true;
}
static_assert(in_kind_order(), "the op table lists the ops in OpKind's order");

}  // namespace

std::span<const OpEntry> op_table() {
  return kTable;
}

const OpEntry& entry_of(const Op& op) {
  auto index = static_cast<size_t>(op.kind);
  if (index >= std::size(kTable)) {
    throw Error(ErrorKind::invalid_argument, "ops: unknown op kind " + std::to_string(index));
  }
  return kTable[index];
}

const OpEntry* find_op(std::string_view name) {
  for (const OpEntry& e : kTable) {
    if (name == e.name || (e.alias != nullptr && name == e.alias)) return &e;
  }
  return nullptr;
}

}  // namespace slidestream::ops::detail
