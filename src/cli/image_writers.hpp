// Small image-file writers for the CLI: PNG (libpng; grey or RGB, 8 or 16 bit) and a baseline
// uncompressed strip TIFF (any of our data types). Both write to a temporary file next to the
// target and rename it into place, so a failed write never leaves a file that looks complete.
#pragma once

#include <filesystem>

#include "slidestream/image.hpp"

namespace slidestream::cli {

void write_png(const std::filesystem::path& path, const ImageView& image);
void write_tiff(const std::filesystem::path& path, const ImageView& image);

}  // namespace slidestream::cli
