// Sequence statistics of a set of models, computed from their DeepCAD vectors (so they count
// what a network sees: split extrudes, re-ordered loops): vector length, extrudes per model,
// loops per profile, curves per loop, and the curve-type / operation / extent-type mix.
// Used to compare the procedural generator with the F360 training split.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cad/cad_vec.h"

namespace cadcrafter {

class SequenceStats {
 public:
  void add(const CadVec& vec);
  int64_t models() const { return models_; }

  // Histograms: value -> count.
  const std::map<int, int64_t>& rows() const { return rows_; }
  const std::map<int, int64_t>& extrudes() const { return extrudes_; }
  const std::map<int, int64_t>& loops_per_profile() const { return loops_; }
  const std::map<int, int64_t>& curves_per_loop() const { return curves_; }
  // Mixes: index -> count (curve: 0 line, 1 arc, 2 circle; operation: 0..3; extent: 0..2).
  const std::map<int, int64_t>& curve_types() const { return curve_types_; }
  const std::map<int, int64_t>& operations() const { return operations_; }
  const std::map<int, int64_t>& extent_types() const { return extent_types_; }

 private:
  int64_t models_ = 0;
  std::map<int, int64_t> rows_, extrudes_, loops_, curves_, curve_types_, operations_, extent_types_;
};

double histogram_mean(const std::map<int, int64_t>& h);
// Share of the total at `key`, and at keys >= key.
double histogram_share(const std::map<int, int64_t>& h, int key);
double histogram_share_at_least(const std::map<int, int64_t>& h, int key);

// A Markdown table comparing two sets (e.g. "F360 train" and "generator").
std::string compare_stats_markdown(const std::string& name_a, const SequenceStats& a, const std::string& name_b,
                                   const SequenceStats& b);

}  // namespace cadcrafter
