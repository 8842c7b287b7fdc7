// The public ops API: names, formats, halos, argument checks, and the split of a chain into
// kernel passes (a colour op fused into the Sobel that follows it), dispatched to the CPU or CUDA
// kernels by the views' device.
#include "slidestream/ops.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "ops/kernels.hpp"
#include "slidestream/error.hpp"

namespace slidestream::ops {
namespace {

using detail::Pointwise;

[[noreturn]] void fail(ErrorKind kind, const std::string& what) {
  throw Error(kind, "ops: " + what);
}

bool is_sobel(OpKind k) {
  return k == OpKind::sobel || k == OpKind::sobel_u8;
}

Pointwise pointwise_of(OpKind k) {
  switch (k) {
    case OpKind::grey:
      return Pointwise::grey;
    case OpKind::optical_density:
      return Pointwise::od;
    case OpKind::hed:
      return Pointwise::hed;
    case OpKind::macenko:
      return Pointwise::macenko;
    default:
      return Pointwise::none;
  }
}

std::string describe(PixelFormat f) {
  return std::to_string(f.channels) + "-channel " + std::string(to_string(f.dtype));
}

std::string describe(const ImageView& v, Window at) {
  std::ostringstream s;
  s << v.width << " x " << v.height << " at (" << at.x << ", " << at.y << ")";
  return s.str();
}

void check_io(float io) {
  if (!(io >= 1.0f) || !std::isfinite(io)) {
    fail(ErrorKind::invalid_argument, "optical density needs Io >= 1, got " + std::to_string(io));
  }
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

// One kernel pass: a pointwise op alone, or a Sobel with an optional fused pointwise op before it.
struct Pass {
  detail::PointwiseParams pointwise;
  bool sobel = false;
  bool sobel_u8 = false;
  PixelFormat output;
};

std::vector<Pass> plan(const std::vector<Op>& chain, PixelFormat input) {
  std::vector<Pass> passes;
  PixelFormat format = input;
  for (size_t i = 0; i < chain.size(); ++i) {
    Pass pass;
    const Op& op = chain[i];
    if (!is_sobel(op.kind)) {
      pass.pointwise = detail::make_pointwise(pointwise_of(op.kind), op.io, op.stains);
      format = output_format(op, format);
      // Fuse a following Sobel, except after macenko, whose uint8 output the Sobel would scale.
      if (op.kind != OpKind::macenko && i + 1 < chain.size() && is_sobel(chain[i + 1].kind)) ++i;
    }
    if (is_sobel(chain[i].kind)) {
      pass.sobel = true;
      pass.sobel_u8 = chain[i].kind == OpKind::sobel_u8;
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
  bool gpu = out.device == Device::cuda;
  if (pass.sobel) {
    detail::SobelJob job{pass.pointwise, pass.sobel_u8};
#if SLIDESTREAM_HAVE_CUDA
    if (gpu) return detail::sobel_cuda(job, in, in_at, out, out_at, image, stream);
#endif
    return detail::sobel_cpu(job, in, in_at, out, out_at, image);
  }
  ImageView src = in.crop(out_at.x - in_at.x, out_at.y - in_at.y, out.width, out.height);
#if SLIDESTREAM_HAVE_CUDA
  if (gpu) return detail::pointwise_cuda(pass.pointwise, src, out, stream);
#endif
  (void)gpu;
  (void)stream;
  detail::pointwise_cpu(pass.pointwise, src, out);
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

Op parse_op(const std::string& name) {
  Op op;
  if (name == "sobel") {
    op.kind = OpKind::sobel;
  } else if (name == "sobel-u8" || name == "sobel_u8") {
    op.kind = OpKind::sobel_u8;
  } else if (name == "grey" || name == "gray") {
    op.kind = OpKind::grey;
  } else if (name == "hed") {
    op.kind = OpKind::hed;
  } else if (name == "macenko") {
    op.kind = OpKind::macenko;
    op.io = 240.0f;
  } else if (name == "od" || name.rfind("od:", 0) == 0) {
    op.kind = OpKind::optical_density;
    if (name.size() > 3) {
      std::string value = name.substr(3);
      size_t used = 0;
      try {
        op.io = std::stof(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || value.empty()) {
        fail(ErrorKind::invalid_argument, "cannot read Io in op '" + name + "' (e.g. od:240)");
      }
      check_io(op.io);
    }
  } else {
    fail(ErrorKind::invalid_argument,
         "unknown op '" + name + "' (known: sobel, sobel-u8, grey, od, od:IO, hed, macenko)");
  }
  return op;
}

std::string to_string(const Op& op) {
  switch (op.kind) {
    case OpKind::sobel:
      return "sobel";
    case OpKind::sobel_u8:
      return "sobel-u8";
    case OpKind::grey:
      return "grey";
    case OpKind::hed:
      return "hed";
    case OpKind::macenko:
      return "macenko";
    case OpKind::optical_density: {
      if (op.io == 255.0f) return "od";
      std::ostringstream s;
      s << "od:" << op.io;
      return s.str();
    }
  }
  return "unknown";
}

int halo_radius(const Op& op) noexcept {
  return is_sobel(op.kind) ? 1 : 0;
}

int halo_radius(const std::vector<Op>& chain) noexcept {
  int r = 0;
  for (const Op& op : chain) r += halo_radius(op);
  return r;
}

PixelFormat output_format(const Op& op, PixelFormat input) {
  auto refuse = [&](const char* wants) {
    fail(ErrorKind::unsupported, to_string(op) + " takes " + wants + ", not " + describe(input));
  };
  bool u8 = input.dtype == DataType::uint8;
  bool f32 = input.dtype == DataType::float32;
  if (input.channels <= 0) refuse("at least one channel");
  switch (op.kind) {
    case OpKind::sobel:
    case OpKind::sobel_u8:
      if (!u8 && !f32) refuse("uint8 or float32 pixels");
      return {input.channels, op.kind == OpKind::sobel ? DataType::float32 : DataType::uint8};
    case OpKind::grey:
      if (input.channels != 3 || (!u8 && !f32)) refuse("3-channel uint8 or float32 RGB");
      return {1, DataType::float32};
    case OpKind::optical_density:
      if (!u8) refuse("uint8 pixels");
      check_io(op.io);
      return {input.channels, DataType::float32};
    case OpKind::hed:
      if (input.channels != 3 || !u8) refuse("3-channel uint8 RGB");
      return {3, DataType::float32};
    case OpKind::macenko:
      if (input.channels != 3 || !u8) refuse("3-channel uint8 RGB");
      check_io(op.io);
      return {3, DataType::uint8};
  }
  fail(ErrorKind::unsupported, "unknown op kind");
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
  for (size_t k = passes.size() - 1; k > 0; --k)
    later[k - 1] = later[k] + (passes[k].sobel ? 1 : 0);

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
