#include "zarr/output_dir.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc >= 2.28)

#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <utility>

#include "io/file.hpp"
#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"

namespace slidestream::zarr::detail {
namespace {

namespace fs = std::filesystem;

Error fs_error(const std::error_code& ec, const std::string& what, const fs::path& path) {
  const ErrorKind kind = ec == std::errc::no_space_on_device ? ErrorKind::disk_full : ErrorKind::io;
  return Error(kind, what + ": " + ec.message(), {.file = path.string()});
}

// "<path>.partial-" and six random hex digits that name no existing entry, created.
fs::path make_staging_sibling(const fs::path& path) {
  std::random_device seed;
  std::mt19937 rng(seed());
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, ".partial-%06x", static_cast<unsigned>(rng() & 0xFFFFFF));
    fs::path candidate = path;
    candidate += suffix;
    std::error_code ec;
    if (fs::create_directory(candidate, ec)) return candidate;
    if (ec) throw fs_error(ec, "cannot create the staging directory", candidate);
  }
  throw Error(ErrorKind::io, "no free name for a staging directory", {.file = path.string()});
}

// Checks what is at `path` (which exists) against the overwrite policy.
void check_replaceable(const fs::path& path, bool overwrite, bool overwrite_any) {
  if (!overwrite) {
    throw Error(ErrorKind::already_exists, "output exists (pass overwrite to replace it)",
                {.file = path.string()});
  }
  if (overwrite_any) return;
  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);
  const bool empty_dir = fs::is_directory(status) && fs::is_empty(path, ec);
  if (fs::is_symlink(status) || !(empty_dir || is_zarr_directory(path))) {
    throw Error(ErrorKind::invalid_argument,
                "output exists and is not a Zarr (no zarr.json, .zgroup or .zarray at its top): "
                "refusing to replace it (pass overwrite_any, --overwrite-any, to replace anything)",
                {.file = path.string()});
  }
}

// Removes the old output. An entry that vanishes or appears while the tree is walked (a writer
// of another process still renaming a chunk into place) makes remove_all fail with ENOENT or
// ENOTEMPTY; walking again removes the rest. (slidestream.dask waits for a failed compute's
// writers before it returns, so this is for writers outside our control.)
void remove_existing(const fs::path& path) {
  std::error_code ec;
  for (int attempt = 0; attempt < 5; ++attempt) {
    fs::remove_all(path, ec);
    if (ec != std::errc::no_such_file_or_directory && ec != std::errc::directory_not_empty) break;
  }
  std::error_code gone;
  if (ec && fs::exists(fs::symlink_status(path, gone))) {
    throw fs_error(ec, "cannot remove the existing output", path);
  }
}

}  // namespace

bool is_zarr_directory(const fs::path& path) {
  std::error_code ec;
  if (fs::is_symlink(path, ec) || !fs::is_directory(path, ec)) return false;
  for (const char* name : {"zarr.json", ".zgroup", ".zarray"}) {
    if (fs::is_regular_file(path / name, ec)) return true;
  }
  return false;
}

OutputDir OutputDir::create(const fs::path& given, bool overwrite, bool overwrite_any,
                            bool always_stage, bool stage_existing) {
  // "out.zarr/" is out.zarr: its staging sibling must not land inside it.
  const fs::path path = given.has_filename() ? given : given.parent_path();
  if (path.empty() || path.filename() == "." || path.filename() == "..") {
    throw Error(ErrorKind::invalid_argument, "not a usable output path", {.file = given.string()});
  }
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(path, ec));
  if (exists) check_replaceable(path, overwrite, overwrite_any);
  if (exists && !stage_existing) remove_existing(path);
  OutputDir out;
  out.path_ = path;
  if ((exists && stage_existing) || always_stage) {
    if (!path.parent_path().empty()) {
      fs::create_directories(path.parent_path(), ec);
      if (ec) throw fs_error(ec, "cannot create directory", path.parent_path());
    }
    out.write_dir_ = make_staging_sibling(path);
  } else {
    fs::create_directories(path, ec);
    if (ec) throw fs_error(ec, "cannot create directory", path);
    out.write_dir_ = path;
  }
  out.kept_ = false;
  return out;
}

OutputDir OutputDir::adopt(const fs::path& path, const fs::path& write_dir) {
  OutputDir out;
  out.path_ = path;
  out.write_dir_ = write_dir;
  out.kept_ = false;
  return out;
}

OutputDir::OutputDir(OutputDir&& other) noexcept
    : path_(std::move(other.path_)),
      write_dir_(std::move(other.write_dir_)),
      kept_(std::exchange(other.kept_, true)) {}

OutputDir& OutputDir::operator=(OutputDir&& other) noexcept {
  if (this != &other) {
    discard();
    path_ = std::move(other.path_);
    write_dir_ = std::move(other.write_dir_);
    kept_ = std::exchange(other.kept_, true);
  }
  return *this;
}

OutputDir::~OutputDir() {
  discard();
}

void OutputDir::discard() noexcept {
  if (kept_ || write_dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(write_dir_, ec);
  kept_ = true;
}

void OutputDir::commit(bool durable) {
  if (path_.empty()) return;  // nothing owned (a writer attached to another's output)
  if (!kept_ && staged()) {
    std::error_code ec;
    const bool replacing = fs::exists(fs::symlink_status(path_, ec));
    if (!replacing) {
      fs::rename(write_dir_, path_, ec);
      if (ec) throw fs_error(ec, "cannot move the finished output into place", path_);
    } else if (::renameat2(AT_FDCWD, write_dir_.c_str(), AT_FDCWD, path_.c_str(),
                           RENAME_EXCHANGE) != 0) {
      // No atomic exchange on this file system: the old output steps aside, the new one moves in,
      // and a failure of the second step puts the old one back.
      fs::path aside = write_dir_;
      aside += ".old";
      fs::rename(path_, aside, ec);
      if (ec) throw fs_error(ec, "cannot move the old output aside", path_);
      fs::rename(write_dir_, path_, ec);
      if (ec) {
        std::error_code back;
        fs::rename(aside, path_, back);
        throw fs_error(ec, "cannot move the finished output into place", path_);
      }
      write_dir_ = aside;
    }
    // write_dir_ now holds the old output (or nothing): remove it.
    if (replacing) fs::remove_all(write_dir_, ec);
  }
  kept_ = true;
  if (durable) io::sync_directory(fs::absolute(path_).parent_path());
}

}  // namespace slidestream::zarr::detail

namespace slidestream::zarr {

std::filesystem::path stage_replacement(const std::filesystem::path& path, bool overwrite_any) {
  detail::OutputDir staged = detail::OutputDir::create(path, true, overwrite_any, true);
  staged.keep();  // the writers attach to it; commit_replacement() or the caller removes it
  return staged.write_dir();
}

void commit_replacement(const std::filesystem::path& staged, const std::filesystem::path& path,
                        bool durable) {
  if (!is_complete(staged)) {
    throw Error(
        ErrorKind::invalid_argument,
        "the staged output is not complete (no metadata): it does not replace " + path.string(),
        {.file = staged.string()});
  }
  detail::OutputDir::adopt(path, staged).commit(durable);
}

}  // namespace slidestream::zarr
