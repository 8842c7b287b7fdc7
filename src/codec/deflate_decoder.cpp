// Deflate tiles (TIFF compression 8 and 32946): a zlib stream per tile, decoded by libdeflate,
// which checks the Adler-32 trailer and never writes past the buffer it is given.
#include <libdeflate.h>

#include <memory>
#include <string>

#include "codec/decoders.hpp"
#include "slidestream/error.hpp"

namespace slidestream::codec {
namespace {

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const noexcept { libdeflate_free_decompressor(d); }
};

// libdeflate decompressors are cheap but not free to create; one per thread, reused.
libdeflate_decompressor* thread_decompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d{
      libdeflate_alloc_decompressor()};
  if (!d) throw Error(ErrorKind::out_of_memory, "deflate: cannot allocate a decompressor");
  return d.get();
}

}  // namespace

void inflate_zlib(std::span<const std::byte> encoded, std::span<std::byte> out) {
  size_t produced = 0;
  libdeflate_result r = libdeflate_zlib_decompress(
      thread_decompressor(), encoded.data(), encoded.size(), out.data(), out.size(), &produced);
  switch (r) {
    case LIBDEFLATE_SUCCESS:
      if (produced != out.size()) {
        throw Error(ErrorKind::corrupt, "deflate: stream ends after " + std::to_string(produced) +
                                            " of " + std::to_string(out.size()) + " bytes");
      }
      return;
    case LIBDEFLATE_INSUFFICIENT_SPACE:
      throw Error(ErrorKind::corrupt, "deflate: stream decodes to more than the tile's " +
                                          std::to_string(out.size()) + " bytes");
    case LIBDEFLATE_BAD_DATA:
    default:
      throw Error(ErrorKind::corrupt, "deflate: invalid or truncated zlib stream");
  }
}

}  // namespace slidestream::codec
