// The CPU slot: two host buffers, the input window with its halo and the output tile.
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
    // One call for the whole chain: ops fuses a colour op into the Sobel after it, and each op
    // of the chain computes on windows[0] shrunk by the radii of the ops before it.
    ops::apply_chain(layout_.chain, in, {windows[0].x, windows[0].y}, out_view, {last.x, last.y},
                     layout_.image);
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
  Rect output_rect_;
};

}  // namespace

std::unique_ptr<Slot> make_cpu_slot(const SlotLayout& layout) {
  return std::make_unique<CpuSlot>(layout);
}

}  // namespace slidestream::pipeline
