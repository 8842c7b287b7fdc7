// `slidestream process --list slides.txt --out-dir DIR [--shard-index I --shard-count N]`: the
// process command over a list of slides, for users who schedule work themselves (a Slurm job
// array, a shell loop) rather than through Python and Dask.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace slidestream::cli {

struct BatchArgs {
  std::string list;     // one slide path a line; blank lines and lines starting with # ignored
  std::string out_dir;  // outputs are OUT_DIR/<slide name without its extension>.zarr
  int shard_index = 0;  // this run takes the slides i with i % shard_count == shard_index
  int shard_count = 1;
};

// Adds --list, --out-dir, --shard-index, --shard-count to `process`; with --list the positional
// `slide` and `output` must be absent, without it both are required.
void add_batch_options(CLI::App* process, BatchArgs& args, CLI::Option* slide, CLI::Option* output);

// Runs process_one(slide, output) for every slide of this shard whose output is not complete
// (zarr::is_complete); a partial output is replaced. One slide's failure is reported on stderr
// and the others go on. Returns 0 when every slide of the shard is done (processed or skipped),
// 1 when any failed.
int run_process_batch(
    const BatchArgs& args,
    const std::function<void(const std::string& slide, const std::string& output)>& process_one);

}  // namespace slidestream::cli
