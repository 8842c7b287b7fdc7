// A tile slot: the buffers (and, on a GPU, the stream) one tile in flight uses, sized once for
// the largest tile so that nothing is allocated per tile. The CPU slot computes on the host; the
// GPU slot (src/pipeline/cuda/) reads into pinned memory, copies up, runs the chain on its own
// stream and copies the result down, asynchronously, so the stages of different tiles overlap.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pipeline/tiling.hpp"
#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"

namespace slidestream::pipeline {

// What every slot of one run holds: the chain, the pixel format before and after each op, and
// the largest window each stage of the chain sees.
struct SlotLayout {
  std::vector<ops::Op> chain;
  std::vector<ops::PixelFormat> formats;   // formats[0]: the slide's; formats[i + 1]: op i's output
  std::vector<int64_t> max_window_pixels;  // per entry of chain_windows(): width × height, at most
  int64_t max_window_edge = 0;             // largest width or height of any window
  ops::ImageExtent image;
  int cuda_device = 0;
  // GPU only: read straight into device memory (the GPU read path) instead of into pinned host
  // memory followed by an asynchronous copy.
  bool read_into_device = false;
  // Results go to the host through host_output() (false: compute() always gets a destination).
  bool host_results = true;
};

class Slot {
 public:
  virtual ~Slot() = default;
  // Where the read stage puts windows[0], tightly packed: host memory for the CPU slot and for
  // the GPU slot's pinned staging buffer, device memory when read_into_device.
  virtual ImageView input(const Rect& window) = 0;
  // Runs (CPU) or enqueues (GPU) the chain for one tile. With `destination` (same device as the
  // slot, exactly windows.back()'s size) the result goes there; otherwise it stays in the slot
  // for host_output(). `windows` is chain_windows() of the tile.
  virtual void compute(const std::vector<Rect>& windows, const ImageView* destination) = 0;
  // Waits for this slot's queued work (GPU); a no-op on the CPU.
  virtual void wait() = 0;
  // The last computed tile on the host, tightly packed; call after wait().
  virtual ImageView host_output() = 0;
  // Device memory this slot allocated (0 on the CPU).
  virtual uint64_t device_bytes() const noexcept = 0;
};

// A view of the first rect.width × rect.height pixels of `base`, tightly packed.
inline ImageView tight_view(std::byte* base, int64_t width, int64_t height,
                            const ops::PixelFormat& format, Device device, int cuda_device = 0) {
  ImageView v;
  v.data = base;
  v.width = width;
  v.height = height;
  v.channels = format.channels;
  v.dtype = format.dtype;
  v.row_pitch =
      static_cast<size_t>(width) * size_of(format.dtype) * static_cast<size_t>(format.channels);
  v.device = device;
  v.cuda_device = cuda_device;
  return v;
}

// Copies rows between two views of the same size and format on the host.
void copy_host(const ImageView& from, const ImageView& to);

std::unique_ptr<Slot> make_cpu_slot(const SlotLayout& layout);

#if SLIDESTREAM_HAVE_CUDA
// Defined in src/pipeline/cuda/gpu_slot.cpp.
std::unique_ptr<Slot> make_gpu_slot(const SlotLayout& layout);
// Device-wide helpers for the global mode and for measuring memory.
void gpu_synchronize(int cuda_device);
uint64_t gpu_used_bytes(int cuda_device);  // total - free, from cudaMemGetInfo
// Copies between views on a GPU (or host ↔ GPU), synchronously.
void gpu_copy(const ImageView& from, const ImageView& to);
#endif

}  // namespace slidestream::pipeline
