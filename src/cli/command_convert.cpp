// PLACEHOLDER: replaced by the real command.
#include <cstdio>

#include "cli/commands.hpp"

namespace slidestream::cli {

Command add_convert_command(CLI::App& app) {
  auto* sub = app.add_subcommand("convert", "(not yet built)");
  return {sub, [] {
            std::fprintf(stderr, "slidestream: convert is not built yet\n");
            return 2;
          }};
}

}  // namespace slidestream::cli
