// A whole-slide image: a TIFF/BigTIFF pyramid (generic tiled TIFF, Aperio SVS, Philips TIFF,
// Leica SCN, Ventana BIF, OME-TIFF) opened once and read from many threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"

namespace slidestream {

// TIFF Compression tag values we know by name.
enum class Compression : uint16_t {
  none = 1,
  lzw = 5,
  old_jpeg = 6,
  jpeg = 7,
  adobe_deflate = 8,
  deflate = 32946,
  jpeg2000_aperio_ycbcr = 33003,
  jpeg2000_vips = 33004,  // libvips' `tiffsave --compression jp2k`: J2K codestreams of YCbCr
  jpeg2000_aperio_rgb = 33005,
  jpeg2000 = 34712,
  zstd = 50000,
  webp = 50001,
};
std::string to_string(Compression compression);  // "jpeg", "deflate", ... or "unknown(N)"

struct Level {
  int index = 0;
  int64_t width = 0;
  int64_t height = 0;
  uint32_t tile_width = 0;
  uint32_t tile_height = 0;
  int64_t tiles_across = 0;
  int64_t tiles_down = 0;
  // OpenSlide's definition: the mean of level-0 width / width and level-0 height / height.
  double downsample = 1.0;
  Compression compression = Compression::none;
  uint16_t photometric = 0;
  uint16_t samples_per_pixel = 1;
  uint16_t bits_per_sample = 8;
  uint16_t sample_format = 1;  // 1 uint, 2 int, 3 float
  uint16_t planar_configuration = 1;
  uint16_t predictor = 1;
  // Layout of decoded pixels as delivered by the read calls: channels interleaved.
  int channels = 1;
  DataType dtype = DataType::uint8;
};

struct AssociatedImage {
  std::string name;  // "label", "macro", "thumbnail"
  int64_t width = 0;
  int64_t height = 0;
  Compression compression = Compression::none;
};

// Where a tile's encoded bytes are in the file; byte_count 0 means the tile is absent (filled).
struct TileLocation {
  uint64_t offset = 0;
  uint64_t byte_count = 0;
};

class Slide {
 public:
  // Throws Error (not_found, format, unsupported, ...) naming the file and the cause.
  static Slide open(const std::filesystem::path& path);

  const std::filesystem::path& path() const noexcept;
  // "aperio", "philips", "leica", "ventana", "ome-tiff", "generic-tiff" (OpenSlide's vendor names)
  const std::string& format() const noexcept;
  const std::vector<Level>& levels() const noexcept;
  const Level& level(int index) const;  // throws invalid_argument when out of range
  const std::vector<AssociatedImage>& associated_images() const noexcept;
  std::optional<double> mpp_x() const noexcept;
  std::optional<double> mpp_y() const noexcept;
  std::optional<double> objective_power() const noexcept;
  // OpenSlide-style names where one exists ("openslide.mpp-x", "aperio.AppMag", "tiff.Make"...).
  const std::map<std::string, std::string>& properties() const noexcept;
  // The formats tried before the one that accepted the file, in detection order, each with the
  // reason it refused the file ({"aperio", "ImageDescription does not start with Aperio"}, ...).
  std::vector<std::pair<std::string, std::string>> refused_formats() const;

  // Raw access for readers that do their own I/O and decoding (GPU paths, benchmarks).
  TileLocation tile_location(int level, int64_t tx, int64_t ty) const;
  // The level's shared JPEGTables stream (empty if none).
  std::span<const std::byte> jpeg_tables(int level) const;
  uint64_t file_size() const noexcept;

  // Reads into a caller-provided view, on the host or on a GPU (view.device decides).
  // A tile is the full tile_width × tile_height (edge tiles include the file's padding).
  void read_tile(int level, int64_t tx, int64_t ty, const ImageView& out,
                 const ReadOptions& options = {}, ReadReport* report = nullptr) const;
  // A region in the level's own pixel coordinates; parts outside the level get options.fill.
  void read_region(int level, int64_t x, int64_t y, int64_t width, int64_t height,
                   const ImageView& out, const ReadOptions& options = {},
                   ReadReport* report = nullptr) const;
  void read_level(int level, const ImageView& out, const ReadOptions& options = {},
                  ReadReport* report = nullptr) const;

  // Same reads into a freshly allocated image on options.device.
  Image read_tile(int level, int64_t tx, int64_t ty, const ReadOptions& options = {}) const;
  Image read_region(int level, int64_t x, int64_t y, int64_t width, int64_t height,
                    const ReadOptions& options = {}) const;
  Image read_level(int level, const ReadOptions& options = {}) const;
  Image read_associated(const std::string& name) const;  // on the host

  struct Impl;  // internal: src/source/slide_impl.hpp
  explicit Slide(std::shared_ptr<const Impl> impl);
  const Impl& impl() const noexcept { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace slidestream
