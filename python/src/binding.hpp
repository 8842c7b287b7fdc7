// Shared pieces of the Python binding (slidestream._core): devices, arrays in and out, and the
// bind_* functions each source file contributes. The binding uses only the public API
// (include/slidestream/); the Python layer (python/slidestream/*.py) holds the conveniences.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <memory>
#include <string>

#include "slidestream/error.hpp"
#include "slidestream/image.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::python {

namespace nb = nanobind;

// "cpu", "cuda", "cuda:N" (also "gpu", "gpu:N"); anything else is Error(invalid_argument).
struct Target {
  Device device = Device::cpu;
  int index = 0;
};
Target parse_target(const std::string& text);

// An owned image as a Python array without a copy: a NumPy array on the host, a nanobind
// ndarray (DLPack) on a GPU. The array keeps the image's memory alive. `drop_single_channel`
// returns (H, W) instead of (H, W, 1); `batch` >= 0 returns (batch, batch_height, W, C) (a batch
// of regions stacked as rows: H == batch × batch_height).
nb::object to_python(Image&& image, bool drop_single_channel = false, int64_t batch = -1,
                     int64_t batch_height = 0);

// A caller's array (any DLPack producer or buffer) as a view: (H, W, C) or (H, W) with
// channels interleaved and rows at any pitch. Throws Error(invalid_argument) saying what does
// not fit. `what` names the argument in messages ("out", "array").
using AnyArray = nb::ndarray<nb::ro>;
ImageView view_of(const AnyArray& array, const char* what);

// Waits until work already queued on the array's GPU (by its producer, on any stream) is done,
// so that reading or writing the array from our own streams is safe. No-op on the host.
void wait_for_producer(const ImageView& view);

// slidestream._core.Slide. Holds the library Slide; close() drops it.
class PySlide {
 public:
  explicit PySlide(const std::string& path) {
    nb::gil_scoped_release unlocked;
    slide_ = std::make_shared<const Slide>(Slide::open(path));
  }
  // A reference for one call: a concurrent close() cannot pull the Slide from under it.
  std::shared_ptr<const Slide> get() const {
    auto s = slide_;
    if (!s) throw Error(ErrorKind::invalid_argument, "the slide is closed");
    return s;
  }
  void close() noexcept { slide_.reset(); }
  bool closed() const noexcept { return !slide_; }

 private:
  std::shared_ptr<const Slide> slide_;
};

// A new (n, height, width, channels) array of `dtype` on the target (NumPy; on a GPU, DLPack over
// stream-ordered pool memory, freed without a device-wide wait); *data is its memory.
nb::object new_batch(size_t n, size_t height, size_t width, size_t channels,
                     nb::dlpack::dtype dtype, const Target& t, std::byte** data);

void bind_errors(nb::module_& m);
void bind_arrays(nb::module_& m);
void bind_slide(nb::module_& m);
void bind_zarr(nb::module_& m);
void bind_pipeline(nb::module_& m);
void bind_regions(nb::module_& m);
void bind_patches(nb::module_& m);
void bind_patch_arrays(nb::module_& m);

}  // namespace slidestream::python
