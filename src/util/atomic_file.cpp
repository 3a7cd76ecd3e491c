#include "util/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cadcrafter {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kParse: return "parse error";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kRejected: return "rejected";
    case ErrorCode::kGeometry: return "geometry error";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kInternal: return "internal error";
  }
  return "error";
}

Status write_atomically(const std::string& path,
                        const std::function<Status(const std::string& tmp_path)>& write) {
  namespace fs = std::filesystem;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Status st;
  try {
    st = write(tmp);
  } catch (const std::exception& e) {
    st = Status::fail(ErrorCode::kInternal, std::string("while writing ") + path + ": " + e.what());
  }
  std::error_code ec;
  if (!st.ok()) {
    fs::remove(tmp, ec);
    return st;
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::fail(ErrorCode::kIo, "cannot write " + path + ": " + ec.message());
  }
  return {};
}

Status write_file_atomically(const std::string& path, const std::string& bytes) {
  return write_atomically(path, [&](const std::string& tmp) -> Status {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::fail(ErrorCode::kIo, "cannot open " + path + " for writing: " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return Status::fail(ErrorCode::kIo, "write failed for " + path);
    return {};
  });
}

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return Result<std::string>::fail(ErrorCode::kIo, path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Result<std::string>::fail(ErrorCode::kIo, path + ": cannot open (" + std::strerror(errno) + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace cadcrafter
