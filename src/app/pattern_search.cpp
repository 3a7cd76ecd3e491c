#include "app/pattern_search.h"

#include <algorithm>

namespace cadcrafter::app {

PatternSearchResult pattern_search(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                                   double f0, const std::vector<SearchDimension>& dims,
                                   const PatternSearchOptions& options) {
  PatternSearchResult r;
  r.x = std::move(x0);
  r.value = f0;
  r.stopped_by = "converged";
  const size_t n = std::min(r.x.size(), dims.size());
  std::vector<double> step(n), direction(n, 1.0);
  for (size_t i = 0; i < n; ++i) step[i] = dims[i].step;
  auto evaluate = [&](size_t i, double sign, bool* stopped) -> bool {  // true: improved
    std::vector<double> y = r.x;
    y[i] = std::clamp(r.x[i] + sign * step[i], dims[i].lo, dims[i].hi);
    if (y[i] == r.x[i]) return false;  // against a bound
    if (r.evaluations >= options.max_evaluations) {
      r.stopped_by = "evaluations";
      *stopped = true;
      return false;
    }
    if (options.stop && options.stop()) {
      r.stopped_by = "stopped";
      *stopped = true;
      return false;
    }
    const double v = f(y);
    ++r.evaluations;
    if (!(v > r.value)) return false;
    r.x = std::move(y);
    r.value = v;
    ++r.improvements;
    return true;
  };
  for (;;) {
    bool improved = false, any_step = false, stopped = false;
    for (size_t i = 0; i < n && !stopped; ++i) {
      if (!(step[i] >= dims[i].min_step)) continue;
      any_step = true;
      bool moved = false;
      for (const double sign : {direction[i], -direction[i]}) {
        if (!evaluate(i, sign, &stopped)) {
          if (stopped) break;
          continue;
        }
        // A line search along the direction that worked: the same step again while it improves.
        moved = true;
        direction[i] = sign;
        while (evaluate(i, sign, &stopped)) {
        }
        break;
      }
      if (stopped) break;
      if (moved) {
        improved = true;
      } else {
        step[i] *= 0.5;
      }
    }
    if (stopped) return r;
    if (!any_step) return r;  // converged: every step below its floor
    if (improved && options.after_improving_pass) r.value = options.after_improving_pass(r.x, r.value);
  }
}

}  // namespace cadcrafter::app
