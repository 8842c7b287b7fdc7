// The slidestream command: thin front end over the library. Each subcommand lives in its own
// file (cli/command_*.cpp) and registers itself in commands.hpp's table.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.hpp"
#include "slidestream/error.hpp"
#include "slidestream/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"slidestream: whole-slide images between disk, CPU and GPU"};
  app.set_version_flag("--version", slidestream::version);
  app.require_subcommand(1);
  // Bad arguments are one line, like every other error (CLI11 adds a second by default).
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("slidestream: error: ") + e.what() + " (see --help)\n";
  });
  auto commands = slidestream::cli::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& command : commands) {
      if (command.app->parsed()) return command.run();
    }
  } catch (const slidestream::Error& e) {
    std::fprintf(stderr, "slidestream: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "slidestream: error: %s\n", e.what());
    return 1;
  }
  return 1;
}
