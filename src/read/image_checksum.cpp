#include "read/image_checksum.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/crc32c.hpp"
#include "io/thread_pool.hpp"
#include "slidestream/error.hpp"

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
  const int n = threads > 0 ? threads : io::hardware_threads();
  // Pieces of at least 8 MiB: below that, joining costs more than it saves.
  const size_t row = view.row_bytes();
  const int64_t rows_per_piece =
      std::max<int64_t>(1, static_cast<int64_t>((size_t{8} << 20) / std::max<size_t>(row, 1)));
  const int64_t pieces = (view.height + rows_per_piece - 1) / rows_per_piece;
  if (n == 1 || pieces == 1) return rows_crc(view, 0, view.height, crc);
  std::vector<uint32_t> piece_crc(static_cast<size_t>(pieces));
  io::ThreadPool::shared().parallel_for(
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

std::string checksum_text(uint32_t crc) {
  char text[24];
  std::snprintf(text, sizeof(text), "crc32c:%08x", crc);
  return text;
}

}  // namespace slidestream::read
