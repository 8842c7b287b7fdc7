#include "vendor/mirax_level_source.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <utility>

#include "codec/jpeg_frame.hpp"
#include "codec/tile_decoder.hpp"
#include "slidestream/error.hpp"
#include "source/table_level_source.hpp"
#include "vendor/tilemap_compose.hpp"
#include "vendor/tilemap_paint.hpp"

namespace slidestream::vendor::mirax {
namespace {

// Decoded camera images kept per level: enough for the images under a few rows of tiles.
constexpr size_t kCacheBytes = size_t{128} << 20;

using Pixels = std::vector<std::byte>;

// Paints grid tile t from the camera images that overlap it (tilemap_paint.hpp), decoding
// each from its data file: an opaque RGB24 surface.
class MiraxComposer final : public TilemapComposer {
 public:
  MiraxComposer(ComposedLevel level, std::vector<std::shared_ptr<const source::FileStore>> files,
                int level_index)
      : TilemapComposer(level.width, level.height, std::move(level.placements),
                        "MIRAX level " + std::to_string(level_index)),
        level_(std::move(level)),
        files_(std::move(files)),
        cache_(kCacheBytes, static_cast<size_t>(level_.image_width) * level_.image_height * 3) {}

 private:
  DecodedSurface surface_of(uint32_t index) const override {
    auto pixels = decoded(index);
    const mirax::Surface image{pixels->data(), nullptr, level_.image_width, level_.image_height};
    return {image, std::move(pixels)};
  }

  std::shared_ptr<const Pixels> decoded(uint32_t index) const {
    if (auto hit = cache_.find(index)) return hit;
    const StoredImage& image = level_.images[index];
    const source::FileStore& file = *files_[image.datafile];
    // The cause names the data file; the read path adds the slide's path, level and tile.
    const std::string where = "camera image at offset " + std::to_string(image.offset) + " of " +
                              std::filesystem::path(file.name()).filename().string() + ": ";
    if (image.offset > file.size() || image.length > file.size() - image.offset) {
      throw Error(ErrorKind::format, where + std::to_string(image.length) +
                                         " bytes run past the end of the data file (" +
                                         std::to_string(file.size()) + " bytes)");
    }
    const size_t w = static_cast<size_t>(level_.image_width),
                 h = static_cast<size_t>(level_.image_height);
    if (image.length > w * h * 3 * 4 + (size_t{1} << 20)) {
      throw Error(ErrorKind::limit, where + std::to_string(image.length) +
                                        " bytes are implausible for " + std::to_string(w) + " x " +
                                        std::to_string(h) + " pixels");
    }
    Pixels encoded(static_cast<size_t>(image.length));
    file.read_exact(encoded, image.offset);
    auto frame = codec::read_jpeg_frame(encoded);
    if (!frame || frame->width != w || frame->height != h || frame->components != 3) {
      throw Error(
          ErrorKind::corrupt,
          where + (frame ? "a " + std::to_string(frame->width) + " x " +
                               std::to_string(frame->height) + " JPEG of " +
                               std::to_string(frame->components) + " components, expected " +
                               std::to_string(w) + " x " + std::to_string(h) + " RGB"
                         : std::string("not a JPEG stream")));
    }
    auto pixels = std::make_shared<Pixels>(w * h * 3);
    codec::TileFormat format;
    format.compression = Compression::jpeg;
    format.photometric = 6;
    format.samples_per_pixel = 3;
    format.width = static_cast<uint32_t>(w);
    format.height = static_cast<uint32_t>(h);
    ImageView view{.data = pixels->data(),
                   .width = static_cast<int64_t>(w),
                   .height = static_cast<int64_t>(h),
                   .channels = 3,
                   .row_pitch = w * 3};
    try {
      codec::decode_tile(encoded, format, view);
    } catch (const Error& e) {
      throw Error(e.kind(), where + e.cause());
    }
    cache_.put(index, pixels);
    return pixels;
  }

  ComposedLevel level_;  // its images (the placements are the composer's)
  std::vector<std::shared_ptr<const source::FileStore>> files_;
  mutable DecodedCache<Pixels> cache_;
};

}  // namespace

std::shared_ptr<source::LevelSource> make_composed_source(
    ComposedLevel level, std::vector<std::shared_ptr<const source::FileStore>> datafiles,
    int level_index) {
  const int64_t width = level.width, height = level.height;
  auto composer =
      std::make_shared<MiraxComposer>(std::move(level), std::move(datafiles), level_index);
  return make_composed_level_source(
      width, height, std::move(composer),
      "MIRAX level " + std::to_string(level_index) + " (composed from its camera images)");
}

}  // namespace slidestream::vendor::mirax
