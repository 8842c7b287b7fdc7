// process --list: every shard_count-th slide of a list through the process command, as one task
// of a Slurm job array takes its share (--shard-index $SLURM_ARRAY_TASK_ID --shard-count
// $SLURM_ARRAY_TASK_COUNT). Resumable by the rule slidestream.dask uses too: a slide whose output
// is complete (zarr::is_complete, the metadata only a finished run writes) is skipped, a partial
// one is redone from scratch. Outputs are named after the slides, so every task of the array (and
// every rerun) agrees on them without talking to the others; two slides that would share an
// output are refused before anything runs.
#include "cli/command_process_batch.hpp"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"

namespace slidestream::cli {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> read_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::not_found, "cannot open the slide list", {.file = path});
  std::vector<std::string> slides;
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    slides.push_back(line.substr(first, last - first + 1));
  }
  return slides;
}

// OUT_DIR/<name>.zarr, <name> the slide's file name without its extension (and without ".ome"
// for OME-TIFF): the name slidestream.dask.process_slides gives it as well.
fs::path output_for(const fs::path& out_dir, const fs::path& slide) {
  fs::path stem = slide.filename().stem();
  if (stem.extension() == ".ome") stem = stem.stem();
  return out_dir / (stem.string() + ".zarr");
}

}  // namespace

void add_batch_options(CLI::App* process, BatchArgs& args, CLI::Option* slide,
                       CLI::Option* output) {
  auto* list = process->add_option(
      "--list", args.list, "A file of slide paths, one a line: process each into --out-dir");
  auto* out_dir = process->add_option("--out-dir", args.out_dir,
                                      "With --list: outputs go to OUT_DIR/<slide name>.zarr");
  process
      ->add_option("--shard-index", args.shard_index,
                   "With --list: take the slides i with i % shard-count == shard-index")
      ->check(CLI::NonNegativeNumber);
  process->add_option("--shard-count", args.shard_count, "With --list: runs sharing the list")
      ->check(CLI::PositiveNumber);
  list->excludes(slide)->excludes(output)->needs(out_dir);
  out_dir->needs(list);
  process->parse_complete_callback([&args, list, slide, output] {
    if (list->count() == 0 && (slide->count() == 0 || output->count() == 0)) {
      throw CLI::RequiredError("slide and output (or --list and --out-dir)");
    }
    if (args.shard_index >= args.shard_count) {
      throw CLI::ValidationError("--shard-index", "must be smaller than --shard-count");
    }
  });
}

int run_process_batch(
    const BatchArgs& args,
    const std::function<void(const std::string& slide, const std::string& output)>& process_one) {
  const std::vector<std::string> slides = read_list(args.list);
  std::map<fs::path, std::string> owner;
  for (const auto& slide : slides) {
    auto [it, fresh] = owner.emplace(output_for(args.out_dir, slide), slide);
    if (!fresh) {
      throw Error(ErrorKind::invalid_argument,
                  "slides " + it->second + " and " + slide + " would both write " +
                      it->first.string() + " (rename one)",
                  {.file = args.list});
    }
  }
  std::error_code ec;
  fs::create_directories(args.out_dir, ec);
  if (ec) {
    throw Error(ErrorKind::io, "cannot create the output directory: " + ec.message(),
                {.file = args.out_dir});
  }
  int processed = 0, skipped = 0, failed = 0;
  for (size_t i = static_cast<size_t>(args.shard_index); i < slides.size();
       i += static_cast<size_t>(args.shard_count)) {
    const std::string& slide = slides[i];
    const fs::path output = output_for(args.out_dir, slide);
    if (zarr::is_complete(output)) {
      std::printf("%s -> %s: skipped (output complete)\n", slide.c_str(), output.c_str());
      ++skipped;
      continue;
    }
    try {
      process_one(slide, output.string());
      ++processed;
    } catch (const std::exception& e) {
      // The output stays without its metadata (the writers write it last), so a rerun redoes it.
      std::fprintf(stderr, "slidestream: error: %s: %s\n", slide.c_str(), e.what());
      ++failed;
    }
    std::fflush(stdout);
  }
  std::printf("shard %d of %d: %d processed, %d skipped (complete), %d failed\n", args.shard_index,
              args.shard_count, processed, skipped, failed);
  return failed ? 1 : 0;
}

}  // namespace slidestream::cli
