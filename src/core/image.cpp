#include "slidestream/image.hpp"

#include <unistd.h>

#include <cstdlib>
#include <new>
#include <string>

#include "core/cuda_memory.hpp"
#include "slidestream/error.hpp"

namespace slidestream {

std::string_view to_string(DataType dtype) noexcept {
  switch (dtype) {
    case DataType::uint8:
      return "uint8";
    case DataType::uint16:
      return "uint16";
    case DataType::uint32:
      return "uint32";
    case DataType::float32:
      return "float32";
  }
  return "unknown";
}

size_t size_of(DataType dtype) noexcept {
  switch (dtype) {
    case DataType::uint8:
      return 1;
    case DataType::uint16:
      return 2;
    case DataType::uint32:
      return 4;
    case DataType::float32:
      return 4;
  }
  return 1;
}

ImageView ImageView::crop(int64_t x, int64_t y, int64_t w, int64_t h) const noexcept {
  ImageView v = *this;
  v.data = data + static_cast<size_t>(y) * row_pitch + static_cast<size_t>(x) * pixel_bytes();
  v.width = w;
  v.height = h;
  return v;
}

namespace {

// The machine's physical memory. An allocation larger than this cannot succeed, but under
// overcommit (and in sandboxes such as gVisor) malloc may still return a pointer and the process
// is killed later, while the pixels are written: refuse it up front with a clear error instead.
size_t physical_memory_bytes() noexcept {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return SIZE_MAX;
  return static_cast<size_t>(pages) * static_cast<size_t>(page);
}

}  // namespace

Image Image::allocate(int64_t width, int64_t height, int channels, DataType dtype, Device device,
                      int cuda_device) {
  if (width < 0 || height < 0 || channels <= 0) {
    throw Error(ErrorKind::invalid_argument,
                "cannot allocate an image of " + std::to_string(width) + " x " +
                    std::to_string(height) + " x " + std::to_string(channels));
  }
  Image image;
  image.view_ = ImageView{.width = width,
                          .height = height,
                          .channels = channels,
                          .dtype = dtype,
                          .device = device,
                          .cuda_device = cuda_device};
  size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(width), image.view_.pixel_bytes(), &bytes) ||
      __builtin_mul_overflow(bytes, static_cast<size_t>(height), &bytes)) {
    throw Error(ErrorKind::out_of_memory, "cannot allocate an image of " + std::to_string(width) +
                                              " x " + std::to_string(height) +
                                              ": its size overflows 64 bits");
  }
  image.view_.row_pitch = image.view_.row_bytes();
  if (bytes == 0) return image;
  if (device == Device::cuda) {
    require_device(DeviceSpec{Device::cuda, cuda_device});  // names the GPUs there are
    image.storage_ = cuda::allocate_device_shared(bytes, cuda_device);
  } else {
    if (bytes > physical_memory_bytes()) {
      throw Error(ErrorKind::out_of_memory, "cannot allocate " + std::to_string(bytes) +
                                                " bytes of host memory: more than the machine's " +
                                                std::to_string(physical_memory_bytes()) + " bytes");
    }
    // 4 KiB alignment so that O_DIRECT and cuFile can use the buffer as it is.
    size_t rounded = (bytes + 4095) / 4096 * 4096;
    void* p = std::aligned_alloc(4096, rounded);
    if (p == nullptr) {
      throw Error(ErrorKind::out_of_memory,
                  "cannot allocate " + std::to_string(bytes) + " bytes of host memory");
    }
    image.storage_ =
        std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
  }
  image.view_.data = image.storage_.get();
  return image;
}

}  // namespace slidestream
