// slidestream region SLIDE --level N --x X --y Y --width W --height H -o OUT.png|OUT.tif:
// one region of one level to an image file a person can open. Pixels outside the level get
// --fill (default 0, OpenSlide's transparent black).
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "cli/image_writers.hpp"
#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::cli {
namespace {

struct RegionOptions {
  std::string slide;
  int level = 0;
  int64_t x = 0, y = 0, width = 0, height = 0;
  std::string output;
  int threads = 0;
  int fill = 0;
};

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

int run_region(const RegionOptions& o) {
  const std::string ext = lower_extension(o.output);
  if (ext != ".png" && ext != ".tif" && ext != ".tiff") {
    throw Error(ErrorKind::invalid_argument,
                "output must end in .png, .tif or .tiff, not \"" + o.output + "\"");
  }
  if (o.width <= 0 || o.height <= 0) {
    throw Error(ErrorKind::invalid_argument, "--width and --height must be positive");
  }
  Slide slide = Slide::open(o.slide);
  ReadOptions options;
  options.threads = o.threads;
  options.fill = static_cast<uint8_t>(o.fill);
  Image image = slide.read_region(o.level, o.x, o.y, o.width, o.height, options);
  if (ext == ".png") {
    write_png(o.output, image.view());
  } else {
    write_tiff(o.output, image.view());
  }
  std::printf("%s: level %d, (%lld, %lld) %lld x %lld, %d x %s -> %s\n", o.slide.c_str(), o.level,
              static_cast<long long>(o.x), static_cast<long long>(o.y),
              static_cast<long long>(o.width), static_cast<long long>(o.height), image.channels(),
              std::string(to_string(image.dtype())).c_str(), o.output.c_str());
  return 0;
}

}  // namespace

Command add_region_command(CLI::App& app) {
  auto options = std::make_shared<RegionOptions>();
  auto* sub = app.add_subcommand("region", "Write one region of one level to a PNG or TIFF file");
  sub->add_option("slide", options->slide, "The slide (TIFF, BigTIFF, SVS, OME-TIFF, NDPI, vendor TIFFs; a DICOM WSI file or directory)")
      ->required()
      ->check(CLI::ExistingPath);
  sub->add_option("--level", options->level, "Pyramid level (0 = full resolution)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--x", options->x, "Left edge, in the level's pixels")->required();
  sub->add_option("--y", options->y, "Top edge, in the level's pixels")->required();
  sub->add_option("--width", options->width, "Width in pixels")->required();
  sub->add_option("--height", options->height, "Height in pixels")->required();
  sub->add_option("-o,--output", options->output,
                  "Output file: .png (8/16-bit grey or RGB) or .tif (any sample type)")
      ->required();
  add_threads_option(sub, options->threads, "Decoding threads");
  sub->add_option("--fill", options->fill, "Value for pixels outside the level (0-255)")
      ->check(CLI::Range(0, 255));
  return {sub, [options] { return run_region(*options); }};
}

}  // namespace slidestream::cli
