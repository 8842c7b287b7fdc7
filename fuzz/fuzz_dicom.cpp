// libFuzzer target: the bytes are one DICOM file, written as the only file of a private
// directory (a DICOM slide is a directory of files; the reader lists the file's siblings) and
// opened as a slide; then every level and associated image of at most 64 MB decoded is read,
// as fuzz_open_read does for TIFF. This reaches the DICOM parser (file meta group, nested
// sequences, per-frame functional groups, offset tables, fragments) and the level assembly.
// slidestream::Error is the expected outcome for bad input. See fuzz/README.md.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"

namespace {

constexpr uint64_t kMaxDecodedBytes = 64ull << 20;

const std::filesystem::path& input_path() {
  static const std::filesystem::path path = [] {
    auto dir = std::filesystem::path("/dev/shm") /
               ("slidestream-fuzz-dicom-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir / "slide.dcm";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(input_path(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();
  }
  try {
    slidestream::Slide slide = slidestream::Slide::open(input_path());
    (void)slide.properties();
    slidestream::ReadOptions options;
    options.threads = 1;
    for (const auto& level : slide.levels()) {
      if (static_cast<uint64_t>(level.width) * static_cast<uint64_t>(level.height) * 3 >
          kMaxDecodedBytes) {
        continue;
      }
      try {
        slide.read_level(level.index, options);
      } catch (const slidestream::Error&) {
      }
    }
    for (const auto& image : slide.associated_images()) {
      if (static_cast<uint64_t>(image.width) * static_cast<uint64_t>(image.height) * 3 >
          kMaxDecodedBytes) {
        continue;
      }
      try {
        slide.read_associated(image.name);
      } catch (const slidestream::Error&) {
      }
    }
  } catch (const slidestream::Error&) {
  }
  return 0;
}
