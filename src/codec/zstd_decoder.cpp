// Zstandard tiles (TIFF compression 50000, as libtiff, libvips and tifffile write them).
#include <zstd.h>

#include <memory>
#include <string>

#include "codec/decoders.hpp"
#include "slidestream/error.hpp"

namespace slidestream::codec {
namespace {

struct DctxDeleter {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

ZSTD_DCtx* thread_context() {
  thread_local std::unique_ptr<ZSTD_DCtx, DctxDeleter> d{ZSTD_createDCtx()};
  if (!d) throw Error(ErrorKind::out_of_memory, "zstd: cannot allocate a decompression context");
  return d.get();
}

}  // namespace

void decode_zstd(std::span<const std::byte> encoded, std::span<std::byte> out) {
  // Bounded by out.size(): a frame claiming more fails with dstSize_tooSmall.
  size_t n =
      ZSTD_decompressDCtx(thread_context(), out.data(), out.size(), encoded.data(), encoded.size());
  if (ZSTD_isError(n)) {
    throw Error(ErrorKind::corrupt, std::string("zstd: ") + ZSTD_getErrorName(n));
  }
  if (n != out.size()) {
    throw Error(ErrorKind::corrupt, "zstd: stream ends after " + std::to_string(n) + " of " +
                                        std::to_string(out.size()) + " bytes");
  }
}

}  // namespace slidestream::codec
