#include "util/progress.h"

#include <unistd.h>

#include <cstdio>

namespace cadcrafter {

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), tty_(::isatty(2) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  if (!finished_) finish();
}

void ProgressBar::update(int64_t done, const std::string& extra) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ = done;
  if (!extra.empty()) extra_ = extra;
  draw(false);
}

void ProgressBar::add(int64_t n, const std::string& extra) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ += n;
  if (!extra.empty()) extra_ = extra;
  draw(false);
}

void ProgressBar::finish(const std::string& extra) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  if (!extra.empty()) extra_ = extra;
  draw(true);
  if (enabled_ && tty_) std::fputc('\n', stderr);
  finished_ = true;
}

void ProgressBar::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  if (!force && since_draw < (tty_ ? 0.1 : 5.0)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  const double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 0.0;
  const double eta = (rate > 0 && total_ > done_) ? (total_ - done_) / rate : 0.0;
  char line[512];
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth + 0.5);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::snprintf(line, sizeof line, "\r%s [%s] %lld/%lld %.1f/s eta %.0fs %s\x1b[K", label_.c_str(), bar.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), rate, eta, extra_.c_str());
  } else {
    std::snprintf(line, sizeof line, "%s %lld/%lld (%.0f%%) %.1f/s %s\n", label_.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), frac * 100.0, rate, extra_.c_str());
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
}

}  // namespace cadcrafter
