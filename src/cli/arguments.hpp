// Arguments that several commands take, validated the same way in every command: each option is
// added by one function here, with its range checked by CLI11 while the command line is parsed,
// so a bad value is a one-line error before any slide is opened or any output touched.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "slidestream/device.hpp"

namespace slidestream::cli {

// Threads beyond this are a typo, not a machine (and each is a real thread).
inline constexpr int kMaxThreads = 1024;
// Chunk and tile edges below this write one file per few hundred bytes: refused.
inline constexpr int64_t kMinChunkEdge = 16;
// Chunk (shard) files one run may write unless --max-chunk-files says otherwise: well above what
// a 200,000 x 200,000 slide makes at 512-pixel chunks (with its pyramid), far below what a tiny
// chunk edge would make of it.
inline constexpr uint64_t kDefaultMaxChunkFiles = 500'000;

// --threads N: 0 (all hardware threads) to kMaxThreads.
CLI::Option* add_threads_option(CLI::App* command, int& threads, const std::string& what);
// A chunk or tile edge (--chunk, --tile): kMinChunkEdge to 65536 pixels.
CLI::Option* add_edge_option(CLI::App* command, const std::string& name, int64_t& edge,
                             const std::string& what);
// --max-chunk-files N (0: no limit).
CLI::Option* add_max_chunk_files_option(CLI::App* command, uint64_t& max_files);
// An in-flight count (--io-depth, --slots): 0 (the library's default) to 4096.
CLI::Option* add_depth_option(CLI::App* command, const std::string& name, int& depth,
                              const std::string& what);

// --device: cpu, cuda (= cuda:0) or cuda:N; anything else is a one-line error while the command
// line is parsed (slidestream::parse_device).
CLI::Option* add_device_option(CLI::App* command, std::string& device, const std::string& what);
// The device named by a --device value, checked to exist: a GPU that is not there is
// Error(invalid_argument) naming the GPUs there are (slidestream::require_device), before the
// command opens a slide or touches an output.
DeviceSpec usable_device(const std::string& device);

// Chunk (shard) files of an array of height x width in units of unit x unit pixels.
uint64_t unit_files(int64_t height, int64_t width, int64_t unit);
// Throws Error(invalid_argument) when `files` is over `max_files` (0: no limit), saying how to
// make fewer files or allow more.
void check_chunk_file_count(uint64_t files, uint64_t max_files, const std::string& edge_option);

}  // namespace slidestream::cli
