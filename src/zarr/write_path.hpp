// Which path chunk writes from GPU memory take: cuFile (GPUDirect Storage: device memory to the
// file, no host copy) or pinned staging plus POSIX writes. The choice is made once per array, from
// what was asked and what this machine can do, with the same meaning of auto / posix / cufile as
// for reads: `cufile` is a promise or a clear error, `auto` falls back and says why.
#pragma once

#include <filesystem>
#include <string>

#include "slidestream/read_options.hpp"
#include "zarr/layout.hpp"

namespace slidestream::zarr::detail {

struct WritePathChoice {
  bool cufile = false;
  std::string note;  // why `auto` did not take cuFile (for WriteReport.io_path); empty otherwise
};

// Whether a unit of this layout can go to disk straight from device memory: its bytes are the
// pixels themselves (uncompressed, no checksum, channels interleaved), possibly gathered into a
// shard with its index. Compressed or planar chunks are encoded on the CPU.
bool cufile_can_write(const Layout& layout);

// `cufile_problem` is cufile_write_problem()'s answer for the output (empty: cuFile can write
// there); `compat_only` says cuFile would run only in its compatibility mode (no nvidia-fs: its
// own POSIX path through bounce buffers, slower than our O_DIRECT writes), which `auto` therefore
// declines and an explicit `cufile` accepts. Neither is looked at for `posix`. Throws
// Error(invalid_argument) when `cufile` was asked for a layout it cannot write, Error(cufile) when
// it was asked and cuFile cannot write here; `where` names the output in both.
WritePathChoice choose_write_path(IoBackend requested, bool layout_ok,
                                  const std::string& cufile_problem, bool compat_only,
                                  const std::filesystem::path& where);

// Whether choose_write_path needs cufile_write_problem()'s answer: not for `posix`, nor for a
// layout cuFile cannot write, nor for `auto` where cuFile could only run its compatibility mode
// (auto writes through POSIX then whatever the answer, and asking opens cuFile's driver and
// registers a probe file: time, and perhaps device memory, for nothing; issue 16.4).
bool cufile_problem_needed(IoBackend requested, bool layout_ok, bool compat_only);

}  // namespace slidestream::zarr::detail
