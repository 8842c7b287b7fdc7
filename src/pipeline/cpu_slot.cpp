// The CPU slot: three host buffers (input window, one scratch pair for chains) and the output.
#include <algorithm>
#include <cstring>

#include "pipeline/slot.hpp"
#include "slidestream/error.hpp"

namespace slidestream::pipeline {

void copy_host(const ImageView& from, const ImageView& to) {
  size_t bytes = from.row_bytes();
  for (int64_t y = 0; y < from.height; ++y) std::memcpy(to.row(y), from.row(y), bytes);
}

namespace {

size_t pixel_bytes(const ops::PixelFormat& f) {
  return size_of(f.dtype) * static_cast<size_t>(f.channels);
}

class CpuSlot final : public Slot {
 public:
  explicit CpuSlot(const SlotLayout& layout) : layout_(layout) {
    size_t n = layout.chain.size();
    input_ =
        allocate(static_cast<size_t>(layout.max_window_pixels[0]) * pixel_bytes(layout.formats[0]));
    // Intermediates alternate between two scratch buffers; the last op writes the output.
    size_t scratch = 0;
    for (size_t i = 1; i < n; ++i) {
      scratch = std::max(scratch, static_cast<size_t>(layout.max_window_pixels[i]) *
                                      pixel_bytes(layout.formats[i]));
    }
    if (n >= 2) scratch_[0] = allocate(scratch);
    if (n >= 3) scratch_[1] = allocate(scratch);
    output_ =
        allocate(static_cast<size_t>(layout.max_window_pixels[n]) * pixel_bytes(layout.formats[n]));
  }

  ImageView input(const Rect& window) override {
    return tight_view(input_.get(), window.width, window.height, layout_.formats[0], Device::cpu);
  }

  void compute(const std::vector<Rect>& windows, const ImageView* destination) override {
    size_t n = layout_.chain.size();
    ImageView in = input(windows[0]);
    const Rect& last = windows.back();
    ImageView out_view = destination ? *destination
                                     : tight_view(output_.get(), last.width, last.height,
                                                  layout_.formats[n], Device::cpu);
    output_rect_ = last;
    if (n == 0) {
      copy_host(in, out_view);
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      const Rect& w_out = windows[i + 1];
      ImageView out = i + 1 == n ? out_view
                                 : tight_view(scratch_[i % 2].get(), w_out.width, w_out.height,
                                              layout_.formats[i + 1], Device::cpu);
      ops::apply(layout_.chain[i], in, {windows[i].x, windows[i].y}, out, {w_out.x, w_out.y},
                 layout_.image);
      in = out;
    }
  }

  void wait() override {}

  ImageView host_output() override {
    size_t n = layout_.chain.size();
    return tight_view(output_.get(), output_rect_.width, output_rect_.height, layout_.formats[n],
                      Device::cpu);
  }

  uint64_t device_bytes() const noexcept override { return 0; }

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept { std::free(p); }
  };
  using Buffer = std::unique_ptr<std::byte, Free>;

  static Buffer allocate(size_t bytes) {
    if (bytes == 0) return nullptr;
    size_t rounded = (bytes + 4095) / 4096 * 4096;
    auto* p = static_cast<std::byte*>(std::aligned_alloc(4096, rounded));
    if (p == nullptr) {
      throw Error(ErrorKind::out_of_memory,
                  "cannot allocate a " + std::to_string(bytes) + "-byte tile buffer");
    }
    return Buffer(p);
  }

  const SlotLayout& layout_;
  Buffer input_, output_;
  Buffer scratch_[2];
  Rect output_rect_;
};

}  // namespace

std::unique_ptr<Slot> make_cpu_slot(const SlotLayout& layout) {
  return std::make_unique<CpuSlot>(layout);
}

}  // namespace slidestream::pipeline
