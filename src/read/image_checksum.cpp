// checksum_crc32c and for_each_host_band (slidestream/checksum.hpp): host views are checksummed
// in place in parallel pieces; GPU views band by band through one reused host band, so a level on
// the GPU is never copied to the host whole.
#include "read/image_checksum.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/crc32c.hpp"
#include "core/thread_pool.hpp"
#include "slidestream/error.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include "cuda/host_copy.hpp"
#endif

namespace slidestream::read {
namespace {

uint32_t rows_crc(const ImageView& view, int64_t first, int64_t last, uint32_t crc) {
  const size_t row = view.row_bytes();
  if (view.row_pitch == row) {
    return crc32c({view.row(first), row * static_cast<size_t>(last - first)}, crc);
  }
  for (int64_t y = first; y < last; ++y) crc = crc32c({view.row(y), row}, crc);
  return crc;
}

}  // namespace

uint32_t image_crc32c(const ImageView& view, uint32_t crc, int threads) {
  if (view.device != Device::cpu) {
    throw Error(ErrorKind::invalid_argument, "image_crc32c needs a host view");
  }
  if (view.width <= 0 || view.height <= 0) return crc;
  const int n = threads > 0 ? threads : hardware_threads();
  // Pieces of at least 8 MiB: below that, joining costs more than it saves.
  const size_t row = view.row_bytes();
  const int64_t rows_per_piece =
      std::max<int64_t>(1, static_cast<int64_t>((size_t{8} << 20) / std::max<size_t>(row, 1)));
  const int64_t pieces = (view.height + rows_per_piece - 1) / rows_per_piece;
  if (n == 1 || pieces == 1) return rows_crc(view, 0, view.height, crc);
  std::vector<uint32_t> piece_crc(static_cast<size_t>(pieces));
  ThreadPool::shared().parallel_for(
      static_cast<size_t>(pieces),
      [&](size_t i) {
        int64_t first = static_cast<int64_t>(i) * rows_per_piece;
        int64_t last = std::min(view.height, first + rows_per_piece);
        piece_crc[i] = rows_crc(view, first, last, 0);
      },
      n);
  for (int64_t i = 0; i < pieces; ++i) {
    int64_t first = i * rows_per_piece;
    int64_t last = std::min(view.height, first + rows_per_piece);
    crc = crc32c_combine(crc, piece_crc[static_cast<size_t>(i)],
                         row * static_cast<uint64_t>(last - first));
  }
  return crc;
}

}  // namespace slidestream::read

namespace slidestream {

void for_each_host_band(const ImageView& view,
                        const std::function<void(std::span<const std::byte>)>& visit,
                        size_t band_bytes) {
  if (view.width <= 0 || view.height <= 0) return;
  const size_t row = view.row_bytes();
  const int64_t band_rows =
      std::max<int64_t>(1, static_cast<int64_t>(band_bytes / std::max<size_t>(row, 1)));
  if (view.device == Device::cpu) {
    for (int64_t y = 0; y < view.height; y += band_rows) {
      const int64_t rows = std::min(band_rows, view.height - y);
      if (view.row_pitch == row) {
        visit({view.row(y), row * static_cast<size_t>(rows)});
      } else {
        for (int64_t r = y; r < y + rows; ++r) visit({view.row(r), row});
      }
    }
    return;
  }
#if SLIDESTREAM_HAVE_CUDA
  Image band =
      Image::allocate(view.width, std::min(band_rows, view.height), view.channels, view.dtype);
  for (int64_t y = 0; y < view.height; y += band_rows) {
    const int64_t rows = std::min(band_rows, view.height - y);
    ImageView dst = band.view();
    dst.height = rows;
    cuda::copy_to_host(view.crop(0, y, view.width, rows), dst);
    visit({dst.data, row * static_cast<size_t>(rows)});
  }
#else
  throw Error(ErrorKind::unsupported, "a GPU view in a build without CUDA support");
#endif
}

uint32_t checksum_crc32c(const ImageView& view, int threads) {
  if (view.device == Device::cpu) return read::image_crc32c(view, 0, threads);
  uint32_t crc = 0;
  for_each_host_band(view, [&](std::span<const std::byte> band) { crc = crc32c(band, crc); });
  return crc;
}

std::string checksum_text(uint32_t crc) {
  char text[24];
  std::snprintf(text, sizeof(text), "crc32c:%08x", crc);
  return text;
}

}  // namespace slidestream
