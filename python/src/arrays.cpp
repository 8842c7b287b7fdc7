// Arrays across the boundary. Out: an owned Image becomes a NumPy array (host) or a DLPack-capable
// nanobind ndarray (GPU) whose capsule owns the Image, so nothing is copied. In: any DLPack
// producer or buffer (NumPy, CuPy, torch) is seen as an ImageView after checking its dtype, shape
// and strides: channels interleaved, rows at any pitch, so a caller may pass a slice of a larger
// array as long as each row is contiguous.
#include <nanobind/stl/string.h>

#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "binding.hpp"
#include "slidestream/error.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace slidestream::python {
namespace {

constexpr int kDlCpu = 1, kDlCuda = 2, kDlCudaHost = 3, kDlCudaManaged = 13;

nb::dlpack::dtype dlpack_dtype(DataType dtype) {
  switch (dtype) {
    case DataType::uint8:
      return nb::dtype<uint8_t>();
    case DataType::uint16:
      return nb::dtype<uint16_t>();
    case DataType::uint32:
      return nb::dtype<uint32_t>();
    case DataType::float32:
      return nb::dtype<float>();
  }
  return nb::dtype<uint8_t>();
}

bool data_type_of(nb::dlpack::dtype d, DataType& out) {
  for (DataType t : {DataType::uint8, DataType::uint16, DataType::uint32, DataType::float32}) {
    if (dlpack_dtype(t) == d) {
      out = t;
      return true;
    }
  }
  return false;
}

std::string dtype_name(nb::dlpack::dtype d) {
  const char* code = d.code == uint8_t(nb::dlpack::dtype_code::UInt)    ? "uint"
                     : d.code == uint8_t(nb::dlpack::dtype_code::Int)   ? "int"
                     : d.code == uint8_t(nb::dlpack::dtype_code::Float) ? "float"
                     : d.code == uint8_t(nb::dlpack::dtype_code::Bool)  ? "bool"
                                                                        : "other";
  return std::string(code) + std::to_string(d.bits);
}

[[noreturn]] void bad(const char* what, const std::string& why) {
  throw Error(ErrorKind::invalid_argument, std::string(what) + ": " + why);
}

}  // namespace

Target parse_target(const std::string& text) {
  // slidestream::parse_device is the one parser; "gpu" / "gpu:N" stay accepted as aliases.
  std::string spelled = text;
  if (spelled.starts_with("gpu")) spelled.replace(0, 3, "cuda");
  try {
    const DeviceSpec spec = parse_device(spelled);
    return Target{spec.kind, spec.index};
  } catch (const Error&) {
    bad("device", "'" + text + "' is not a device: use \"cpu\", \"cuda\" or \"cuda:N\"");
  }
}

nb::object to_python(Image&& image, bool drop_single_channel, int64_t batch, int64_t batch_height) {
  const ImageView v = image.view();
  auto* owned = new Image(std::move(image));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<Image*>(p); });
  size_t shape[4] = {static_cast<size_t>(v.height), static_cast<size_t>(v.width),
                     static_cast<size_t>(v.channels), 0};
  size_t ndim = (drop_single_channel && v.channels == 1) ? 2 : 3;
  if (batch >= 0) {
    // Regions stacked as rows: the same memory as (batch, batch_height, width, channels).
    shape[0] = static_cast<size_t>(batch);
    shape[1] = static_cast<size_t>(batch_height);
    shape[2] = static_cast<size_t>(v.width);
    shape[3] = static_cast<size_t>(v.channels);
    ndim = 4;
  }
  const nb::dlpack::dtype dtype = dlpack_dtype(v.dtype);
  if (v.device == Device::cpu) {
    return nb::cast(nb::ndarray<nb::numpy>(v.data, ndim, shape, owner, nullptr, dtype, kDlCpu, 0));
  }
  // array_api: an object with __dlpack__ / __dlpack_device__ that can be exported any number of
  // times (a bare DLPack capsule is consumed by its first import, which left CudaArray.get()
  // with a used capsule on the H200).
  return nb::cast(nb::ndarray<nb::array_api>(v.data, ndim, shape, owner, nullptr, dtype, kDlCuda,
                                             v.cuda_device));
}

ImageView view_of(const AnyArray& a, const char* what) {
  ImageView v;
  if (!data_type_of(a.dtype(), v.dtype)) {
    bad(what, "dtype " + dtype_name(a.dtype()) + " is not one of uint8, uint16, uint32, float32");
  }
  if (a.ndim() != 2 && a.ndim() != 3) {
    bad(what, "has " + std::to_string(a.ndim()) + " dimensions; expected (height, width) or " +
                  "(height, width, channels)");
  }
  v.height = static_cast<int64_t>(a.shape(0));
  v.width = static_cast<int64_t>(a.shape(1));
  v.channels = a.ndim() == 3 ? static_cast<int>(a.shape(2)) : 1;
  const int64_t item = static_cast<int64_t>(size_of(v.dtype));
  // Strides in elements; a dimension of extent 1 may carry any stride.
  const int64_t sc = a.ndim() == 3 ? a.stride(2) : 1;
  const int64_t sx = a.stride(1), sy = a.stride(0);
  const bool channels_ok = v.channels == 1 || sc == 1;
  const bool pixels_ok = v.width == 1 || sx == v.channels;
  const bool rows_ok = v.height == 1 || sy >= v.width * v.channels;
  if (!channels_ok || !pixels_ok || !rows_ok) {
    bad(what, "must have contiguous rows with interleaved channels (strides (>= " +
                  std::to_string(v.width * v.channels) + ", " + std::to_string(v.channels) +
                  ", 1) in elements); got (" + std::to_string(sy) + ", " + std::to_string(sx) +
                  (a.ndim() == 3 ? ", " + std::to_string(sc) : std::string()) +
                  "): pass a C-contiguous array (e.g. numpy.ascontiguousarray)");
  }
  v.row_pitch = static_cast<size_t>((v.height == 1 ? v.width * v.channels : sy) * item);
  v.data = reinterpret_cast<std::byte*>(const_cast<void*>(static_cast<const void*>(a.data())));
  switch (a.device_type()) {
    case kDlCpu:
    case kDlCudaHost:
      v.device = Device::cpu;
      break;
    case kDlCuda:
    case kDlCudaManaged:
      v.device = Device::cuda;
      v.cuda_device = a.device_id();
      break;
    default:
      bad(what, "lives on DLPack device type " + std::to_string(a.device_type()) +
                    "; slidestream takes host (CPU) and CUDA arrays");
  }
  return v;
}

void wait_for_producer(const ImageView& view) {
  if (view.device != Device::cuda) return;
#if SLIDESTREAM_HAVE_CUDA
  int previous = 0;
  cudaGetDevice(&previous);
  cudaError_t rc = cudaSetDevice(view.cuda_device);
  if (rc == cudaSuccess) rc = cudaDeviceSynchronize();
  cudaSetDevice(previous);
  if (rc != cudaSuccess) {
    throw Error(ErrorKind::cuda,
                std::string("waiting for the array's GPU work: ") + cudaGetErrorString(rc));
  }
#else
  throw Error(ErrorKind::unsupported,
              "a CUDA array needs slidestream built with CUDA (SLIDESTREAM_CUDA=ON)");
#endif
}

}  // namespace slidestream::python

namespace slidestream::python {
namespace {

// (data pointer, shape, strides in bytes, dtype name, DLPack device type, device id) of any
// array, for __cuda_array_interface__ and for tests that check "no copy".
nb::tuple array_interface(const AnyArray& a) {
  nb::list shape, strides;
  for (size_t i = 0; i < a.ndim(); ++i) {
    shape.append(a.shape(i));
    strides.append(a.stride(i) * static_cast<int64_t>(a.itemsize()));
  }
  return nb::make_tuple(reinterpret_cast<uintptr_t>(a.data()), nb::tuple(shape), nb::tuple(strides),
                        dtype_name(a.dtype()), a.device_type(), a.device_id());
}

// A host copy of a C-contiguous array of any shape and dtype (batches of patches: (N, H, W, C),
// float16), byte for byte.
nb::object to_host_bytes(const AnyArray& a) {
  size_t count = 1;
  std::vector<size_t> shape(a.ndim());
  for (size_t i = 0; i < a.ndim(); ++i) count *= shape[i] = a.shape(i);
  int64_t expected = 1;
  for (size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) != 1 && a.stride(i) != expected) {
      bad("array", "must be C-contiguous to be copied as it is");
    }
    expected *= static_cast<int64_t>(a.shape(i));
  }
  const size_t bytes = count * a.itemsize();
  Image host = Image::allocate(static_cast<int64_t>(bytes), 1, 1, DataType::uint8, Device::cpu);
  ImageView src;
  src.data = reinterpret_cast<std::byte*>(const_cast<void*>(static_cast<const void*>(a.data())));
  src.width = static_cast<int64_t>(bytes);
  src.height = 1;
  src.row_pitch = bytes;
  src.device = a.device_type() == kDlCpu ? Device::cpu : Device::cuda;
  src.cuda_device = a.device_id();
  {
    nb::gil_scoped_release unlocked;
    if (src.device == Device::cpu) {
      if (bytes > 0) std::memcpy(host.data(), src.data, bytes);
    } else {
#if SLIDESTREAM_HAVE_CUDA
      wait_for_producer(src);
      const cudaError_t rc = cudaMemcpy(host.data(), src.data, bytes, cudaMemcpyDefault);
      if (rc != cudaSuccess) {
        throw Error(ErrorKind::cuda, std::string("copying to the host: ") + cudaGetErrorString(rc));
      }
#endif
    }
  }
  auto* owned = new Image(std::move(host));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<Image*>(p); });
  return nb::cast(nb::ndarray<nb::numpy>(owned->data(), shape.size(), shape.data(), owner, nullptr,
                                         a.dtype(), kDlCpu, 0));
}

// A host copy (NumPy) of an array on a GPU or the host.
nb::object to_host(const AnyArray& a) {
  DataType known;
  if ((a.ndim() != 2 && a.ndim() != 3) || !data_type_of(a.dtype(), known)) {
    return to_host_bytes(a);
  }
  const ImageView src = view_of(a, "array");
  Image host = Image::allocate(src.width, src.height, src.channels, src.dtype, Device::cpu);
  {
    nb::gil_scoped_release unlocked;
    if (src.device == Device::cpu) {
      for (int64_t y = 0; y < src.height; ++y) {
        std::memcpy(host.view().row(y), src.row(y), src.row_bytes());
      }
    } else {
#if SLIDESTREAM_HAVE_CUDA
      wait_for_producer(src);
      const cudaError_t rc =
          cudaMemcpy2D(host.data(), host.view().row_pitch, src.data, src.row_pitch, src.row_bytes(),
                       static_cast<size_t>(src.height), cudaMemcpyDefault);
      if (rc != cudaSuccess) {
        throw Error(ErrorKind::cuda, std::string("copying to the host: ") + cudaGetErrorString(rc));
      }
#endif
    }
  }
  return to_python(std::move(host), a.ndim() == 2);
}

}  // namespace

void bind_arrays(nb::module_& m) {
  m.def("array_interface", &array_interface, nb::arg("array"),
        "(data pointer, shape, strides in bytes, dtype, DLPack device type, device id).");
  m.def("to_host", &to_host, nb::arg("array"), "A NumPy copy of a host or GPU array.");
}

}  // namespace slidestream::python
