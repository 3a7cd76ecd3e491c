#include "command.h"

#include <cstdio>

namespace cadcrafter::cli {

std::vector<CommandSpec>& command_registry() {
  static std::vector<CommandSpec> registry;  // function-local: safe across static init order
  return registry;
}

CommandRegistration::CommandRegistration(std::string name, std::string description, Setup setup) {
  command_registry().push_back({std::move(name), std::move(description), std::move(setup)});
}

int fail(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "cadcrafter %s: error: %s\n", command.c_str(), message.c_str());
  return 1;
}

}  // namespace cadcrafter::cli
