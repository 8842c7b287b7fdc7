#include "pipeline/pyramid.hpp"

#include <algorithm>

#include "slidestream/error.hpp"

namespace slidestream::pipeline {

PyramidBuilder::PyramidBuilder(std::vector<LevelSize> sizes, int64_t unit, ops::PixelFormat format,
                               std::vector<zarr::ArrayWriter*> writers)
    : sizes_(std::move(sizes)),
      unit_(unit),
      format_(format),
      writers_(std::move(writers)),
      pending_(sizes_.size()) {
  if (unit_ <= 0 || unit_ % 2 != 0) {
    throw Error(ErrorKind::invalid_argument,
                "a pyramid needs an even tile edge, got " + std::to_string(unit_));
  }
  if (writers_.size() != sizes_.size()) {
    throw Error(ErrorKind::invalid_argument, "pyramid: one writer per level");
  }
}

void PyramidBuilder::add(int level, int64_t ux, int64_t uy, const ImageView& unit) {
  size_t parent_level = static_cast<size_t>(level) + 1;
  if (parent_level >= sizes_.size()) return;
  const LevelSize& child_size = sizes_[static_cast<size_t>(level)];
  const LevelSize& size = sizes_[parent_level];
  int64_t px = ux / 2, py = uy / 2;
  int64_t pw = std::min(unit_, size.width - px * unit_);
  int64_t ph = std::min(unit_, size.height - py * unit_);

  Pending* parent;
  {
    std::lock_guard lock(mutex_);
    auto& level_map = pending_[parent_level];
    auto [it, inserted] = level_map.try_emplace(Key{py, px});
    parent = &it->second;
    if (inserted) {
      parent->buffer = Image::allocate(unit_, unit_, format_.channels, format_.dtype);
      int64_t child_across = (child_size.width + unit_ - 1) / unit_;
      int64_t child_down = (child_size.height + unit_ - 1) / unit_;
      int64_t nx = std::min<int64_t>(2, child_across - 2 * px);
      int64_t ny = std::min<int64_t>(2, child_down - 2 * py);
      parent->expected = static_cast<int>(nx * ny);
      peak_ = std::max(peak_, ++count_);
    }
  }

  // Children fill disjoint quarters, so they downsample without the lock.
  int64_t qw = unit.width / 2, qh = unit.height / 2;
  if (qw > 0 && qh > 0) {
    ImageView quarter =
        parent->buffer.view().crop((ux % 2) * (unit_ / 2), (uy % 2) * (unit_ / 2), qw, qh);
    ops::downsample2(unit, quarter);
  }

  Pending done;
  {
    std::lock_guard lock(mutex_);
    if (++parent->received < parent->expected) return;
    auto node = pending_[parent_level].extract(Key{py, px});
    done = std::move(node.mapped());
    --count_;
  }
  ImageView finished = done.buffer.view().crop(0, 0, pw, ph);
  writers_[parent_level]->write_region(py * unit_, px * unit_, finished);
  add(static_cast<int>(parent_level), px, py, finished);
}

size_t PyramidBuilder::pending() const {
  std::lock_guard lock(mutex_);
  return count_;
}

size_t PyramidBuilder::peak_pending() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

}  // namespace slidestream::pipeline
