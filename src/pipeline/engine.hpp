// The staged executor behind the pipeline: tiles flow read → compute → write through a fixed
// pool of slots. Each stage has its own threads and queue; a tile takes a free slot before it
// is read and gives it back only after its write finished (back-pressure: memory is bounded by
// the slot count, never by the image). The first exception in any stage cancels the rest and
// is rethrown, with the tile and the stage named, once every thread has stopped.
//
// The stages are plain callables, so the executor is tested with fakes and the pipeline fills
// them with slide reads, kernels and Zarr writes.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace slidestream::pipeline {

struct StageFunctions {
  // Each is called with the slot the tile occupies (0 <= slot < slots) and the tile's id.
  std::function<void(int slot, int64_t tile)> read;
  std::function<void(int slot, int64_t tile)> compute;
  std::function<void(int slot, int64_t tile)> write;
  // After a tile's write, from one thread at a time, with the count of tiles done so far.
  std::function<void(int64_t tile, int64_t done)> on_done;
};

struct StageThreads {
  int slots = 4;
  int read = 1;
  int compute = 1;
  int write = 1;
};

// Runs every tile of `tiles` (in that order of admission) through the stages. Throws the first
// failure as slidestream::Error, with the stage and tile added to its cause.
void run_stages(const std::vector<int64_t>& tiles, const StageThreads& threads,
                const StageFunctions& stages);

}  // namespace slidestream::pipeline
