// libFuzzer target: the bytes are a MIRAX slide's Slidedat.ini, Index.dat and data file framed
// as mirax_fuzz_input.hpp says, laid out in a private directory in /dev/shm and opened by the
// .mrxs; then every level and associated image of at most 64 MB decoded is read, as
// fuzz_open_read does for TIFF. This reaches the key-file parser, the index's linked pages and
// records, the camera positions, the tilemap placement and the composition of camera images.
// slidestream::Error is the expected outcome for bad input. See fuzz/README.md.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "mirax_fuzz_input.hpp"
#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"

namespace {

constexpr uint64_t kMaxDecodedBytes = 64ull << 20;

const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir =
      std::filesystem::path("/dev/shm") / ("slidestream-fuzz-mirax-" + std::to_string(::getpid()));
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = slidestream::fuzz::write_mirax_input(
      work_dir(), std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    slidestream::Slide slide = slidestream::Slide::open(path);
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
