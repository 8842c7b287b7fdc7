// PLACEHOLDER: replaced by the real command.
#include <cstdio>

#include "cli/commands.hpp"

namespace slidestream::cli {

Command add_process_command(CLI::App& app) {
  auto* sub = app.add_subcommand("process", "(not yet built)");
  return {sub, [] {
            std::fprintf(stderr, "slidestream: process is not built yet\n");
            return 2;
          }};
}

}  // namespace slidestream::cli
