// Subcommand registry. A command file defines one static CommandRegistration:
//
//   static CommandRegistration reg("info", "Print a readable listing of a CAD sequence",
//       [](CLI::App& app) {
//         auto opts = std::make_shared<InfoOptions>();
//         app.add_option("file", opts->file, "...")->required();
//         return [opts]() -> int { ... return 0; };   // runs after parsing
//       });
//
// The runner returns the process exit code: 0 success, 1 failure (message already printed
// to stderr), 2 usage error.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace cadcrafter::cli {

using Runner = std::function<int()>;
using Setup = std::function<Runner(CLI::App&)>;

struct CommandSpec {
  std::string name, description;
  Setup setup;
};

std::vector<CommandSpec>& command_registry();

struct CommandRegistration {
  CommandRegistration(std::string name, std::string description, Setup setup);
};

// Prints "cadcrafter <cmd>: error: <msg>" to stderr and returns 1.
int fail(const std::string& command, const std::string& message);

// The argv the program was started with, for run.json.
int saved_argc();
const char* const* saved_argv();

}  // namespace cadcrafter::cli
