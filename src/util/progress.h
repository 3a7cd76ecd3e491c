// A progress bar on stderr for long work. Redraws at most ~10 times a second; when stderr
// is not a terminal it prints a plain line every few seconds instead, so CI logs stay short.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace cadcrafter {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, bool enabled = true);
  ~ProgressBar();
  // Thread-safe. `extra` is shown after the counts (e.g. "loss 0.123").
  void update(int64_t done, const std::string& extra = "");
  void add(int64_t n = 1, const std::string& extra = "");
  void finish(const std::string& extra = "");

 private:
  void draw(bool force);
  std::string label_;
  int64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  std::string extra_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mu_;
};

}  // namespace cadcrafter
