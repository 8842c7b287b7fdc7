// The accessors of the slide model. Slide::open (the vendor table) is in src/vendor/, the pixel
// reads in src/read/.
#include "slidestream/slide.hpp"

#include <utility>

#include "slidestream/error.hpp"
#include "source/slide_impl.hpp"

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
    case Compression::jpeg2000_vips:
      return "jpeg2000-vips";
    case Compression::jpeg2000:
      return "jpeg2000";
    case Compression::zstd:
      return "zstd";
    case Compression::webp:
      return "webp";
  }
  return "unknown(" + std::to_string(static_cast<uint16_t>(compression)) + ")";
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

// Kept separate from the accessors above: where the refusals are recorded may change with the
// source table, this accessor's answer does not.
std::vector<std::pair<std::string, std::string>> Slide::refused_formats() const {
  return impl_->refused_formats;
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
  const source::TileBytes bytes = impl_->level_source(level_index).tile(tx, ty);
  if (bytes.missing()) return {};
  if (!bytes.single() || impl_->level_source(level_index).single_file() == nullptr) {
    throw Error(ErrorKind::unsupported,
                "tile (" + std::to_string(tx) + ", " + std::to_string(ty) +
                    ") is not one byte range of the slide's file",
                {.file = impl_->path.string(), .level = level_index});
  }
  return {bytes.front().offset, bytes.front().length};
}

std::span<const std::byte> Slide::jpeg_tables(int level_index) const {
  level(level_index);  // range check
  return impl_->level_source(level_index).format().jpeg_tables;
}

uint64_t Slide::file_size() const noexcept {
  return impl_->file_size;
}

}  // namespace slidestream
