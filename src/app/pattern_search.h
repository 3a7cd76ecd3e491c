// A compass (coordinate pattern) search: the derivative-free local optimiser of the pose and
// parameter refinements (agreement.h, refine.h).
//
// Why our own and not nlopt (BOBYQA, COBYLA, Nelder-Mead): the objectives are agreement scores of
// rendered, pixel-quantised maps: piecewise constant in every parameter, with -infinity where the
// kernel cannot build the candidate. Model-based methods (BOBYQA/COBYLA fit linear or quadratic
// models) stall on the plateaus and need a finite stand-in for -infinity; Nelder-Mead's simplex
// collapses on them. A compass search only compares values, never fits them, so plateaus and
// rejected points cost one evaluation each and nothing else; its steps start at a size that moves
// pixels and shrink to a floor that still does, it visits the coordinates in the order given (the
// part's proportions before per-feature details), it is deterministic, and it is 100 lines, with
// no package to add on the Debian and Ubuntu machines the project builds on.
//
// The search (coordinate-wise step adaptation): from x, for each coordinate with a step above its
// floor, try x + s e_i then x - s e_i (the last direction that worked first). On a strict
// improvement, keep going that way by the same step while it improves (a line search: a
// parameter far off is reached without a pass over every coordinate per step); when neither direction
// improves, that coordinate's step is halved (coordinates that do not matter stop costing
// evaluations quickly). It has converged when every step is below its floor. Points are clamped
// to the bounds.
#pragma once

#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace cadcrafter::app {

struct SearchDimension {
  double step = 0.1;       // first step
  double min_step = 0.01;  // floor: smaller steps are not tried
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
};

struct PatternSearchOptions {
  int max_evaluations = 100;
  std::function<bool()> stop;  // polled before each evaluation (time budget, cancellation)
  // Called after each pass that improved x, with the best point and value; returns the value to
  // go on with (the parameter refinement re-fits the poses here, which changes the objective).
  std::function<double(const std::vector<double>& x, double value)> after_improving_pass;
};

struct PatternSearchResult {
  std::vector<double> x;
  double value = 0;
  int evaluations = 0, improvements = 0;
  std::string stopped_by;  // "converged", "evaluations", "stopped"
};

// Maximises f from x0, whose value f0 is known. -infinity marks a point to reject.
PatternSearchResult pattern_search(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                                   double f0, const std::vector<SearchDimension>& dims,
                                   const PatternSearchOptions& options);

}  // namespace cadcrafter::app
