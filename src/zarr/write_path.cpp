#include "zarr/write_path.hpp"

#include "slidestream/error.hpp"

namespace slidestream::zarr::detail {

bool cufile_can_write(const Layout& layout) {
  return layout.encoding.interleaved && layout.encoding.compressor == Compressor::none &&
         !layout.encoding.crc32c;
}

WritePathChoice choose_write_path(IoBackend requested, bool layout_ok,
                                  const std::string& cufile_problem, bool compat_only,
                                  const std::filesystem::path& where) {
  if (requested == IoBackend::posix) return {};
  if (!layout_ok) {
    if (requested == IoBackend::cufile) {
      throw Error(ErrorKind::invalid_argument,
                  "cufile writes need uncompressed chunks stored interleaved (Zarr v3, codec "
                  "none): this array's chunks are encoded on the CPU; use io auto or posix",
                  {.file = where.string()});
    }
    return {.cufile = false,
            .note = "cufile not used: compressed or planar chunks are encoded on the CPU"};
  }
  if (cufile_problem.empty()) {
    if (compat_only && requested == IoBackend::automatic) {
      return {.cufile = false,
              .note =
                  "cufile not used: no nvidia-fs, so cuFile would only run its compatibility "
                  "mode (POSIX through its bounce buffers); posix O_DIRECT instead"};
    }
    return {.cufile = true, .note = {}};
  }
  if (requested == IoBackend::cufile) {
    throw Error(ErrorKind::cufile, "cuFile was requested but cannot write here: " + cufile_problem,
                {.file = where.string()});
  }
  return {.cufile = false,
          .note = "cufile unavailable (" + cufile_problem + "), fell back to posix"};
}

bool cufile_problem_needed(IoBackend requested, bool layout_ok, bool compat_only) {
  if (requested == IoBackend::posix || !layout_ok) return false;
  return !(requested == IoBackend::automatic && compat_only);
}

}  // namespace slidestream::zarr::detail
