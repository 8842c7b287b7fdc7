// read/cuda/nvjpeg_route.hpp: moved out of gpu_read.cpp so that the batched reader routes tiles
// exactly as the region reader does.
#include "read/cuda/nvjpeg_route.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <optional>
#include <string>

#include "codec/jpeg_frame.hpp"
#include "read/region_reader.hpp"
#include "slidestream/error.hpp"
#include "slidestream/settings.hpp"
#include "source/slide_impl.hpp"

namespace slidestream::read {

// Settings::nvjpeg_batch / nvjpeg_workers, measured on the lent H100 (bench/RESULTS.md;
// slidestream/settings.hpp documents them).
int nvjpeg_batch() {
  return static_cast<int>(std::min<int64_t>(settings().nvjpeg_batch, kMaxNvjpegBatch));
}

int nvjpeg_workers() {
  return static_cast<int>(settings().nvjpeg_workers);
}

bool nvjpeg_can_take(const Level& l) {
  // The results must stay within what libjpeg-turbo gives (0 difference, tested).
  return l.compression == Compression::jpeg && l.photometric == 6 && l.channels == 3 &&
         l.samples_per_pixel == 3 && l.bits_per_sample == 8 && l.planar_configuration == 1 &&
         l.dtype == DataType::uint8;
}

// Baseline Huffman 8-bit YCbCr of the tile's full size, in a sampling that codec/jpeg_ycc.hpp
// reproduces, ending with EOI (a truncated stream goes to libjpeg-turbo, which reports it
// instead of padding it).
bool gpu_decodable(const Level& level, std::span<const std::byte> stream,
                   codec::ycc::Planes* shape) {
  std::optional<codec::JpegFrame> f = codec::read_jpeg_frame(stream);
  if (!f || !f->baseline_huffman() || f->precision != 8 || f->components != 3) return false;
  if (f->width != level.tile_width || f->height != level.tile_height) return false;
  if (f->h[1] != 1 || f->v[1] != 1 || f->h[2] != 1 || f->v[2] != 1) return false;
  if (stream.size() < 2 || stream[stream.size() - 2] != std::byte{0xFF} ||
      stream[stream.size() - 1] != std::byte{0xD9}) {
    return false;
  }
  shape->h_factor = f->h[0];
  shape->v_factor = f->v[0];
  shape->c_width = (f->width + f->h[0] - 1) / std::max<uint32_t>(f->h[0], 1);
  shape->c_height = (f->height + f->v[0] - 1) / std::max<uint32_t>(f->v[0], 1);
  return codec::ycc::supported(f->h[0], f->v[0], shape->c_width);
}

void check_gpu_output(const Slide::Impl& slide, const Level& l, int level, int64_t width,
                      int64_t height, const ImageView& out) {
  std::string problem = read::output_view_problem(l, Device::cuda, width, height, out);
  if (problem.empty() && out.data != nullptr) {
    cudaPointerAttributes attributes{};
    cudaError_t status = cudaPointerGetAttributes(&attributes, out.data);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      problem =
          std::string("the output pointer is not CUDA memory (") + cudaGetErrorString(status) + ")";
    } else if (attributes.type != cudaMemoryTypeDevice &&
               attributes.type != cudaMemoryTypeManaged) {
      problem = "the output pointer is not device memory";
    } else if (attributes.device != out.cuda_device) {
      problem = "the output pointer is on GPU " + std::to_string(attributes.device) +
                ", the view says GPU " + std::to_string(out.cuda_device);
    }
  }
  if (!problem.empty()) {
    throw Error(ErrorKind::invalid_argument, problem, {slide.path.string(), level});
  }
}

}  // namespace slidestream::read
