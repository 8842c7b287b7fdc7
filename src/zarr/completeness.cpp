// is_complete: the one rule by which batch runs (CLI --list, slidestream.dask) tell a finished
// output from a partial one. Every writer here writes its root metadata last (ArrayWriter::finish,
// OmeZarrWriter::finish: after every chunk and level landed and was synced), so its presence is
// the proof; v2 groups write .zattrs before .zgroup, so .zgroup is the one that counts.
#include <system_error>

#include "slidestream/zarr.hpp"

namespace slidestream::zarr {

bool is_complete(const std::filesystem::path& root) {
  std::error_code ec;
  for (const char* name : {"zarr.json", ".zgroup", ".zarray"}) {
    if (std::filesystem::is_regular_file(root / name, ec)) return true;
  }
  return false;
}

}  // namespace slidestream::zarr
