// Builds the 2× pyramid below a level tile by tile, on the host, without holding any level:
// each finished unit (a chunk, or a shard when sharded) of level k is downsampled into one
// quarter of its parent unit of level k + 1; a parent is written, and passed on to level k + 2,
// as soon as its last child arrives, then freed. Fed in Z order, only a few parents per level
// are ever partial.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "pipeline/tiling.hpp"
#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"
#include "slidestream/zarr.hpp"

namespace slidestream::pipeline {

class PyramidBuilder {
 public:
  // sizes: pyramid_sizes() of the base; writers[k] writes level k (writers[0] is not used here).
  // unit: the edge of the base's write units, even.
  PyramidBuilder(std::vector<LevelSize> sizes, int64_t unit, ops::PixelFormat format,
                 std::vector<zarr::ArrayWriter*> writers);

  // A finished unit (ux, uy) of level `level`, on the host; thread-safe.
  void add(int level, int64_t ux, int64_t uy, const ImageView& unit);

  // Partial parents still held (0 after the last unit); for tests of the memory bound.
  size_t pending() const;
  size_t peak_pending() const;

 private:
  struct Pending {
    Image buffer;
    int received = 0;
    int expected = 0;
  };
  using Key = std::pair<int64_t, int64_t>;  // (uy, ux)

  std::vector<LevelSize> sizes_;
  int64_t unit_;
  ops::PixelFormat format_;
  std::vector<zarr::ArrayWriter*> writers_;
  mutable std::mutex mutex_;
  std::vector<std::map<Key, Pending>> pending_;  // per level; std::map nodes never move
  size_t count_ = 0, peak_ = 0;
};

}  // namespace slidestream::pipeline
