#include "cli/commands.hpp"

namespace slidestream::cli {

std::vector<Command> register_commands(CLI::App& app) {
  return {add_info_command(app),    add_region_command(app),  add_read_command(app),
          add_convert_command(app), add_process_command(app), add_patches_command(app)};
}

}  // namespace slidestream::cli
