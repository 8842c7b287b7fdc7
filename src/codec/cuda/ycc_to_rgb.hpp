// Finishes GPU-decoded JPEG tiles: from nvJPEG's Y/Cb/Cr planes to interleaved RGB written
// straight into the destination (the wanted part of each tile only), with libjpeg-turbo's
// upsampling and colour conversion (codec/jpeg_ycc.hpp), so the pixels equal a CPU decode.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "codec/jpeg_ycc.hpp"

namespace slidestream::codec::cuda {

struct YccTile {
  ycc::Planes planes;              // device pointers
  uint32_t src_x = 0, src_y = 0;   // first wanted pixel of the decoded tile
  uint32_t width = 0, height = 0;  // wanted pixels
  std::byte* dst = nullptr;        // where (src_x, src_y) goes
  uint64_t dst_pitch = 0;
};

// `tiles` is a device array of `count` entries; max_width/max_height bound every entry's wanted
// size. Asynchronous on `stream`; launch errors are thrown as Error(cuda).
void ycc_to_rgb(const YccTile* tiles, int count, uint32_t max_width, uint32_t max_height,
                cudaStream_t stream);

}  // namespace slidestream::codec::cuda
