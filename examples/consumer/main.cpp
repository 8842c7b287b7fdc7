// Opens a slide through the installed slidestream package and prints its pyramid, one level a
// line. Exit status 1 with a one-line error on stderr when the slide cannot be opened.
#include <cstdio>
#include <exception>
#include <slidestream/slidestream.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SLIDE\n", argv[0]);
    return 2;
  }
  try {
    const auto slide = slidestream::Slide::open(argv[1]);
    std::printf("slidestream %s: %s, %zu levels\n", slidestream::version, slide.format().c_str(),
                slide.levels().size());
    for (const auto& level : slide.levels()) {
      std::printf("level %d: %lld x %lld, tile %u x %u, downsample %g, %s\n", level.index,
                  static_cast<long long>(level.width), static_cast<long long>(level.height),
                  level.tile_width, level.tile_height, level.downsample,
                  slidestream::to_string(level.compression).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "slide_levels: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
