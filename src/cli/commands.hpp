#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace slidestream::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// Each command_*.cpp defines one add_*_command; register_commands (commands.cpp) calls them all.
Command add_info_command(CLI::App& app);
Command add_region_command(CLI::App& app);
Command add_read_command(CLI::App& app);
Command add_convert_command(CLI::App& app);
Command add_process_command(CLI::App& app);
Command add_patches_command(CLI::App& app);

std::vector<Command> register_commands(CLI::App& app);

}  // namespace slidestream::cli
