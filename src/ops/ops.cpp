// The public ops API on top of the op table (op_table.hpp): names and parameters, formats, halos,
// argument checks, preparing on the slide, and the split of a chain into kernel passes (a colour op
// fused into a following kernel that takes one), each run by its entry's CPU or CUDA kernel as
// the views' device says. Nothing here names a particular op.
#include "slidestream/ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

#include "ops/kernels.hpp"
#include "ops/op_table.hpp"
#include "slidestream/error.hpp"

namespace slidestream::ops {
namespace {

using detail::entry_of;
using detail::OpEntry;
using detail::Pointwise;

[[noreturn]] void fail(ErrorKind kind, const std::string& what) {
  throw Error(kind, "ops: " + what);
}

// An ostream's default float format (printf's %g), without an ostream: iostream number
// formatting goes through locale facets, which died of SIGSEGV in a Python process on the lent GPU
// machine (vendor/mirax_keyfile.cpp says how); op names must not depend on a locale either.
std::string number(float v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(v));
  return text;
}

std::string describe(PixelFormat f) {
  return std::to_string(f.channels) + "-channel " + std::string(to_string(f.dtype));
}

std::string describe(const ImageView& v, Window at) {
  return std::to_string(v.width) + " x " + std::to_string(v.height) + " at (" +
         std::to_string(at.x) + ", " + std::to_string(at.y) + ")";
}

void check_view(const ImageView& v, const char* name) {
  if (v.width < 0 || v.height < 0 || v.channels <= 0) {
    fail(ErrorKind::invalid_argument, std::string(name) + " view has a negative size");
  }
  if (v.width == 0 || v.height == 0) return;
  if (v.data == nullptr) fail(ErrorKind::invalid_argument, std::string(name) + " view has no data");
  if (v.row_pitch < v.row_bytes()) {
    fail(ErrorKind::invalid_argument, std::string(name) + " view's row pitch " +
                                          std::to_string(v.row_pitch) + " < its row bytes " +
                                          std::to_string(v.row_bytes()));
  }
  size_t align = size_of(v.dtype);
  if (reinterpret_cast<uintptr_t>(v.data) % align != 0 || v.row_pitch % align != 0) {
    fail(ErrorKind::invalid_argument,
         std::string(name) + " view is not aligned to its sample size " + std::to_string(align));
  }
}

void check_devices(const ImageView& in, const ImageView& out) {
  if (in.device != out.device || (in.device == Device::cuda && in.cuda_device != out.cuda_device)) {
    fail(ErrorKind::invalid_argument, "input and output views are on different devices");
  }
#if !SLIDESTREAM_HAVE_CUDA
  if (in.device == Device::cuda) {
    fail(ErrorKind::unsupported, "this build of slidestream has no CUDA support");
  }
#endif
}

// The image area [x0, x1) × [y0, y1).
struct Area {
  int64_t x0, y0, x1, y1;
  int64_t width() const { return x1 - x0; }
  int64_t height() const { return y1 - y0; }
};

Area grow_clipped(Area a, int64_t r, ImageExtent image) {
  return {std::max<int64_t>(0, a.x0 - r), std::max<int64_t>(0, a.y0 - r),
          std::min(image.width, a.x1 + r), std::min(image.height, a.y1 + r)};
}

// One kernel pass: an op's kernel, with the colour op fused before it (or a colour op alone,
// whose parameters are then its own).
struct Pass {
  const Op* op = nullptr;
  const OpEntry* entry = nullptr;
  detail::PointwiseParams pointwise;
  PixelFormat output;
};

detail::PointwiseParams pointwise_params(const Op& op) {
  return detail::make_pointwise(entry_of(op).pointwise, op.io, op.stains);
}

std::vector<Pass> plan(const std::vector<Op>& chain, PixelFormat input) {
  std::vector<Pass> passes;
  PixelFormat format = input;
  for (size_t i = 0; i < chain.size(); ++i) {
    Pass pass;
    pass.op = &chain[i];
    pass.entry = &entry_of(chain[i]);
    pass.pointwise = pointwise_params(chain[i]);
    format = output_format(chain[i], format);
    // A colour op runs fused inside a following kernel that takes one, unless its output is not
    // what that kernel would compute from (macenko's uint8, pointwise_fuses_into_sobel).
    bool colour = pass.entry->pointwise != Pointwise::none;
    if (colour && detail::pointwise_fuses_into_sobel(pass.entry->pointwise) &&
        i + 1 < chain.size() && entry_of(chain[i + 1]).takes_fused) {
      ++i;
      pass.op = &chain[i];
      pass.entry = &entry_of(chain[i]);
      format = output_format(chain[i], format);
    }
    pass.output = format;
    passes.push_back(pass);
  }
  return passes;
}

// Runs one pass from `in` (covering the pass's input area) to `out` (the pass's output area).
void run_pass(const Pass& pass, const ImageView& in, Window in_at, const ImageView& out,
              Window out_at, ImageExtent image, void* stream) {
  if (out.width == 0 || out.height == 0) return;
  detail::Kernel kernel = out.device == Device::cuda ? pass.entry->cuda : pass.entry->cpu;
  if (kernel == nullptr) {
    fail(ErrorKind::unsupported, std::string(pass.entry->name) + " has no kernel on " +
                                     (out.device == Device::cuda ? "CUDA" : "the CPU"));
  }
  kernel(detail::KernelCall{*pass.op, pass.pointwise, in, in_at, out, out_at, image, stream});
}

// An intermediate of a chain: owned memory and a view of it.
struct Buffer {
  std::shared_ptr<std::byte> storage;
  Image image;
  ImageView view;
};

Buffer allocate_like(const ImageView& out, Area area, PixelFormat format, void* stream) {
  Buffer b;
  if (out.device == Device::cpu) {
    b.image = Image::allocate(area.width(), area.height(), format.channels, format.dtype);
    b.view = b.image.view();
    return b;
  }
  b.view = ImageView{.width = area.width(),
                     .height = area.height(),
                     .channels = format.channels,
                     .dtype = format.dtype,
                     .device = Device::cuda,
                     .cuda_device = out.cuda_device};
  b.view.row_pitch = b.view.row_bytes();
#if SLIDESTREAM_HAVE_CUDA
  b.storage = detail::allocate_on_stream(b.view.tight_bytes(), out.cuda_device, stream);
#else
  (void)stream;
#endif
  b.view.data = b.storage.get();
  return b;
}

}  // namespace

Op parse_op(const std::string& text) {
  size_t colon = text.find(':');
  const OpEntry* entry = detail::find_op(std::string_view(text).substr(0, colon));
  if (entry == nullptr) {
    std::string known;
    for (const std::string& n : op_names()) known += (known.empty() ? "" : ", ") + n;
    fail(ErrorKind::invalid_argument, "unknown op '" + text + "' (known: " + known + ")");
  }
  Op op{.kind = entry->kind};
  for (const auto& p : entry->params) p.at(op) = p.fallback;
  size_t next = 0;
  while (colon != std::string::npos) {
    if (next == entry->params.size()) {
      fail(ErrorKind::invalid_argument,
           "op '" + text + "' takes " + std::to_string(entry->params.size()) + " parameter(s)");
    }
    const detail::ParamSpec& p = entry->params[next++];
    size_t end = text.find(':', colon + 1);
    std::string value = text.substr(colon + 1, end == std::string::npos ? end : end - colon - 1);
    size_t used = 0;
    float v = 0.0f;
    try {
      v = std::stof(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != value.size() || value.empty()) {
      fail(ErrorKind::invalid_argument, "cannot read " + std::string(p.name) + " in op '" + text +
                                            "' (e.g. " + entry->name + ":" + number(p.fallback) +
                                            ")");
    }
    if (!std::isfinite(v) || !(v >= p.min)) {
      fail(ErrorKind::invalid_argument,
           "op '" + text + "' needs " + p.name + " >= " + number(p.min) + ", got " + value);
    }
    p.at(op) = v;
    colon = end;
  }
  return op;
}

std::string to_string(const Op& op) {
  const auto table = detail::op_table();
  if (static_cast<size_t>(op.kind) >= table.size()) return "unknown";
  const OpEntry& entry = table[static_cast<size_t>(op.kind)];
  std::string s = entry.name;
  Op copy = op;
  for (const auto& p : entry.params) {
    if (p.at(copy) != p.fallback) s += ":" + number(p.at(copy));
  }
  return s;
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const OpEntry& e : detail::op_table()) names.emplace_back(e.name);
  return names;
}

bool needs_preparing(const Op& op) {
  return entry_of(op).prepare != nullptr;
}

std::vector<Op> prepare(std::vector<Op> chain, const SlideOverview& overview) {
  // The overview is read once, when the first op asks for it.
  std::optional<Image> seen;
  SlideOverview once = [&]() {
    if (!seen) seen = overview();
    return *seen;
  };
  for (Op& op : chain) {
    if (auto hook = entry_of(op).prepare) hook(op, once);
  }
  return chain;
}

int halo_radius(const Op& op) noexcept {
  const auto table = detail::op_table();
  auto index = static_cast<size_t>(op.kind);
  return index < table.size() ? table[index].halo : 0;
}

int halo_radius(const std::vector<Op>& chain) noexcept {
  int r = 0;
  for (const Op& op : chain) r += halo_radius(op);
  return r;
}

PixelFormat output_format(const Op& op, PixelFormat input) {
  const OpEntry& entry = entry_of(op);
  const detail::Formats& f = entry.formats;
  auto refuse = [&](const char* wants) {
    fail(ErrorKind::unsupported, to_string(op) + " takes " + wants + ", not " + describe(input));
  };
  if (input.channels <= 0) refuse("at least one channel");
  bool type_ok = (input.dtype == DataType::uint8 && f.takes_uint8) ||
                 (input.dtype == DataType::float32 && f.takes_float32);
  if (!type_ok || (f.takes_channels != 0 && input.channels != f.takes_channels)) {
    refuse(f.takes);
  }
  for (const auto& p : entry.params) {
    Op copy = op;
    float v = p.at(copy);
    if (!std::isfinite(v) || !(v >= p.min)) {
      fail(ErrorKind::invalid_argument,
           to_string(op) + " needs " + p.name + " >= " + number(p.min) + ", got " + number(v));
    }
  }
  return {f.gives_channels != 0 ? f.gives_channels : input.channels, f.gives};
}

PixelFormat output_format(const std::vector<Op>& chain, PixelFormat input) {
  for (const Op& op : chain) input = output_format(op, input);
  return input;
}

void apply(const Op& op, const ImageView& in, Window in_at, const ImageView& out, Window out_at,
           ImageExtent image, void* cuda_stream) {
  apply_chain(std::vector<Op>{op}, in, in_at, out, out_at, image, cuda_stream);
}

void apply_chain(const std::vector<Op>& chain, const ImageView& in, Window in_at,
                 const ImageView& out, Window out_at, ImageExtent image, void* cuda_stream) {
  if (chain.empty()) fail(ErrorKind::invalid_argument, "empty chain of ops");
  check_view(in, "input");
  check_view(out, "output");
  check_devices(in, out);
  PixelFormat in_format{in.channels, in.dtype};
  PixelFormat want = output_format(chain, in_format);
  if (out.channels != want.channels || out.dtype != want.dtype) {
    fail(ErrorKind::invalid_argument, "output view is " + describe({out.channels, out.dtype}) +
                                          ", the chain produces " + describe(want));
  }
  if (out.width == 0 || out.height == 0) return;
  Area out_area{out_at.x, out_at.y, out_at.x + out.width, out_at.y + out.height};
  if (out_area.x0 < 0 || out_area.y0 < 0 || out_area.x1 > image.width ||
      out_area.y1 > image.height) {
    fail(ErrorKind::invalid_argument, "output window " + describe(out, out_at) +
                                          " is not inside the " + std::to_string(image.width) +
                                          " x " + std::to_string(image.height) + " image");
  }
  Area need = grow_clipped(out_area, halo_radius(chain), image);
  if (in_at.x > need.x0 || in_at.y > need.y0 || in_at.x + in.width < need.x1 ||
      in_at.y + in.height < need.y1) {
    fail(ErrorKind::invalid_argument,
         "input window " + describe(in, in_at) + " does not hold the " +
             std::to_string(need.width()) + " x " + std::to_string(need.height()) + " at (" +
             std::to_string(need.x0) + ", " + std::to_string(need.y0) +
             ") that the output window " + describe(out, out_at) + " needs");
  }

  std::vector<Pass> passes = plan(chain, in_format);
  // Radius still to come after each pass: pass k produces out's area grown by it.
  std::vector<int64_t> later(passes.size(), 0);
  for (size_t k = passes.size() - 1; k > 0; --k) later[k - 1] = later[k] + passes[k].entry->halo;

  Buffer previous;
  ImageView src = in;
  Window src_at = in_at;
  for (size_t k = 0; k < passes.size(); ++k) {
    if (k + 1 == passes.size()) {
      run_pass(passes[k], src, src_at, out, out_at, image, cuda_stream);
      break;
    }
    Area area = grow_clipped(out_area, later[k], image);
    Buffer next = allocate_like(out, area, passes[k].output, cuda_stream);
    Window next_at{area.x0, area.y0};
    run_pass(passes[k], src, src_at, next.view, next_at, image, cuda_stream);
    previous = std::move(next);  // frees the one before, after the work queued on it (stream order)
    src = previous.view;
    src_at = next_at;
  }
}

void downsample2(const ImageView& in, const ImageView& out, void* cuda_stream) {
  check_view(in, "input");
  check_view(out, "output");
  check_devices(in, out);
  if (in.dtype != out.dtype || in.channels != out.channels) {
    fail(ErrorKind::invalid_argument, "downsample2: input is " + describe({in.channels, in.dtype}) +
                                          ", output " + describe({out.channels, out.dtype}));
  }
  if (in.dtype != DataType::uint8 && in.dtype != DataType::uint16 &&
      in.dtype != DataType::float32) {
    fail(ErrorKind::unsupported, "downsample2 takes uint8, uint16 or float32 pixels");
  }
  if (out.width != in.width / 2 || out.height != in.height / 2) {
    fail(ErrorKind::invalid_argument, "downsample2: output is " + std::to_string(out.width) +
                                          " x " + std::to_string(out.height) + ", it must be " +
                                          std::to_string(in.width / 2) + " x " +
                                          std::to_string(in.height / 2));
  }
  if (out.width == 0 || out.height == 0) return;
#if SLIDESTREAM_HAVE_CUDA
  if (out.device == Device::cuda) return detail::downsample2_cuda(in, out, cuda_stream);
#endif
  (void)cuda_stream;
  detail::downsample2_cpu(in, out);
}

}  // namespace slidestream::ops
