// libFuzzer target: the bytes are a slide file. Opens it (TIFF structure, format detection,
// metadata) and reads every level and associated image small enough to decode (≤ 64 MB), the
// way a user would. slidestream::Error is the expected outcome for bad input; anything else
// (a crash, a sanitizer report, another exception type, a hang, an allocation beyond
// -rss_limit_mb) is a finding. See fuzz/README.md.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"

namespace {

constexpr uint64_t kMaxDecodedBytes = 64ull << 20;

uint64_t decoded_bytes(int64_t width, int64_t height, int channels, slidestream::DataType t) {
  return static_cast<uint64_t>(width) * static_cast<uint64_t>(height) *
         static_cast<uint64_t>(channels) * slidestream::size_of(t);
}

// One memfd for the whole run: Slide::open takes a path, and /proc/self/fd/N is one that
// never touches the disk.
const std::string& input_path() {
  static const std::string path = [] {
    int fd = ::memfd_create("slidestream-fuzz.tif", 0);
    if (fd < 0) std::abort();
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}

int input_fd() {
  return std::stoi(input_path().substr(std::string("/proc/self/fd/").size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = input_fd();
  if (::ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  try {
    slidestream::Slide slide = slidestream::Slide::open(input_path());
    (void)slide.properties();
    slidestream::ReadOptions options;
    options.threads = 1;  // deterministic and fast: one input at a time
    for (const auto& level : slide.levels()) {
      if (decoded_bytes(level.width, level.height, level.channels, level.dtype) >
          kMaxDecodedBytes) {
        continue;
      }
      try {
        slide.read_level(level.index, options);
      } catch (const slidestream::Error&) {
        // A damaged level must not stop us from reading the others.
      }
    }
    for (const auto& image : slide.associated_images()) {
      if (decoded_bytes(image.width, image.height, 4, slidestream::DataType::float32) >
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
