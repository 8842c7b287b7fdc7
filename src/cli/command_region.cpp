// PLACEHOLDER: replaced by the real command.
#include <cstdio>

#include "cli/commands.hpp"

namespace slidestream::cli {

Command add_region_command(CLI::App& app) {
  auto* sub = app.add_subcommand("region", "(not yet built)");
  return {sub, [] {
            std::fprintf(stderr, "slidestream: region is not built yet\n");
            return 2;
          }};
}

}  // namespace slidestream::cli
