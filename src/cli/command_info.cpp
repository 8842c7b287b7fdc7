// slidestream info SLIDE [--json]: what a slide holds (format, levels, resolution, associated
// images, properties), for people (text) or programs (JSON).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.hpp"
#include "slidestream/slide.hpp"
#include "slidestream/system.hpp"

namespace slidestream::cli {
namespace {

struct InfoOptions {
  std::string slide;
  bool json = false;
};

nlohmann::json optional_number(std::optional<double> value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json info_json(const Slide& slide) {
  nlohmann::json out;
  out["file"] = slide.path().string();
  out["file_size"] = slide.file_size();
  out["format"] = slide.format();
  // Why the formats ahead of this one in the detection order refused the file.
  out["refused_formats"] = nlohmann::json::object();
  for (const auto& [name, why] : slide.refused_formats()) out["refused_formats"][name] = why;
  out["levels"] = nlohmann::json::array();
  for (const Level& lv : slide.levels()) {
    out["levels"].push_back({
        {"index", lv.index},
        {"width", lv.width},
        {"height", lv.height},
        {"tile_width", lv.tile_width},
        {"tile_height", lv.tile_height},
        {"tiles_across", lv.tiles_across},
        {"tiles_down", lv.tiles_down},
        {"downsample", lv.downsample},
        {"compression", to_string(lv.compression)},
        {"compression_tag", static_cast<uint16_t>(lv.compression)},
        {"photometric", lv.photometric},
        {"samples_per_pixel", lv.samples_per_pixel},
        {"bits_per_sample", lv.bits_per_sample},
        {"sample_format", lv.sample_format},
        {"planar_configuration", lv.planar_configuration},
        {"predictor", lv.predictor},
        {"channels", lv.channels},
        {"dtype", std::string(to_string(lv.dtype))},
    });
  }
  out["mpp_x"] = optional_number(slide.mpp_x());
  out["mpp_y"] = optional_number(slide.mpp_y());
  out["objective_power"] = optional_number(slide.objective_power());
  out["associated_images"] = nlohmann::json::array();
  for (const AssociatedImage& a : slide.associated_images()) {
    out["associated_images"].push_back({{"name", a.name},
                                        {"width", a.width},
                                        {"height", a.height},
                                        {"compression", to_string(a.compression)}});
  }
  out["properties"] = nlohmann::json::object();
  for (const auto& [key, value] : slide.properties()) out["properties"][key] = value;
  return out;
}

std::string number_or_dash(std::optional<double> value) {
  if (!value) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", *value);
  return buf;
}

void print_text(const Slide& slide) {
  std::printf("file:              %s (%llu bytes)\n", slide.path().c_str(),
              static_cast<unsigned long long>(slide.file_size()));
  std::printf("format:            %s\n", slide.format().c_str());
  for (const auto& [name, why] : slide.refused_formats()) {
    std::printf("  not %s: %s\n", name.c_str(), why.c_str());
  }
  std::printf("mpp:               %s x %s\n", number_or_dash(slide.mpp_x()).c_str(),
              number_or_dash(slide.mpp_y()).c_str());
  std::printf("objective power:   %s\n", number_or_dash(slide.objective_power()).c_str());
  std::printf("levels:            %zu\n", slide.levels().size());
  std::printf("  %5s %10s %10s %11s %12s %-12s %s\n", "level", "width", "height", "tile",
              "downsample", "compression", "pixels");
  for (const Level& lv : slide.levels()) {
    std::string tile = std::to_string(lv.tile_width) + "x" + std::to_string(lv.tile_height);
    std::printf("  %5d %10lld %10lld %11s %12.6g %-12s %d x %s\n", lv.index,
                static_cast<long long>(lv.width), static_cast<long long>(lv.height), tile.c_str(),
                lv.downsample, to_string(lv.compression).c_str(), lv.channels,
                std::string(to_string(lv.dtype)).c_str());
  }
  std::printf("associated images: %zu\n", slide.associated_images().size());
  for (const AssociatedImage& a : slide.associated_images()) {
    std::printf("  %-10s %lld x %lld, %s\n", a.name.c_str(), static_cast<long long>(a.width),
                static_cast<long long>(a.height), to_string(a.compression).c_str());
  }
  std::printf("properties:        %zu\n", slide.properties().size());
  for (const auto& [key, value] : slide.properties()) {
    // One line per property: long descriptions keep their line breaks escaped.
    std::string flat;
    for (char c : value) {
      if (c == '\n')
        flat += "\\n";
      else if (c == '\r')
        flat += "\\r";
      else
        flat += c;
    }
    std::printf("  %s = %s\n", key.c_str(), flat.c_str());
  }
}

int run_info(const InfoOptions& options) {
  Slide slide = Slide::open(options.slide);
  if (options.json) {
    // Descriptions are not always UTF-8: replace bad bytes rather than fail.
    std::string text =
        info_json(slide).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    std::printf("%s\n", text.c_str());
  } else {
    print_text(slide);
  }
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  auto* sub = app.add_subcommand("info", "Show a slide's format, levels, resolution and metadata");
  sub->add_option("slide", options->slide, "Slide file (TIFF, BigTIFF, SVS, OME-TIFF)");
  sub->add_flag("--json", options->json, "Print JSON instead of text");
  // --system (GPU read engineer): describes the machine instead of a slide.
  auto system = std::make_shared<bool>(false);
  sub->add_flag("--system", *system,
                "Describe this machine: GPUs, CUDA, cuFile, nvJPEG, nvCOMP, nvJPEG2000");
  return {sub, [options, system] {
            if (*system) {
              std::printf("%s", describe_system(options->json).c_str());
              return 0;
            }
            if (options->slide.empty()) {
              std::fprintf(stderr, "slidestream info: a SLIDE (or --system) is required\n");
              return 2;
            }
            return run_info(*options);
          }};
}

}  // namespace slidestream::cli
