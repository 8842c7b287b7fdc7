// The GPU read path's GPU decoders for codecs other than JPEG: deflate and zstd through nvCOMP
// (then byte order and predictor 2 by a kernel), JPEG 2000 through nvJPEG2000 (then Aperio's
// YCbCr conversion by a kernel). gpu_read.cpp hands a level's tiles to a LevelDecode when
// choose() says a GPU decoder covers the level; the LevelDecode's workers decode them into the
// output view. Bit-exact with the CPU path: every tile the GPU decoder refuses or cannot prove
// it decoded right (status, size, the stream's own checksum; a lossy or unusual JPEG 2000
// stream) is decoded by the CPU path instead, whose result or error (with file, level, tile and
// offset) stands.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "source/level_source.hpp"

namespace slidestream::read::gpu_codecs {

enum class Engine { none, nvcomp_deflate, nvcomp_zstd, nvjpeg2k };

// The GPU decoder that takes this level's tiles, or none (and *why): the library loaded and
// asked for (options.gpu_byte_codecs for nvCOMP, options.gpu_jpeg2000), a layout the kernels
// handle (interleaved samples the size of the level's type, predictor 1 or 2 for byte codecs),
// and for JPEG 2000 a first tile whose stream nvJPEG2000 may decode (reversible, unless
// options.gpu_jpeg2000 is `all`).
Engine choose(const source::LevelSource& tiles, const ReadOptions& options,
              std::string* why = nullptr);

// One tile of the region, as gpu_read.cpp plans it.
struct Tile {
  int64_t tx = 0, ty = 0;
  source::TileBytes encoded;       // the source's ranges (not missing)
  uint64_t offset = 0, bytes = 0;  // the first range's offset (error context); all ranges' bytes
  int64_t src_x = 0, src_y = 0;    // first wanted pixel inside the tile
  int64_t dst_x = 0, dst_y = 0;    // where it goes in the output view
  int64_t width = 0, height = 0;   // wanted pixels
};

class LevelDecode {
 public:
  // `out` is the region's device view (already cropped); `threads` the read's thread count;
  // `file` names the slide in errors.
  LevelDecode(Engine engine, const source::LevelSource& tiles, const std::string& file,
              int level_index, const ImageView& out, const ReadOptions& options, int threads);
  ~LevelDecode();
  LevelDecode(const LevelDecode&) = delete;
  LevelDecode& operator=(const LevelDecode&) = delete;

  void add(const Tile& tile);
  bool empty() const;
  // Worker threads wanted: GPU feeders, plus CPU helpers where they give the same bytes.
  int workers() const;
  // The body of worker `index` (0 .. workers() - 1): decodes tiles until none are left or
  // `stop` is set, waits for its GPU work, then returns. Throws Error with context.
  void work(int index, const std::atomic<bool>& stop);

  uint64_t file_bytes() const;
  int64_t gpu_tiles() const;     // decoded by the GPU decoder
  int64_t cpu_tiles() const;     // decoded by the CPU path (refused, unverified or helpers)
  const char* gpu_name() const;  // "nvcomp-deflate", "nvcomp-zstd", "nvjpeg2000"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace slidestream::read::gpu_codecs
