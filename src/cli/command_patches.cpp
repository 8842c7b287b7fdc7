// slidestream patches SLIDE --size 256 [--stride S] [--mpp 0.5 | --level N] [--tissue]
//   --out coords.csv | patches.zarr
// The grid of patches over a slide (over its tissue with --tissue: Otsu's threshold on a
// low-resolution image, slidestream/patches.hpp), as level-0 corners in a CSV file ("x,y" per
// line), or the patches themselves in a Zarr v3 array of N × size rows, size columns and 3
// channels, one chunk per patch (reshape to (N, size, size, 3)), with the corners, the size and
// the mpp or level in its attributes. Patches are read in batches by read_regions /
// read_regions_at_mpp on the CPU or the GPU.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "slidestream/device.hpp"
#include "slidestream/error.hpp"
#include "slidestream/patches.hpp"
#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"
#include "slidestream/zarr.hpp"

namespace slidestream::cli {
namespace {

struct PatchesOptions {
  std::string slide;
  int64_t size = 256;
  int64_t stride = 0;
  double mpp = 0;
  int level = 0;
  bool tissue = false;
  double min_tissue = 0.5;
  std::string tissue_method = "otsu";
  std::string mask_output;
  std::string output;
  std::string device = "cpu";
  int64_t batch = 256;
  int threads = 0;
  bool overwrite = false;
};

bool ends_with(std::string text, const std::string& suffix) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void write_csv(const std::string& path, const std::vector<RegionLocation>& grid, bool overwrite) {
  if (!overwrite && std::filesystem::exists(path)) {
    throw Error(ErrorKind::already_exists, "exists (use --overwrite)", {path});
  }
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    out << "x,y\n";
    for (const RegionLocation& p : grid) out << p.x << ',' << p.y << '\n';
    out.flush();
    if (!out) throw Error(ErrorKind::io, "cannot write the coordinates", {partial});
  }
  std::filesystem::rename(partial, path);  // no half-written file under the asked name
}

void write_zarr(const PatchesOptions& o, const DeviceSpec& device, const Slide& slide,
                const std::vector<RegionLocation>& grid) {
  zarr::ArraySpec spec;
  spec.height = static_cast<int64_t>(grid.size()) * o.size;
  spec.width = o.size;
  spec.channels = 3;
  spec.chunk_height = o.size;
  spec.chunk_width = o.size;
  spec.codec = zarr::Codec::zstd;
  zarr::WriteOptions write;
  write.threads = o.threads;
  write.overwrite = o.overwrite;
  zarr::ArrayWriter writer = zarr::ArrayWriter::create(o.output, spec, write);
  ReadOptions read;
  read.threads = o.threads;
  read.device = device.kind;
  read.cuda_device = device.index;
  for (size_t first = 0; first < grid.size(); first += static_cast<size_t>(o.batch)) {
    const size_t n = std::min(grid.size() - first, static_cast<size_t>(o.batch));
    const std::span<const RegionLocation> part(grid.data() + first, n);
    const Image batch = o.mpp > 0 ? read_regions_at_mpp(slide, o.mpp, part, o.size, o.size, read)
                                  : read_regions(slide, o.level, part, o.size, o.size, read);
    writer.write_region(static_cast<int64_t>(first) * o.size, 0, batch.view());
  }
  nlohmann::json corners = nlohmann::json::array();
  for (const RegionLocation& p : grid) corners.push_back({p.x, p.y});
  nlohmann::json attributes = {{"slidestream_patches",
                                {{"slide", o.slide},
                                 {"size", o.size},
                                 {"count", grid.size()},
                                 {"level0_corners", corners}}}};
  if (o.mpp > 0) {
    attributes["slidestream_patches"]["mpp"] = o.mpp;
  } else {
    attributes["slidestream_patches"]["level"] = o.level;
  }
  writer.set_attributes(attributes.dump());
  writer.finish();
}

// The tissue mask as a Zarr v3 array (height, width) of uint8 (1 tissue), with its scale
// (level-0 pixels per mask pixel), threshold and method in its attributes.
void write_mask(const PatchesOptions& o, const TissueMask& mask) {
  zarr::ArraySpec spec;
  spec.height = mask.height;
  spec.width = mask.width;
  spec.channels = 1;
  spec.chunk_height = std::min<int64_t>(std::max<int64_t>(mask.height, 1), 1024);
  spec.chunk_width = std::min<int64_t>(std::max<int64_t>(mask.width, 1), 1024);
  spec.codec = zarr::Codec::zstd;
  zarr::WriteOptions write;
  write.overwrite = o.overwrite;
  zarr::ArrayWriter writer = zarr::ArrayWriter::create(o.mask_output, spec, write);
  ImageView v;
  v.data = reinterpret_cast<std::byte*>(const_cast<uint8_t*>(mask.pixels.data()));
  v.width = mask.width;
  v.height = mask.height;
  v.channels = 1;
  v.row_pitch = static_cast<size_t>(mask.width);
  writer.write(v);
  const nlohmann::json attributes = {{"slidestream_tissue_mask",
                                      {{"slide", o.slide},
                                       {"scale_x", mask.scale_x},
                                       {"scale_y", mask.scale_y},
                                       {"threshold", mask.threshold},
                                       {"method", o.tissue_method}}}};
  writer.set_attributes(attributes.dump());
  writer.finish();
}

int run_patches(const PatchesOptions& o) {
  const bool csv = ends_with(o.output, ".csv");
  if (!csv && !ends_with(o.output, ".zarr")) {
    throw Error(
        ErrorKind::invalid_argument,
        "--out must end in .csv (coordinates) or .zarr (patches), not \"" + o.output + "\"");
  }
  const DeviceSpec device = usable_device(o.device);  // before the slide or the output
  Slide slide = Slide::open(o.slide);
  TissueMask mask;
  GridOptions grid_options{.size = o.size, .stride = o.stride, .level = o.level, .mpp = o.mpp};
  if (o.tissue) {
    TissueOptions t;
    t.method = parse_tissue_method(o.tissue_method);
    t.threads = o.threads;
    mask = tissue_mask(slide, t);
    if (!o.mask_output.empty()) write_mask(o, mask);
    grid_options.mask = &mask;
    grid_options.min_tissue = o.min_tissue;
  }
  const std::vector<RegionLocation> grid = patch_grid(slide, grid_options);
  if (csv) {
    write_csv(o.output, grid, o.overwrite);
  } else {
    write_zarr(o, device, slide, grid);
  }
  std::printf("%s: %zu patches of %lld px at %s%s -> %s\n", o.slide.c_str(), grid.size(),
              static_cast<long long>(o.size),
              o.mpp > 0 ? (std::to_string(o.mpp) + " mpp").c_str()
                        : ("level " + std::to_string(o.level)).c_str(),
              o.tissue ? " over the tissue" : "", o.output.c_str());
  return 0;
}

}  // namespace

Command add_patches_command(CLI::App& app) {
  auto o = std::make_shared<PatchesOptions>();
  auto* sub = app.add_subcommand(
      "patches", "A grid of patches (over the tissue) to coordinates.csv or patches.zarr");
  sub->add_option("slide", o->slide, "The slide")->required()->check(CLI::ExistingPath);
  sub->add_option("--size", o->size, "Patch side in pixels (default 256)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  sub->add_option("--stride", o->stride, "Between patch corners, in pixels (default: --size)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--mpp", o->mpp, "Patches at this resolution (microns per pixel)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--level", o->level, "Patches of this level (default 0; ignored with --mpp)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--tissue", o->tissue, "Only patches over tissue (Otsu tissue mask)");
  sub->add_option("--min-tissue", o->min_tissue, "Tissue fraction a patch needs (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--tissue-method", o->tissue_method, "otsu | otsu-saturation | otsu-density");
  sub->add_option("--mask-out", o->mask_output,
                  "With --tissue: also write the mask as a Zarr array (H, W) of 0/1")
      ->needs(sub->get_option("--tissue"));
  sub->add_option("-o,--out", o->output, "coords.csv (x,y per line) or patches.zarr")->required();
  add_device_option(sub, o->device, "Where patches are read for .zarr");
  sub->add_option("--batch", o->batch, "Patches per read (default 256)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  add_threads_option(sub, o->threads, "Decoding threads");
  sub->add_flag("--overwrite", o->overwrite, "Replace an existing output");
  return {sub, [o] { return run_patches(*o); }};
}

}  // namespace slidestream::cli
