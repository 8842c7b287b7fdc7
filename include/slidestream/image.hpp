// Pixel buffers: a non-owning view (pointer + row pitch, on the host or on a GPU) and an owning
// image. Pixels are interleaved (chunky): RGB uint8 is R,G,B,R,G,B...
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "slidestream/device.hpp"

namespace slidestream {

enum class DataType : uint8_t { uint8, uint16, uint32, float32 };

std::string_view to_string(DataType dtype) noexcept;
size_t size_of(DataType dtype) noexcept;

struct ImageView {
  std::byte* data = nullptr;
  int64_t width = 0;
  int64_t height = 0;
  int channels = 1;
  DataType dtype = DataType::uint8;
  size_t row_pitch = 0;  // bytes between the starts of two rows; >= width * pixel_bytes()
  Device device = Device::cpu;
  int cuda_device = 0;

  size_t pixel_bytes() const noexcept { return size_of(dtype) * static_cast<size_t>(channels); }
  size_t row_bytes() const noexcept { return pixel_bytes() * static_cast<size_t>(width); }
  size_t tight_bytes() const noexcept { return row_bytes() * static_cast<size_t>(height); }
  std::byte* row(int64_t y) const noexcept { return data + static_cast<size_t>(y) * row_pitch; }
  // A view of the sub-rectangle [x, x+w) × [y, y+h); the caller keeps it inside this view.
  ImageView crop(int64_t x, int64_t y, int64_t w, int64_t h) const noexcept;
};

// Owns a tightly packed (row_pitch == row_bytes) buffer in host memory or on a GPU.
class Image {
 public:
  Image() = default;
  static Image allocate(int64_t width, int64_t height, int channels, DataType dtype,
                        Device device = Device::cpu, int cuda_device = 0);

  const ImageView& view() const noexcept { return view_; }
  std::byte* data() const noexcept { return view_.data; }
  int64_t width() const noexcept { return view_.width; }
  int64_t height() const noexcept { return view_.height; }
  int channels() const noexcept { return view_.channels; }
  DataType dtype() const noexcept { return view_.dtype; }
  Device device() const noexcept { return view_.device; }
  size_t size_bytes() const noexcept { return view_.tight_bytes(); }
  explicit operator bool() const noexcept { return view_.data != nullptr; }

 private:
  std::shared_ptr<std::byte> storage_;
  ImageView view_;
};

}  // namespace slidestream
