// SHA-256 of files, for run.json (which weights produced a result).
#pragma once

#include <string>

#include "util/status.h"

namespace cadcrafter::app {

std::string sha256_hex(const std::string& bytes);
Result<std::string> sha256_file(const std::string& path);

}  // namespace cadcrafter::app
