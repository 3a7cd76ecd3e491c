// parallel_for over [0, n) with a fixed number of worker threads pulling indices from a shared
// counter, so slow items (hard CAD models) do not leave the other core idle.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace cadcrafter {

inline int default_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Lets the calling thread run on every CPU the process may use. Needed because with
// OMP_PROC_BIND=true (which LibTorch needs here) libgomp pins the main thread to one CPU
// before main() runs, and std::threads inherit that pin: without this, two workers share
// one core and parallel_for runs no faster than a single thread.
void unpin_current_thread();

// fn(index, worker_id). Exceptions must not escape fn.
inline void parallel_for(int64_t n, int threads, const std::function<void(int64_t, int)>& fn) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  std::vector<std::thread> pool;
  const int t = static_cast<int>(std::min<int64_t>(threads, n));
  for (int w = 0; w < t; ++w) {
    pool.emplace_back([&, w] {
      unpin_current_thread();
      for (int64_t i = next++; i < n; i = next++) fn(i, w);
    });
  }
  for (auto& th : pool) th.join();
}

}  // namespace cadcrafter
