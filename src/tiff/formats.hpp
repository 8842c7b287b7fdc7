// Slide formats as an ordered table of {name, detect, open}, in OpenSlide's manner: the first
// format whose detect accepts the file opens it; generic-tiff comes last. detect says why it
// refused, so that an unreadable file gets an error listing every reason.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "tiff/slide_impl.hpp"
#include "tiff/tiff_parser.hpp"

namespace slidestream::tiff {

struct SlideFormat {
  const char* name;
  // nullopt: accepted; otherwise the reason this format refuses the file.
  std::optional<std::string> (*detect)(const TiffFile& tiff);
  // Fills levels, level_data, associated*, metadata and format-specific properties.
  void (*open)(const TiffFile& tiff, Slide::Impl& slide);
};

std::span<const SlideFormat> slide_formats();

// Parses the file already opened in slide.file and fills the whole model. Errors carry no file
// name; Slide::open adds it.
void open_slide(Slide::Impl& slide);

}  // namespace slidestream::tiff
