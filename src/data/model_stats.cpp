#include "data/model_stats.h"

#include <cstdio>
#include <functional>

namespace cadcrafter {

void SequenceStats::add(const CadVec& vec) {
  ++models_;
  int extrudes = 0, loops_in_profile = 0, curves_in_loop = -1;
  auto close_loop = [&] {
    if (curves_in_loop >= 0) ++curves_[curves_in_loop];
    curves_in_loop = -1;
  };
  int rows = 0;
  for (const CadVecRow& row : vec) {
    ++rows;
    const int cmd = row[kColCmd];
    if (cmd == kCmdEos) break;
    if (cmd == kCmdSol) {
      close_loop();
      curves_in_loop = 0;
      ++loops_in_profile;
    } else if (cmd == kCmdExt) {
      close_loop();
      ++loops_[loops_in_profile];
      loops_in_profile = 0;
      ++extrudes;
      ++operations_[row[kColOperation]];
      ++extent_types_[row[kColExtentType]];
    } else if (cmd == kCmdLine || cmd == kCmdArc || cmd == kCmdCircle) {
      ++curves_in_loop;
      ++curve_types_[cmd];
    }
  }
  ++rows_[rows];
  ++extrudes_[extrudes];
}

namespace {
int64_t total(const std::map<int, int64_t>& h) {
  int64_t n = 0;
  for (const auto& [k, v] : h) n += v;
  return n;
}
}  // namespace

double histogram_mean(const std::map<int, int64_t>& h) {
  double sum = 0;
  for (const auto& [k, v] : h) sum += static_cast<double>(k) * v;
  const int64_t n = total(h);
  return n ? sum / n : 0.0;
}

double histogram_share(const std::map<int, int64_t>& h, int key) {
  const int64_t n = total(h);
  const auto it = h.find(key);
  return n && it != h.end() ? static_cast<double>(it->second) / n : 0.0;
}

double histogram_share_at_least(const std::map<int, int64_t>& h, int key) {
  const int64_t n = total(h);
  int64_t m = 0;
  for (const auto& [k, v] : h)
    if (k >= key) m += v;
  return n ? static_cast<double>(m) / n : 0.0;
}

std::string compare_stats_markdown(const std::string& name_a, const SequenceStats& a, const std::string& name_b,
                                   const SequenceStats& b) {
  std::string out = "| statistic | " + name_a + " | " + name_b + " |\n| --- | ---: | ---: |\n";
  char buf[256];
  auto row = [&](const std::string& label, double va, double vb, const char* fmt) {
    std::string f = std::string("| %s | ") + fmt + " | " + fmt + " |\n";
    std::snprintf(buf, sizeof buf, f.c_str(), label.c_str(), va, vb);
    out += buf;
  };
  std::snprintf(buf, sizeof buf, "| models | %lld | %lld |\n", static_cast<long long>(a.models()), static_cast<long long>(b.models()));
  out += buf;
  using Get = std::function<const std::map<int, int64_t>&(const SequenceStats&)>;
  auto distribution = [&](const std::string& label, const Get& get, const std::vector<int>& keys, int tail) {
    row("mean " + label, histogram_mean(get(a)), histogram_mean(get(b)), "%.2f");
    for (int k : keys) row(label + " = " + std::to_string(k), 100 * histogram_share(get(a), k), 100 * histogram_share(get(b), k), "%.1f%%");
    row(label + " >= " + std::to_string(tail), 100 * histogram_share_at_least(get(a), tail), 100 * histogram_share_at_least(get(b), tail), "%.1f%%");
  };
  distribution("vector rows", [](const SequenceStats& s) -> const auto& { return s.rows(); }, {}, 30);
  row("vector rows <= 10", 100 * (1 - histogram_share_at_least(a.rows(), 11)), 100 * (1 - histogram_share_at_least(b.rows(), 11)), "%.1f%%");
  distribution("extrudes", [](const SequenceStats& s) -> const auto& { return s.extrudes(); }, {1, 2, 3, 4}, 5);
  distribution("loops/profile", [](const SequenceStats& s) -> const auto& { return s.loops_per_profile(); }, {1, 2, 3}, 4);
  distribution("curves/loop", [](const SequenceStats& s) -> const auto& { return s.curves_per_loop(); }, {1, 2, 3, 4, 5, 6, 8}, 9);
  const char* curve_names[] = {"line", "arc", "circle"};
  for (int t = 0; t < 3; ++t)
    row(std::string("curves: ") + curve_names[t], 100 * histogram_share(a.curve_types(), t), 100 * histogram_share(b.curve_types(), t), "%.1f%%");
  const char* op_names[] = {"new body", "join", "cut", "intersect"};
  for (int t = 0; t < 4; ++t)
    row(std::string("operation: ") + op_names[t], 100 * histogram_share(a.operations(), t), 100 * histogram_share(b.operations(), t), "%.1f%%");
  const char* extent_names[] = {"one side", "symmetric", "two sides"};
  for (int t = 0; t < 3; ++t)
    row(std::string("extent: ") + extent_names[t], 100 * histogram_share(a.extent_types(), t), 100 * histogram_share(b.extent_types(), t), "%.1f%%");
  return out;
}

}  // namespace cadcrafter
