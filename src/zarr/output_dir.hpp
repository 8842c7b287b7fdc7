// The directory an output (a Zarr array or an OME-Zarr group) is written into, and what happens to
// what was at its path before.
//
// An existing path is replaced only when asked (overwrite), only when it is a Zarr (a directory
// with zarr.json, .zgroup or .zarray at its top, or an empty directory) unless asked more
// explicitly (overwrite_any), and never before the new output is complete: the new output is
// written into a sibling directory "<path>.partial-XXXXXX" and swapped in by commit() (an atomic
// renameat2 RENAME_EXCHANGE where the file system has it, two renames otherwise); the old output is
// removed only after. A fresh path is written in place (a Dask worker may attach to it meanwhile).
// Until commit(), destroying an OutputDir removes what this run wrote (the staging sibling, or the
// fresh directory it created), so a failed run (full disk, I/O error, bad tile) leaves the old
// output byte for byte and nothing of its own. A killed run may leave its ".partial-" sibling,
// which no reader takes for the output.
#pragma once

#include <filesystem>

namespace slidestream::zarr::detail {

class OutputDir {
 public:
  OutputDir() = default;
  // Checks `path` against the policy and creates the directory to write into. Throws
  // Error(already_exists) for an existing path without overwrite, Error(invalid_argument) for one
  // that is not a Zarr without overwrite_any; nothing is touched then. always_stage: write beside
  // the path even when it is free (the output then appears whole, at commit()).
  // stage_existing false: an existing path (allowed by the policy) is removed now and the output
  // written in its place (for outputs that other writers attach to by path).
  static OutputDir create(const std::filesystem::path& path, bool overwrite, bool overwrite_any,
                          bool always_stage, bool stage_existing = true);
  // The OutputDir of a staged output written elsewhere (zarr::commit_replacement): commit()
  // swaps `write_dir` into `path`'s place; destroyed uncommitted, it removes `write_dir`.
  static OutputDir adopt(const std::filesystem::path& path, const std::filesystem::path& write_dir);
  OutputDir(OutputDir&& other) noexcept;
  OutputDir& operator=(OutputDir&& other) noexcept;
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;
  ~OutputDir();

  const std::filesystem::path& path() const noexcept { return path_; }            // the output
  const std::filesystem::path& write_dir() const noexcept { return write_dir_; }  // write here
  bool staged() const noexcept { return write_dir_ != path_; }

  // The written output takes the path's place (the old one is then removed); durable: the parent
  // directory is synced after. Throws Error(io) naming the path when the swap fails. Nothing for
  // a default-constructed OutputDir (a writer that owns no output).
  void commit(bool durable);
  // Leaves what was written where it is (no removal at destruction): for writers whose output is
  // finished by another writer (another process).
  void keep() noexcept { kept_ = true; }

 private:
  void discard() noexcept;

  std::filesystem::path path_;
  std::filesystem::path write_dir_;
  bool kept_ = true;  // nothing to remove (default-constructed, moved-from, committed)
};

// True when `path` is a directory holding a Zarr at its top (zarr.json, .zgroup or .zarray).
bool is_zarr_directory(const std::filesystem::path& path);

}  // namespace slidestream::zarr::detail
