// slidestream._core.empty_patches and slidestream._core.convert_patches: the arrays the patch
// loader (slidestream.PatchLoader) fills and hands out. empty_patches allocates an (N, H, W, C)
// uint8 batch on the host or a GPU; convert_patches turns one into float32 / float16, normalized
// (slidestream/patches.hpp), on the same device. Both release the GIL for the work.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "binding.hpp"
#include "slidestream/error.hpp"
#include "slidestream/patches.hpp"

namespace slidestream::python {
namespace {

constexpr int kDlCpu = 1, kDlCuda = 2;

nb::object empty_patches(size_t n, int64_t height, int64_t width, int channels,
                         const std::string& device) {
  const Target t = parse_target(device);
  Image image;
  {
    nb::gil_scoped_release unlocked;
    image = Image::allocate(width, static_cast<int64_t>(n) * height, channels, DataType::uint8,
                            t.device, t.index);
  }
  return to_python(std::move(image), false, static_cast<int64_t>(n), height);
}

// `image` (n × height rows) as an (n, height, width, channels) array of `dtype`.
nb::object as_batch(Image&& image, size_t n, size_t height, nb::dlpack::dtype dtype) {
  const ImageView v = image.view();
  auto* owned = new Image(std::move(image));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<Image*>(p); });
  const size_t shape[4] = {n, height, static_cast<size_t>(v.width),
                           static_cast<size_t>(v.channels)};
  if (v.device == Device::cpu) {
    return nb::cast(nb::ndarray<nb::numpy>(v.data, 4, shape, owner, nullptr, dtype, kDlCpu, 0));
  }
  return nb::cast(
      nb::ndarray<nb::array_api>(v.data, 4, shape, owner, nullptr, dtype, kDlCuda, v.cuda_device));
}

nb::object convert_patches_py(const nb::ndarray<nb::ro, nb::c_contig>& in, const std::string& dtype,
                              const std::vector<float>& mean, const std::vector<float>& std) {
  if (in.ndim() != 4 || in.dtype() != nb::dtype<uint8_t>()) {
    throw Error(ErrorKind::invalid_argument, "convert_patches: needs an (N, H, W, C) uint8 array");
  }
  PatchDtype to;
  if (dtype == "float32") {
    to = PatchDtype::float32;
  } else if (dtype == "float16") {
    to = PatchDtype::float16;
  } else {
    throw Error(ErrorKind::invalid_argument,
                "dtype must be uint8, float16 or float32, got \"" + dtype + "\"");
  }
  const size_t n = in.shape(0), h = in.shape(1);
  ImageView v;
  v.data = static_cast<std::byte*>(const_cast<void*>(in.data()));
  v.width = static_cast<int64_t>(in.shape(2));
  v.height = static_cast<int64_t>(n * h);
  v.channels = static_cast<int>(in.shape(3));
  v.row_pitch = static_cast<size_t>(v.width) * static_cast<size_t>(v.channels);
  const bool on_gpu = in.device_type() == nb::device::cuda::value;
  v.device = on_gpu ? Device::cuda : Device::cpu;
  v.cuda_device = on_gpu ? in.device_id() : 0;
  Image out;
  {
    nb::gil_scoped_release unlocked;
    wait_for_producer(v);
    out = Image::allocate(v.width, v.height, v.channels,
                          to == PatchDtype::float32 ? DataType::float32 : DataType::uint16,
                          v.device, v.cuda_device);
    convert_patches(v, out.data(), to, mean, std);
  }
  const nb::dlpack::dtype dt{static_cast<uint8_t>(nb::dlpack::dtype_code::Float),
                             static_cast<uint8_t>(to == PatchDtype::float32 ? 32 : 16), 1};
  return as_batch(std::move(out), n, h, dt);
}

}  // namespace

void bind_patch_arrays(nb::module_& m) {
  m.def("empty_patches", &empty_patches, nb::arg("n"), nb::arg("height"), nb::arg("width"),
        nb::arg("channels"), nb::arg("device") = "cpu",
        "An uninitialised (N, H, W, C) uint8 array on the host or a GPU.");
  m.def("convert_patches", &convert_patches_py, nb::arg("array"), nb::arg("dtype"),
        nb::arg("mean") = std::vector<float>{}, nb::arg("std") = std::vector<float>{},
        "(N, H, W, C) uint8 -> float32 / float16, (v / 255 - mean) / std, same device.");
}

}  // namespace slidestream::python
