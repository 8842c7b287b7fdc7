// Slide's pixel reads on the host: the tiles that overlap a region are read with pread and
// decoded in parallel, each straight into the caller's buffer where the whole tile lands inside
// it, through per-thread scratch otherwise. A Slide is immutable after open and every buffer
// here is per call or per thread, so any number of threads may read one Slide at once.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "codec/tile_decoder.hpp"
#include "core/thread_pool.hpp"
#include "read/region_reader.hpp"
#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "source/slide_impl.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include "read/gpu_read.hpp"
#endif

namespace slidestream {
namespace {

#if !SLIDESTREAM_HAVE_CUDA
[[noreturn]] void throw_gpu_unsupported() {
  throw Error(ErrorKind::unsupported,
              "reading into GPU memory needs a build with SLIDESTREAM_CUDA=ON");
}
#endif

}  // namespace

void Slide::read_tile(int level, int64_t tx, int64_t ty, const ImageView& out,
                      const ReadOptions& options, ReadReport* report) const {
  const Level& l = this->level(level);
  if (tx < 0 || ty < 0 || tx >= l.tiles_across || ty >= l.tiles_down) {
    throw Error(ErrorKind::invalid_argument,
                "tile (" + std::to_string(tx) + ", " + std::to_string(ty) + ") is outside level " +
                    std::to_string(level) + "'s " + std::to_string(l.tiles_across) + " x " +
                    std::to_string(l.tiles_down) + " tiles",
                {impl_->path.string(), level});
  }
  if (out.device == Device::cuda) {
#if SLIDESTREAM_HAVE_CUDA
    // The GPU path reads regions: an edge tile's padding comes out as options.fill there.
    read::read_region_gpu(*impl_, level, tx * l.tile_width, ty * l.tile_height, l.tile_width,
                          l.tile_height, out, options, report);
    return;
#else
    throw_gpu_unsupported();
#endif
  }
  const read::RegionSource source{impl_->level_source(level), impl_->path.native(), level};
  read::check_output(source, l.tile_width, l.tile_height, out);
  read::read_full_tile(source, tx, ty, out, options, report);
}

void Slide::read_region(int level, int64_t x, int64_t y, int64_t width, int64_t height,
                        const ImageView& out, const ReadOptions& options,
                        ReadReport* report) const {
  this->level(level);  // range check
  if (width < 0 || height < 0) {
    throw Error(ErrorKind::invalid_argument, "negative region size", {impl_->path.string(), level});
  }
  if (out.device == Device::cuda) {
#if SLIDESTREAM_HAVE_CUDA
    read::read_region_gpu(*impl_, level, x, y, width, height, out, options, report);
    return;
#else
    throw_gpu_unsupported();
#endif
  }
  const read::RegionSource source{impl_->level_source(level), impl_->path.native(), level};
  read::check_output(source, width, height, out);
  read::read_area(source, x, y, width, height, out, options, report);
}

void Slide::read_level(int level, const ImageView& out, const ReadOptions& options,
                       ReadReport* report) const {
  const Level& l = this->level(level);
  read_region(level, 0, 0, l.width, l.height, out, options, report);
}

Image Slide::read_tile(int level, int64_t tx, int64_t ty, const ReadOptions& options) const {
  const Level& l = this->level(level);
  Image image = Image::allocate(l.tile_width, l.tile_height, l.channels, l.dtype, options.device,
                                options.cuda_device);
  read_tile(level, tx, ty, image.view(), options);
  return image;
}

Image Slide::read_region(int level, int64_t x, int64_t y, int64_t width, int64_t height,
                         const ReadOptions& options) const {
  const Level& l = this->level(level);
  Image image =
      Image::allocate(width, height, l.channels, l.dtype, options.device, options.cuda_device);
  read_region(level, x, y, width, height, image.view(), options);
  return image;
}

Image Slide::read_level(int level, const ReadOptions& options) const {
  const Level& l = this->level(level);
  return read_region(level, 0, 0, l.width, l.height, options);
}

Image Slide::read_associated(const std::string& name) const {
  const auto& list = impl_->associated;
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const AssociatedImage& a) { return a.name == name; });
  if (it == list.end()) {
    throw Error(ErrorKind::not_found, "no associated image named \"" + name + "\"",
                {impl_->path.string()});
  }
  size_t index = static_cast<size_t>(it - list.begin());
  if (index >= impl_->associated_sources.size()) {
    throw Error(ErrorKind::format, "associated image \"" + name + "\" has no pixel data",
                {impl_->path.string()});
  }
  // Associated images may be stored in strips (their source says so): the last strip holds
  // only the remaining rows.
  const source::LevelSource& tiles = *impl_->associated_sources[index];
  const Level& layout = tiles.layout();
  const read::RegionSource source{tiles, impl_->path.native(), -1};
  Image image = Image::allocate(layout.width, layout.height, layout.channels, layout.dtype);
  ReadOptions options;
  try {
    read::read_area(source, 0, 0, layout.width, layout.height, image.view(), options, nullptr);
  } catch (const Error& e) {
    throw Error(e.kind(), "associated image \"" + name + "\": " + e.cause(), e.context());
  }
  return image;
}

}  // namespace slidestream
