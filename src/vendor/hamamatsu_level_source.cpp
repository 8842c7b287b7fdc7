// NDPI pseudo-tiles (hamamatsu_level_source.hpp).
#include "vendor/hamamatsu_level_source.hpp"

#include <string>
#include <utility>

namespace slidestream::vendor::ndpi {
namespace {

constexpr uint32_t kFileStore = 0;
constexpr uint32_t kHeaderStore = 1;  // the patched header, then EOI

std::shared_ptr<const source::ByteStore> header_store(std::vector<std::byte> header) {
  header.push_back(std::byte{0xFF});
  header.push_back(std::byte{0xD9});
  return std::make_shared<source::MemoryStore>(std::move(header), "NDPI tile header");
}

}  // namespace

NdpiLevelSource::NdpiLevelSource(const Level& layout, const codec::TileFormat& format,
                                 const std::vector<std::byte>& tile_header,
                                 std::shared_ptr<const source::ByteStore> file,
                                 std::shared_ptr<const Intervals> intervals)
    : source::LevelSource(layout, format, {}, {std::move(file), header_store(tile_header)}, false),
      intervals_(std::move(intervals)),
      header_bytes_(tile_header.size()) {}

source::TileBytes NdpiLevelSource::tile(int64_t col, int64_t row, int /*plane*/) const {
  const Intervals& in = *intervals_;
  // OpenSlide's grid holds whole intervals only: a last partial row of MCUs is not drawn.
  if (col >= in.across || row >= in.down) return {};
  const size_t i = static_cast<size_t>(row * in.across + col);
  const uint64_t start = in.starts[i];
  const uint64_t length = in.starts[i + 1] - start - 2;  // less the closing marker
  source::TileBytes bytes;
  bytes.add({0, header_bytes_, kHeaderStore});
  bytes.add({start, length, kFileStore});
  bytes.add({header_bytes_, 2, kHeaderStore});
  return bytes;
}

}  // namespace slidestream::vendor::ndpi
