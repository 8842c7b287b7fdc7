// slidestream._core.empty_patches and slidestream._core.convert_patches: the arrays the patch
// loader (slidestream.PatchLoader) fills and hands out. empty_patches allocates an (N, H, W, C)
// uint8 batch on the host or a GPU (stream-ordered pool memory there, see BatchMemory);
// convert_patches turns one into float32 / float16, normalized (slidestream/patches.hpp), on the
// same device. Both release the GIL for the work.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#if SLIDESTREAM_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "binding.hpp"
#include "slidestream/error.hpp"
#include "slidestream/patches.hpp"

namespace slidestream::python {
namespace {

constexpr int kDlCpu = 1, kDlCuda = 2;

// A batch's memory: host memory, or GPU memory from the device's stream-ordered pool
// (cudaMallocAsync). A batch a consumer lets go is freed with cudaFreeAsync on the legacy
// default stream, after the work queued there (a torch model's, by default), without waiting
// for the device as cudaFree does: a loader freeing batches must not stall the GPU's other work.
// (A consumer that uses a batch on a stream of its own synchronises that stream before letting
// the batch go, as for any memory it does not own.)
struct BatchMemory {
  std::byte* data = nullptr;
  bool on_gpu = false;
  int device = 0;
  ~BatchMemory() {
    if (data == nullptr) return;
    if (!on_gpu) {
      std::free(data);
      return;
    }
#if SLIDESTREAM_HAVE_CUDA
    int previous = 0;
    if (cudaGetDevice(&previous) == cudaSuccess && previous != device) cudaSetDevice(device);
    (void)cudaFreeAsync(data, nullptr);
    if (previous != device) cudaSetDevice(previous);
#endif
  }
};

std::byte* allocate(BatchMemory& m, size_t bytes, const Target& t) {
  const size_t rounded = std::max<size_t>((bytes + 4095) / 4096 * 4096, 4096);
  if (t.device == Device::cpu) {
    m.data = static_cast<std::byte*>(std::aligned_alloc(4096, rounded));
    if (m.data == nullptr) throw Error(ErrorKind::out_of_memory, "cannot allocate a batch");
    return m.data;
  }
#if SLIDESTREAM_HAVE_CUDA
  m.on_gpu = true;
  m.device = t.index;
  int previous = 0;
  cudaGetDevice(&previous);
  cudaSetDevice(t.index);
  // Keep freed batches in the pool for the next ones instead of giving them back at each sync.
  cudaMemPool_t pool;
  if (cudaDeviceGetDefaultMemPool(&pool, t.index) == cudaSuccess) {
    uint64_t keep = UINT64_MAX;
    (void)cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
  }
  cudaStream_t stream = nullptr;
  void* p = nullptr;
  cudaError_t rc = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  if (rc == cudaSuccess) rc = cudaMallocAsync(&p, rounded, stream);
  if (rc == cudaSuccess) rc = cudaStreamSynchronize(stream);  // usable from any stream now
  if (stream != nullptr) cudaStreamDestroy(stream);
  cudaSetDevice(previous);
  if (rc != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error(rc == cudaErrorMemoryAllocation ? ErrorKind::out_of_memory : ErrorKind::cuda,
                "cannot allocate a batch of " + std::to_string(bytes) +
                    " bytes on cuda:" + std::to_string(t.index) + ": " + cudaGetErrorString(rc));
  }
  m.data = static_cast<std::byte*>(p);
  return m.data;
#else
  throw Error(ErrorKind::unsupported, "GPU memory needs a build with SLIDESTREAM_CUDA=ON");
#endif
}

}  // namespace

// A new (n, height, width, channels) array of `dtype` on the target; *data is its memory.
nb::object new_batch(size_t n, size_t height, size_t width, size_t channels,
                     nb::dlpack::dtype dtype, const Target& t, std::byte** data) {
  auto* owned = new BatchMemory;
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<BatchMemory*>(p); });
  {
    nb::gil_scoped_release unlocked;
    *data = allocate(*owned, n * height * width * channels * (dtype.bits / 8), t);
  }
  const size_t shape[4] = {n, height, width, channels};
  if (t.device == Device::cpu) {
    return nb::cast(nb::ndarray<nb::numpy>(*data, 4, shape, owner, nullptr, dtype, kDlCpu, 0));
  }
  return nb::cast(
      nb::ndarray<nb::array_api>(*data, 4, shape, owner, nullptr, dtype, kDlCuda, t.index));
}

namespace {

nb::object empty_patches(size_t n, int64_t height, int64_t width, int channels,
                         const std::string& device) {
  if (height < 0 || width < 0 || channels <= 0) {
    throw Error(ErrorKind::invalid_argument, "empty_patches: negative size");
  }
  std::byte* data = nullptr;
  return new_batch(n, static_cast<size_t>(height), static_cast<size_t>(width),
                   static_cast<size_t>(channels), nb::dtype<uint8_t>(), parse_target(device),
                   &data);
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
  const nb::dlpack::dtype dt{static_cast<uint8_t>(nb::dlpack::dtype_code::Float),
                             static_cast<uint8_t>(to == PatchDtype::float32 ? 32 : 16), 1};
  std::byte* data = nullptr;
  nb::object out = new_batch(n, h, static_cast<size_t>(v.width), static_cast<size_t>(v.channels),
                             dt, Target{v.device, v.cuda_device}, &data);
  {
    nb::gil_scoped_release unlocked;
    // No device-wide wait: the loader converts its own batches, complete when read.
    convert_patches(v, data, to, mean, std);
  }
  return out;
}

}  // namespace

void bind_patch_arrays(nb::module_& m) {
  m.def("empty_patches", &empty_patches, nb::arg("n"), nb::arg("height"), nb::arg("width"),
        nb::arg("channels"), nb::arg("device") = "cpu",
        "An uninitialised (N, H, W, C) uint8 array on the host or a GPU.");
  m.def("convert_patches", &convert_patches_py, nb::arg("array"), nb::arg("dtype"),
        nb::arg("mean") = std::vector<float>{}, nb::arg("std") = std::vector<float>{},
        "(N, H, W, C) uint8 -> float32 / float16, (v / 255 - mean) / std, same device (the "
        "input's GPU work must be complete).");
}

}  // namespace slidestream::python
