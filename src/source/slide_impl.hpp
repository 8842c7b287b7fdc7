// The internal slide model behind slidestream::Slide: the metadata a vendor read, and one tile
// source per pyramid level and per associated image. Readers find everything they need to read
// a tile in the sources (source/level_source.hpp), never in a file format's structures.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "slidestream/slide.hpp"
#include "source/level_source.hpp"

namespace slidestream {

struct Slide::Impl {
  std::filesystem::path path;
  uint64_t file_size = 0;     // the slide's own file (0 for a directory of files)
  std::string format;         // the vendor that opened it: "aperio", "ome-tiff", "generic-tiff"
  std::vector<Level> levels;  // each level source's layout(), largest first
  std::vector<std::shared_ptr<source::LevelSource>> level_sources;  // parallel to levels
  // Downsamples a vendor states (Philips' from its XML), parallel to level_sources; empty: the
  // size ratios (source::finish_levels).
  std::vector<double> level_downsamples;
  // The main-chain IFD whose tags give the tiff.* properties (OpenSlide's property directory):
  // the first, except where a vendor says otherwise (Leica and Ventana: level 0's).
  size_t tiff_property_ifd = 0;
  std::vector<AssociatedImage> associated;
  std::vector<std::shared_ptr<source::LevelSource>> associated_sources;  // parallel to associated
  std::map<std::string, std::string> properties;
  std::optional<double> mpp_x, mpp_y, objective_power;
  // Vendors tried before the one that accepted the file, with the reason each refused it
  // (for `slidestream info`).
  std::vector<std::pair<std::string, std::string>> refused_formats;

  // Level `index`'s source; the caller has range-checked the index.
  const source::LevelSource& level_source(int index) const {
    return *level_sources[static_cast<size_t>(index)];
  }
};

}  // namespace slidestream
