// run.json: what produced an output (program version, command line, options, seed, timings),
// written next to every output folder so a result can be traced and reproduced.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace cadcrafter {

const char* cadcrafter_version();

// Fills version, git revision, command line, start time (UTC ISO-8601), host and thread count.
nlohmann::json make_run_info(int argc, const char* const* argv);

}  // namespace cadcrafter
