// A slide served from memory by stub tile sources (source/level_source.hpp), for the tests that
// prove the readers ask only the tile-source layer: tests/test_tile_source_stub.cpp (CPU) and
// tests/test_gpu_tile_source_stub.cpp (GPU). Pixels are a formula of (x, y, channel), so the
// expected image is computed here, independently of any reader. The stub has what a TIFF level
// cannot show:
//  - level 0: tiles missing (sparse), tiles whose bytes are three ranges in two memory stores,
//    stored out of order, and tiles that are one range (stores have no file: no fast path);
//  - level 1: stored in strips (full-width tiles, the last holding only the rows left);
//  - level 2: stored tiles larger than the tile grid (decoded, then cropped to the grid).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "slidestream/image.hpp"
#include "slidestream/slide.hpp"
#include "source/byte_store.hpp"
#include "source/level_source.hpp"
#include "source/slide_factory.hpp"

namespace slidestream::test {

inline uint8_t stub_value(int level, int64_t x, int64_t y, int c) {
  return static_cast<uint8_t>((x * 7 + y * 13 + c * 101 + level * 31 + ((x * y) >> 3)) & 0xFF);
}

struct StubLevelSpec {
  int64_t width = 0, height = 0;
  uint32_t tile_width = 0, tile_height = 0;      // the grid
  uint32_t stored_width = 0, stored_height = 0;  // a stored (decoded) tile; >= the grid's
  bool strips = false;
  std::set<std::pair<int64_t, int64_t>> missing;     // (col, row)
  std::set<std::pair<int64_t, int64_t>> multirange;  // (col, row): three ranges, two stores
};

inline std::vector<StubLevelSpec> stub_specs() {
  StubLevelSpec l0{.width = 100,
                   .height = 70,
                   .tile_width = 32,
                   .tile_height = 16,
                   .stored_width = 32,
                   .stored_height = 16};
  l0.missing = {{1, 0}, {3, 2}, {0, 4}};
  l0.multirange = {{0, 0}, {2, 1}, {3, 4}, {1, 3}};
  StubLevelSpec l1{.width = 50,
                   .height = 35,
                   .tile_width = 50,
                   .tile_height = 8,
                   .stored_width = 50,
                   .stored_height = 8,
                   .strips = true};
  l1.missing = {{0, 2}};
  l1.multirange = {{0, 4}};  // the short last strip
  StubLevelSpec l2{.width = 25,
                   .height = 18,
                   .tile_width = 8,
                   .tile_height = 8,
                   .stored_width = 12,
                   .stored_height = 10};
  l2.missing = {{2, 1}};
  l2.multirange = {{1, 1}};
  return {l0, l1, l2};
}

class StubSource final : public source::LevelSource {
 public:
  StubSource(const Level& layout, const codec::TileFormat& format,
             std::vector<std::shared_ptr<const source::ByteStore>> stores, bool strips,
             std::vector<source::TileBytes> tiles)
      : LevelSource(layout, format, {}, std::move(stores), strips), tiles_(std::move(tiles)) {}

  source::TileBytes tile(int64_t col, int64_t row, int plane) const override {
    (void)plane;
    return tiles_[static_cast<size_t>(row * layout().tiles_across + col)];
  }

 private:
  std::vector<source::TileBytes> tiles_;
};

inline std::shared_ptr<StubSource> make_stub_level(int level, const StubLevelSpec& spec) {
  Level l;
  l.width = spec.width;
  l.height = spec.height;
  l.tile_width = spec.tile_width;
  l.tile_height = spec.tile_height;
  l.tiles_across = (spec.width + spec.tile_width - 1) / spec.tile_width;
  l.tiles_down = (spec.height + spec.tile_height - 1) / spec.tile_height;
  l.compression = Compression::none;
  l.photometric = 2;
  l.samples_per_pixel = 3;
  l.bits_per_sample = 8;
  l.channels = 3;
  l.dtype = DataType::uint8;
  codec::TileFormat f;
  f.compression = Compression::none;
  f.photometric = 2;
  f.samples_per_pixel = 3;
  f.bits_per_sample = 8;
  f.width = spec.stored_width;
  f.height = spec.stored_height;

  std::vector<std::byte> main(64, std::byte{0xEE}), side(32, std::byte{0xDD});
  std::vector<source::TileBytes> tiles;
  for (int64_t row = 0; row < l.tiles_down; ++row) {
    for (int64_t col = 0; col < l.tiles_across; ++col) {
      if (spec.missing.count({col, row})) {
        tiles.emplace_back();
        continue;
      }
      const int64_t rows =
          spec.strips ? std::min<int64_t>(spec.tile_height, spec.height - row * spec.tile_height)
                      : spec.stored_height;
      std::vector<std::byte> encoded;
      for (int64_t sy = 0; sy < rows; ++sy) {
        for (int64_t sx = 0; sx < spec.stored_width; ++sx) {
          for (int c = 0; c < 3; ++c) {
            encoded.push_back(std::byte{
                stub_value(level, col * spec.tile_width + sx, row * spec.tile_height + sy, c)});
          }
        }
      }
      if (!spec.multirange.count({col, row})) {
        tiles.emplace_back(source::ByteRange{main.size(), encoded.size(), 0});
        main.insert(main.end(), encoded.begin(), encoded.end());
        main.insert(main.end(), 5, std::byte{0xEE});  // bytes no tile owns
        continue;
      }
      // Three pieces: the first and last in the side store (the last stored first), the middle
      // in the main store.
      const size_t a = encoded.size() / 3, b = encoded.size() / 2;
      const uint64_t last_at = side.size();
      side.insert(side.end(), encoded.begin() + static_cast<std::ptrdiff_t>(b), encoded.end());
      const uint64_t first_at = side.size();
      side.insert(side.end(), encoded.begin(), encoded.begin() + static_cast<std::ptrdiff_t>(a));
      const uint64_t middle_at = main.size();
      main.insert(main.end(), encoded.begin() + static_cast<std::ptrdiff_t>(a),
                  encoded.begin() + static_cast<std::ptrdiff_t>(b));
      source::TileBytes bytes;
      bytes.add({first_at, a, 1});
      bytes.add({middle_at, b - a, 0});
      bytes.add({last_at, encoded.size() - b, 1});
      tiles.push_back(bytes);
    }
  }
  std::vector<std::shared_ptr<const source::ByteStore>> stores = {
      std::make_shared<source::MemoryStore>(std::move(main), "stub-main"),
      std::make_shared<source::MemoryStore>(std::move(side), "stub-side")};
  return std::make_shared<StubSource>(l, f, std::move(stores), spec.strips, std::move(tiles));
}

inline Slide make_stub_slide() {
  auto impl = std::make_shared<Slide::Impl>();
  impl->path = "stub-slide";
  impl->format = "stub";
  const auto specs = stub_specs();
  for (size_t i = 0; i < specs.size(); ++i) {
    impl->level_sources.push_back(make_stub_level(static_cast<int>(i), specs[i]));
  }
  return source::make_slide(std::move(impl));
}

// What level `level` must read as: the formula, `fill` in missing tiles and outside the level.
// (x, y) is the region's origin in level coordinates.
inline Image stub_expected(int level, int64_t x, int64_t y, int64_t width, int64_t height,
                           uint8_t fill) {
  const StubLevelSpec spec = stub_specs()[static_cast<size_t>(level)];
  Image image = Image::allocate(width, height, 3, DataType::uint8);
  const ImageView& v = image.view();
  for (int64_t j = 0; j < height; ++j) {
    for (int64_t i = 0; i < width; ++i) {
      const int64_t px = x + i, py = y + j;
      const bool inside = px >= 0 && py >= 0 && px < spec.width && py < spec.height;
      const bool missing =
          inside && spec.missing.count({px / spec.tile_width, py / spec.tile_height}) > 0;
      for (int c = 0; c < 3; ++c) {
        v.row(j)[i * 3 + c] = std::byte{inside && !missing ? stub_value(level, px, py, c) : fill};
      }
    }
  }
  return image;
}

// What Slide::read_tile gives on the host for tile (col, row) of a tiled stub level: the stored
// tile cropped to the grid, padding included (the formula continues past the level's edge);
// all `fill` for a missing tile.
inline Image stub_expected_tile(int level, int64_t col, int64_t row, uint8_t fill) {
  const StubLevelSpec spec = stub_specs()[static_cast<size_t>(level)];
  Image image = Image::allocate(spec.tile_width, spec.tile_height, 3, DataType::uint8);
  const ImageView& v = image.view();
  const bool missing = spec.missing.count({col, row}) > 0;
  for (int64_t j = 0; j < v.height; ++j) {
    for (int64_t i = 0; i < v.width; ++i) {
      for (int c = 0; c < 3; ++c) {
        v.row(j)[i * 3 + c] = std::byte{
            missing ? fill
                    : stub_value(level, col * spec.tile_width + i, row * spec.tile_height + j, c)};
      }
    }
  }
  return image;
}

}  // namespace slidestream::test
