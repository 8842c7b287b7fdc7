#include "cli/arguments.hpp"

#include "slidestream/error.hpp"

namespace slidestream::cli {

CLI::Option* add_threads_option(CLI::App* command, int& threads, const std::string& what) {
  return command->add_option("--threads", threads, what + " (0: all hardware threads)")
      ->check(CLI::Range(0, kMaxThreads));
}

CLI::Option* add_edge_option(CLI::App* command, const std::string& name, int64_t& edge,
                             const std::string& what) {
  return command->add_option(name, edge, what)->check(CLI::Range(kMinChunkEdge, int64_t{65536}));
}

CLI::Option* add_max_chunk_files_option(CLI::App* command, uint64_t& max_files) {
  return command
      ->add_option("--max-chunk-files", max_files,
                   "Refuse to start a run that would write more chunk (shard) files than this "
                   "(0: no limit)")
      ->check(CLI::NonNegativeNumber);
}

CLI::Option* add_depth_option(CLI::App* command, const std::string& name, int& depth,
                              const std::string& what) {
  return command->add_option(name, depth, what)->check(CLI::Range(0, 4096));
}

CLI::Option* add_device_option(CLI::App* command, std::string& device, const std::string& what) {
  const CLI::Validator device_name(
      [](std::string& text) -> std::string {
        try {
          (void)parse_device(text);
          return {};
        } catch (const Error& e) {
          return e.cause();
        }
      },
      "cpu|cuda|cuda:N", "device");
  return command->add_option("--device", device, what + ": cpu, cuda (GPU 0) or cuda:N")
      ->check(device_name);
}

DeviceSpec usable_device(const std::string& device) {
  const DeviceSpec spec = parse_device(device);
  require_device(spec);
  return spec;
}

uint64_t unit_files(int64_t height, int64_t width, int64_t unit) {
  if (unit <= 0) return 0;
  return static_cast<uint64_t>((height + unit - 1) / unit) *
         static_cast<uint64_t>((width + unit - 1) / unit);
}

void check_chunk_file_count(uint64_t files, uint64_t max_files, const std::string& edge_option) {
  if (max_files == 0 || files <= max_files) return;
  throw Error(ErrorKind::invalid_argument,
              "this run would write " + std::to_string(files) + " chunk files, more than " +
                  "--max-chunk-files " + std::to_string(max_files) + ": use a larger " +
                  edge_option + " (or --shard), or raise --max-chunk-files");
}

}  // namespace slidestream::cli
