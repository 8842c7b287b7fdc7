// Slide::open and the accessors of the slide model. The pixel reads live in src/read/.
#include "slidestream/slide.hpp"

#include <new>
#include <utility>

#include "slidestream/error.hpp"
#include "tiff/formats.hpp"
#include "tiff/slide_impl.hpp"

namespace slidestream {

std::string to_string(Compression compression) {
  switch (compression) {
    case Compression::none:
      return "none";
    case Compression::lzw:
      return "lzw";
    case Compression::old_jpeg:
      return "old-jpeg";
    case Compression::jpeg:
      return "jpeg";
    case Compression::adobe_deflate:
      return "adobe-deflate";
    case Compression::deflate:
      return "deflate";
    case Compression::jpeg2000_aperio_ycbcr:
      return "jpeg2000-aperio-ycbcr";
    case Compression::jpeg2000_aperio_rgb:
      return "jpeg2000-aperio-rgb";
    case Compression::jpeg2000:
      return "jpeg2000";
    case Compression::zstd:
      return "zstd";
    case Compression::webp:
      return "webp";
  }
  return "unknown(" + std::to_string(static_cast<uint16_t>(compression)) + ")";
}

codec::TileFormat ImageData::tile_format(const Level& level) const {
  codec::TileFormat f;
  f.compression = level.compression;
  f.photometric = level.photometric;
  f.samples_per_pixel = level.planar_configuration == 2 ? 1 : level.samples_per_pixel;
  f.bits_per_sample = level.bits_per_sample;
  f.sample_format = level.sample_format;
  f.predictor = level.predictor;
  f.width = level.tile_width;
  f.height = level.tile_height;
  f.ycbcr_subsampling_h = ycbcr_subsampling[0];
  f.ycbcr_subsampling_v = ycbcr_subsampling[1];
  f.jpeg_tables = jpeg_tables;
  f.big_endian = big_endian;
  return f;
}

Slide Slide::open(const std::filesystem::path& path) {
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  try {
    impl->file = io::File(path, io::File::Mode::read);
    impl->file_size = impl->file.size();
    tiff::open_slide(*impl);
  } catch (const Error& e) {
    throw e.with_context({.file = path.string()});
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::out_of_memory, "out of memory while reading the TIFF structure",
                {.file = path.string()});
  }
  return Slide(std::move(impl));
}

Slide::Slide(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

const std::filesystem::path& Slide::path() const noexcept {
  return impl_->path;
}
const std::string& Slide::format() const noexcept {
  return impl_->format;
}
const std::vector<Level>& Slide::levels() const noexcept {
  return impl_->levels;
}

const Level& Slide::level(int index) const {
  if (index < 0 || static_cast<size_t>(index) >= impl_->levels.size()) {
    throw Error(ErrorKind::invalid_argument,
                "level " + std::to_string(index) + " does not exist (the slide has " +
                    std::to_string(impl_->levels.size()) + " levels)",
                {.file = impl_->path.string()});
  }
  return impl_->levels[static_cast<size_t>(index)];
}

const std::vector<AssociatedImage>& Slide::associated_images() const noexcept {
  return impl_->associated;
}
std::optional<double> Slide::mpp_x() const noexcept {
  return impl_->mpp_x;
}
std::optional<double> Slide::mpp_y() const noexcept {
  return impl_->mpp_y;
}
std::optional<double> Slide::objective_power() const noexcept {
  return impl_->objective_power;
}
const std::map<std::string, std::string>& Slide::properties() const noexcept {
  return impl_->properties;
}

TileLocation Slide::tile_location(int level_index, int64_t tx, int64_t ty) const {
  const Level& lv = level(level_index);
  if (tx < 0 || ty < 0 || tx >= lv.tiles_across || ty >= lv.tiles_down) {
    throw Error(ErrorKind::invalid_argument,
                "tile (" + std::to_string(tx) + ", " + std::to_string(ty) +
                    ") is outside the level's " + std::to_string(lv.tiles_across) + " x " +
                    std::to_string(lv.tiles_down) + " tiles",
                {.file = impl_->path.string(), .level = level_index});
  }
  const ImageData& data = impl_->level_data[static_cast<size_t>(level_index)];
  size_t i = static_cast<size_t>(ty * lv.tiles_across + tx);
  return {data.tile_offsets[i], data.tile_byte_counts[i]};
}

std::span<const std::byte> Slide::jpeg_tables(int level_index) const {
  level(level_index);  // range check
  return impl_->level_data[static_cast<size_t>(level_index)].jpeg_tables;
}

uint64_t Slide::file_size() const noexcept {
  return impl_->file_size;
}

}  // namespace slidestream
