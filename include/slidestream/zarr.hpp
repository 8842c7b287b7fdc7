// Zarr v2 / v3 (sharded too) arrays and OME-Zarr multiscale groups: write from host or GPU
// memory, read back into host or GPU memory.
//
// Images are given and returned interleaved, (height, width, channels). On disk a multi-channel
// array is, by its ArraySpec::layout, either the interleaved (y, x, c) array (shape (H, W, C),
// chunks (n, n, C): the bytes of a chunk are the pixels as they are in memory, no transpose; the
// default for plain arrays) or the logical (c, y, x) array that OME-NGFF requires (OME-Zarr
// levels): on v3 a `transpose` codec (order [1, 2, 0]) keeps the bytes of each chunk interleaved;
// on v2 each chunk is stored planar.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"

namespace slidestream::zarr {

enum class Format { v2 = 2, v3 = 3 };
enum class Codec { none, zstd, blosc_lz4 };
std::string to_string(Codec codec);
Codec parse_codec(const std::string& text);  // "none" | "zstd" | "blosc-lz4"

// Axis order of a multi-channel array on disk (single-channel arrays are (y, x) either way).
// yxc: channels last and interleaved, chunk keys "y.x.0" (v2) / "c.y.x.0" (v3); cyx: channels
// first (OME-NGFF), chunk keys "0/y/x" / "c/0/y/x".
enum class ChannelLayout { yxc, cyx };
std::string to_string(ChannelLayout layout);
ChannelLayout parse_channel_layout(const std::string& text);  // "yxc" | "cyx"

struct ArraySpec {
  int64_t height = 0;
  int64_t width = 0;
  int channels = 1;  // 1: a (y, x) array; >1: (y, x, c) or (c, y, x), all channels in each chunk
  ChannelLayout layout = ChannelLayout::yxc;
  DataType dtype = DataType::uint8;
  int64_t chunk_height = 512;
  int64_t chunk_width = 512;
  // v3 only: shard shape in pixels (a multiple of the chunk); 0 = no sharding.
  int64_t shard_height = 0;
  int64_t shard_width = 0;
  Format format = Format::v3;
  Codec codec = Codec::none;
  int codec_level = 3;
  double fill_value = 0;
};

struct WriteOptions {
  int threads = 0;  // threads that encode (pack, compress) chunks; 0: hardware threads
  // GPU sources: `cufile` writes uncompressed chunks (and shards) straight from device memory
  // through cuFile and is an Error(cufile) where cuFile cannot write the output; `auto` does so
  // where it can and otherwise stages through pinned memory and POSIX writes, saying why in
  // WriteReport.io_path. Host sources are written with POSIX (`cufile` refuses them).
  IoBackend io = IoBackend::automatic;
  // An existing path is refused (Error already_exists) unless overwrite; even then only a Zarr
  // (zarr.json, .zgroup or .zarray at its top) or an empty directory is replaced, anything else
  // only with overwrite_any too. The old output stays, byte for byte, until the new one is
  // complete: the new one is written beside it ("<path>.partial-XXXXXX") and swapped in by
  // finish(); a failed or abandoned write (destroyed without finish()) removes what it wrote.
  bool overwrite = false;
  bool overwrite_any = false;
  // false: an existing output that overwrite allows is removed at create() and the array written
  // in its place, for an array that other writers attach() to by its path (Dask).
  bool stage_overwrite = true;
  bool durable = true;  // chunks synced (syncfs), then metadata, then directories
  // The 4 KiB-aligned body of large chunk files bypasses the page cache (O_DIRECT) where the file
  // system allows; the unaligned rest is written through the cache.
  bool direct_io = true;
  // Chunk (shard) files being written at once: a direct write waits for the disk, so the disk's
  // queue is kept full by many writes in flight, not by many cores. 0: Settings::zarr_io_depth
  // (kDefaultIoDepth unless overridden). Capped so that the units in flight hold at most
  // Settings::zarr_staging_mib (1 GiB) of staging memory.
  int io_depth = 0;
};

// Measured on the lent H100 machine's virtio disk (bench/uc2.cpp --sweep, bench/RESULTS.md "uc2").
inline constexpr int kDefaultIoDepth = 128;

// What a finished write did, for the CLI and benchmarks.
struct WriteReport {
  uint64_t bytes_written = 0;  // bytes landed on disk (chunks + metadata)
  uint64_t chunks_written = 0;
  std::string io_path;  // "posix", "posix (O_DIRECT)", "cufile", "cufile (compat mode)"
  int io_depth = 0;     // chunk (shard) files written at once, after the memory cap
};

// Writes one array. Chunks may be written from many threads at once as long as no two calls
// touch the same chunk (or, sharded, the same shard). The array's metadata is written by
// finish(), after every chunk has landed; an ArrayWriter destroyed without finish() (or
// finish_chunks()) removes what it wrote (and leaves any old output it was to replace), so no
// reader mistakes a partial array for a complete one.
//
// Many processes, one array (Dask workers, possibly on other machines over a shared file system):
// one process create()s the array; every process that writes chunks attach()es to it with the
// same spec, writes its own units (no unit by two writers) and calls finish_chunks(), which makes
// its chunks durable and writes no metadata; once every finish_chunks() has returned, one process
// calls finish() (on the creating writer, or on a fresh attach()) and the metadata appears. (An
// array that replaces an old one (overwrite) is written beside it until finish(): attach to a
// fresh path.)
class ArrayWriter {
 public:
  static ArrayWriter create(const std::filesystem::path& path, const ArraySpec& spec,
                            const WriteOptions& options = {});
  // A writer of chunks of the array that create() made at `path` (maybe in another process):
  // Error(not_found) when there is no such directory, Error(already_exists) when its metadata
  // exists (the array is complete: nothing may change it). `spec` must be the creator's.
  // options.overwrite is ignored: attaching never removes anything.
  static ArrayWriter attach(const std::filesystem::path& path, const ArraySpec& spec,
                            const WriteOptions& options = {});
  ArrayWriter(ArrayWriter&&) noexcept;
  ArrayWriter& operator=(ArrayWriter&&) noexcept;
  ~ArrayWriter();

  const ArraySpec& spec() const noexcept;
  // Writes the pixels of `src` whose top-left is at (y, x) of the array. (y, x) must be on the
  // chunk grid (the shard grid when sharded) and src must cover whole chunks (shards), except at
  // the array's right and bottom edges. src may be on the host or on a GPU.
  void write_region(int64_t y, int64_t x, const ImageView& src);
  // The whole array from one image (host or GPU), in parallel.
  void write(const ImageView& src);
  // Extra attributes for this array's metadata (JSON object text).
  void set_attributes(const std::string& json_object);
  // This writer's chunks made durable (when options.durable), no metadata written; write_region
  // is refused afterwards. The report counts this writer's chunks only.
  WriteReport finish_chunks();
  WriteReport finish();

  struct Impl;

 private:
  friend class OmeZarrWriter;  // counts its levels' finish() calls
  explicit ArrayWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct ArrayInfo {
  ArraySpec spec;
  std::string attributes_json;  // "{}" when none
};

// Reads arrays in the layouts ArrayWriter produces (v2, v3, sharded, each codec).
class ArrayReader {
 public:
  static ArrayReader open(const std::filesystem::path& path);
  ArrayReader(ArrayReader&&) noexcept;
  ~ArrayReader();
  const ArrayInfo& info() const noexcept;
  // Any region inside the array, into a host or GPU view; absent chunks read as fill_value.
  void read_region(int64_t y, int64_t x, const ImageView& out,
                   const ReadOptions& options = {}) const;
  Image read(const ReadOptions& options = {}) const;

  struct Impl;

 private:
  explicit ArrayReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// An OME-Zarr image: a group whose arrays "0", "1", ... are a multiscale pyramid, with NGFF
// 0.4 (Zarr v2) or 0.5 (Zarr v3) "multiscales" metadata. Levels are written with add_level();
// the group metadata is written by finish(), after every level finished.
struct MultiscaleOptions {
  Format format = Format::v3;
  std::string name = "image";
  std::optional<double> mpp_x, mpp_y;  // microns per pixel of level 0; scale 1 without
  // As WriteOptions: replace an existing Zarr (overwrite) or anything (overwrite_any too). The
  // group is always written beside its path ("<root>.partial-XXXXXX") and appears there whole at
  // finish(); destroyed without finish(), it removes what it wrote and leaves the old output.
  bool overwrite = false;
  bool overwrite_any = false;
  bool durable = true;
  // cyx: an OME-Zarr image. yxc: the same group of levels "0", "1", ... as (y, x, c) arrays, but
  // a plain Zarr group without OME-NGFF metadata (NGFF puts channels before space).
  ChannelLayout layout = ChannelLayout::cyx;
};

class OmeZarrWriter {
 public:
  static OmeZarrWriter create(const std::filesystem::path& root, const MultiscaleOptions& options);
  OmeZarrWriter(OmeZarrWriter&&) noexcept;
  ~OmeZarrWriter();
  // Level `index` (0 = full resolution) with the given downsample factor relative to level 0.
  ArrayWriter add_level(int index, double downsample, ArraySpec spec, WriteOptions options = {});
  void finish();

  struct Impl;

 private:
  explicit OmeZarrWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when `root` holds a finished output of our writers: the root metadata that every writer
// here writes last, after all its chunks (and levels) landed durably (v3 zarr.json; v2 .zgroup or
// .zarray). An output without it is partial (an interrupted or failed run) and is to be redone.
// Batch runs skip the slides whose output is_complete().
bool is_complete(const std::filesystem::path& root);

// Many writers replacing an old output (Dask with overwrite): the old output must stay, byte for
// byte, until the new one is complete, but attached writers find the array by its path. So the
// array is create()d at a fresh sibling that stage_replacement() makes ("<path>.partial-XXXXXX",
// empty, after WriteOptions' policy has accepted what is at `path`; nothing there changes), every
// writer attaches to that sibling, and once finish() wrote its metadata, commit_replacement()
// swaps it into `path`'s place (renameat2 RENAME_EXCHANGE where the file system has it) and
// removes the old output. Error(invalid_argument) when `staged` is not complete; a failed swap
// removes `staged` and leaves `path` as it was.
std::filesystem::path stage_replacement(const std::filesystem::path& path, bool overwrite_any);
void commit_replacement(const std::filesystem::path& staged, const std::filesystem::path& path,
                        bool durable);

}  // namespace slidestream::zarr
