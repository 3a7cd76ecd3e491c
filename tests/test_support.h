// Shared helpers for the test binaries.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace cadcrafter::testing {

// ../shared/data next to the checkout, or "" when it is not there (the project must still
// build and pass without it; tests that need it skip).
inline std::string shared_data_dir() {
  const std::string dir = CADCRAFTER_SHARED_DATA;
  return std::filesystem::is_directory(dir) ? dir : std::string();
}

inline std::string source_dir() { return CADCRAFTER_SOURCE_DIR; }
inline std::string binary_dir() { return CADCRAFTER_BINARY_DIR; }

// A fresh empty temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cadcrafter_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace cadcrafter::testing

#define CADCRAFTER_REQUIRE_SHARED_DATA()                                        \
  do {                                                                          \
    if (::cadcrafter::testing::shared_data_dir().empty())                       \
      GTEST_SKIP() << "../shared/data not present; skipping data-driven test"; \
  } while (0)
