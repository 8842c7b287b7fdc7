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
#include "vendor/mirax_resample.hpp"
#include "vendor/tilemap_compose.hpp"

namespace slidestream::vendor::mirax {
namespace {

// openslide_read_region paints a region in pieces of 4096² pixels, each a surface of its own
// (a multiple of our tiles, so that each tile lies in one piece).
constexpr int64_t kReadPiece = 4096;
static_assert(kReadPiece % kComposedTile == 0);
// Decoded camera images kept per level: enough for the images under a few rows of tiles.
constexpr size_t kCacheBytes = size_t{128} << 20;

using Pixels = std::vector<std::byte>;

// Paints grid tile t from the camera images that overlap it (tilemap_compose.hpp serves it).
class MiraxComposer final : public TileComposer {
 public:
  MiraxComposer(ComposedLevel level, std::vector<std::shared_ptr<const source::FileStore>> files,
                int level_index)
      : level_(std::move(level)),
        files_(std::move(files)),
        across_(composed_tiles(level_.width)),
        down_(composed_tiles(level_.height)),
        cache_(kCacheBytes, static_cast<size_t>(level_.image_width) * level_.image_height * 3) {
    source::check_table_size(across_, down_, "MIRAX level " + std::to_string(level_index));
    buckets_.resize(static_cast<size_t>(across_ * down_));
    // Each bucket lists its placements in painting order (rank, lowest first).
    std::sort(level_.placements.begin(), level_.placements.end(),
              [](const Placement& a, const Placement& b) { return a.rank < b.rank; });
    for (uint32_t i = 0; i < level_.placements.size(); ++i) {
      const Placement& p = level_.placements[i];
      // A surface painted between pixels reaches the pixel its left (top) edge falls in and the
      // one its right (bottom) edge falls in: bilinear samples blend with transparency there.
      const int64_t x0 = std::max<int64_t>(static_cast<int64_t>(std::floor(p.x)), 0);
      const int64_t y0 = std::max<int64_t>(static_cast<int64_t>(std::floor(p.y)), 0);
      const int64_t x1 = std::min<int64_t>(static_cast<int64_t>(std::ceil(p.x + p.width)),
                                           across_ * kComposedTile);
      const int64_t y1 =
          std::min<int64_t>(static_cast<int64_t>(std::ceil(p.y + p.height)), down_ * kComposedTile);
      if (x0 >= x1 || y0 >= y1) continue;
      for (int64_t r = y0 / kComposedTile; r <= (y1 - 1) / kComposedTile; ++r) {
        for (int64_t c = x0 / kComposedTile; c <= (x1 - 1) / kComposedTile; ++c) {
          buckets_[static_cast<size_t>(r * across_ + c)].push_back(i);
        }
      }
    }
  }

  bool touches(size_t t) const override { return !buckets_[t].empty(); }

  // Paints grid tile t as OpenSlide's read_region of the whole level paints the same pixels:
  // into the 4096² surface (read_region's piece) holding the tile, its placements in painting
  // order, SATURATE onto transparent premultiplied ARGB32, then un-premultiplied to RGB.
  void compose(size_t t, std::byte* out) const override {
    const int64_t tx = static_cast<int64_t>(t % static_cast<size_t>(across_)) * kComposedTile;
    const int64_t ty = static_cast<int64_t>(t / static_cast<size_t>(across_)) * kComposedTile;
    const int64_t sx = tx / kReadPiece * kReadPiece, sy = ty / kReadPiece * kReadPiece;
    std::vector<Argb> plane(size_t{kComposedTile} * kComposedTile, 0);
    const Canvas canvas{
        plane.data(),
        {tx, ty, kComposedTile, kComposedTile},
        {sx, sy, std::min(kReadPiece, level_.width - sx), std::min(kReadPiece, level_.height - sy)},
        kComposedTile};
    for (const uint32_t index : buckets_[t]) {
      const Placement& p = level_.placements[index];
      // tilemap_read_tile skips a tile ending at or before the surface's start (with its
      // nominal size: a tile cut at a fractional size may reach one pixel further).
      if (p.x + p.tile_w <= static_cast<double>(sx) || p.y + p.tile_h <= static_cast<double>(sy))
        continue;
      const auto pixels = decoded(p.image);
      const Surface image{pixels->data(), nullptr, level_.image_width, level_.image_height};
      if (!p.cut) {
        paint_saturate(image, sampling_at(p.x, p.y), p.x, p.y, canvas);
        continue;
      }
      const std::vector<Argb> cut = cut_tile(image, p.src_x, p.src_y, p.width, p.height);
      paint_saturate(Surface{nullptr, cut.data(), p.width, p.height}, sampling_at(p.x, p.y), p.x,
                     p.y, canvas);
    }
    unpremultiply_rgb(plane, out);
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

  ComposedLevel level_;
  std::vector<std::shared_ptr<const source::FileStore>> files_;
  int64_t across_, down_;
  std::vector<std::vector<uint32_t>> buckets_;  // per grid tile: placements in painting order
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
