// Writing outputs so that a crash or kill never leaves a half-written file behind:
// write into "<path>.tmp.<pid>" next to the target, flush, then rename over it.
#pragma once

#include <functional>
#include <string>

#include "util/status.h"

namespace cadcrafter {

// Calls write(tmp_path) and renames tmp_path to path if it returned ok; removes tmp otherwise.
Status write_atomically(const std::string& path, const std::function<Status(const std::string& tmp_path)>& write);

// Convenience for in-memory content.
Status write_file_atomically(const std::string& path, const std::string& bytes);

Result<std::string> read_file(const std::string& path);

}  // namespace cadcrafter
