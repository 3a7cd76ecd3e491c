// Runs the `cadcrafter` program as a user would (a shell command line), capturing exit code,
// stdout and stderr, for the tests of the CLI.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "test_support.h"

namespace cadcrafter {

struct ProcessRun {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline ProcessRun cadcrafter(const std::string& args, const testing::TempDir& dir) {
  const std::string out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = testing::binary_dir() + "/cadcrafter " + args + " > '" + out + "' 2> '" + err + "'";
  const int status = std::system(cmd.c_str());
  ProcessRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

}  // namespace cadcrafter
