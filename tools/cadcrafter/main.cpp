// cadcrafter: photos of a part in, editable parametric CAD out. See README.md.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "command.h"
#include "kernel/check.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {
int g_argc = 0;
const char* const* g_argv = nullptr;
}  // namespace
int saved_argc() { return g_argc; }
const char* const* saved_argv() { return g_argv; }
}  // namespace cadcrafter::cli

int main(int argc, char** argv) {
  using namespace cadcrafter::cli;
  g_argc = argc;
  g_argv = argv;
  CLI::App app{"cadcrafter: turn photos of a mechanical part into an editable parametric CAD model"};
  app.set_version_flag("--version", std::string("cadcrafter ") + cadcrafter::cadcrafter_version());
  app.require_subcommand(1);
  app.fallthrough(false);

  auto specs = command_registry();
  std::sort(specs.begin(), specs.end(), [](const CommandSpec& a, const CommandSpec& b) { return a.name < b.name; });
  std::map<CLI::App*, Runner> runners;
  for (const auto& spec : specs) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.description);
    runners[sub] = spec.setup(*sub);
  }
  // The fine-tuning stages are commands of their own (train-dpo, train-distill: other options than
  // `train`'s); `cadcrafter train dpo ...` and `train distill ...` are the same commands.
  std::vector<char*> args(argv, argv + argc);
  std::string alias;
  if (argc >= 3 && std::string(argv[1]) == "train") {
    const std::string stage = argv[2];
    const bool known = std::any_of(specs.begin(), specs.end(), [&](const CommandSpec& s) { return s.name == "train-" + stage; });
    if ((stage == "dpo" || stage == "distill") && known) {
      alias = "train-" + stage;
      args.erase(args.begin() + 2);
      args[1] = alias.data();
    }
  }
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  int code = 2;
  for (auto& [sub, run] : runners) {
    if (!sub->parsed()) continue;
    try {
      code = run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cadcrafter %s: internal error: %s\n", sub->get_name().c_str(), e.what());
      code = 1;
    }
    break;
  }
  // A kernel build abandoned after its time limit may still be running on a detached thread
  // (see kernel/check.h): leave without running static destructors under it.
  if (cadcrafter::abandoned_check_count() > 0) {
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
  }
  return code;
}
