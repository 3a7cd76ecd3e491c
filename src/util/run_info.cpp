#include "util/run_info.h"

#include <unistd.h>

#include <ctime>
#include <thread>

#ifndef CADCRAFTER_GIT_REV
#define CADCRAFTER_GIT_REV "unknown"
#endif
#ifndef CADCRAFTER_VERSION
#define CADCRAFTER_VERSION "0.0.0"
#endif

namespace cadcrafter {

const char* cadcrafter_version() { return CADCRAFTER_VERSION; }

nlohmann::json make_run_info(int argc, const char* const* argv) {
  nlohmann::json j;
  j["program"] = "cadcrafter";
  j["version"] = CADCRAFTER_VERSION;
  j["git_revision"] = CADCRAFTER_GIT_REV;
  nlohmann::json args = nlohmann::json::array();
  for (int i = 0; i < argc; ++i) args.push_back(argv[i]);
  j["command_line"] = args;
  char buf[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  j["started_utc"] = buf;
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) == 0) j["host"] = host;
  j["hardware_threads"] = std::thread::hardware_concurrency();
  return j;
}

}  // namespace cadcrafter
