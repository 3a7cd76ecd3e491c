#include "learn/cad_eval.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>
#include <numeric>
#include <sstream>

#include "cad/cad_vec.h"
#include "geom/chamfer.h"
#include "geom/sampling.h"
#include "kernel/batch_check.h"
#include "kernel/tessellate.h"
#include "util/parallel.h"
#include "util/progress.h"

namespace cadcrafter::learn {
namespace {

// The kind of a checker reason, for counting: its first word and the text after its last
// ": " up to the first digit or parenthesis ("extrude 2, loop 0: profile is not closed (gap
// 0.01)" -> "extrude: profile is not closed"); ids and numbers differ from model to model.
std::string reason_kind(const std::string& reason) {
  auto cut = [](const std::string& text) {
    std::string out;
    for (char c : text) {
      if (std::isdigit(static_cast<unsigned char>(c)) || c == '(' || c == '[') break;
      out += c;
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == ',' || out.back() == '-' || out.back() == ':')) out.pop_back();
    return out;
  };
  const std::string head = cut(reason.substr(0, reason.find_first_of(" :")));
  const auto last = reason.rfind(": ");
  const std::string tail = last == std::string::npos ? "" : cut(reason.substr(last + 2));
  const std::string kind = tail.empty() || tail == head ? head : head + ": " + tail;
  return kind.empty() ? "other" : kind;
}

// Builds a vector and samples its surface; empty when it does not build.
PointCloud build_and_sample(const VecRows& rows, const CadEvalOptions& options, bool* valid, std::string* why = nullptr) {
  CheckOptions check;
  check.timeout_ms = options.timeout_ms;
  check.keep_solid = true;
  CheckResult result = check_vec(CadVec(rows.begin(), rows.end()), check);
  *valid = result.valid;
  if (!result.valid) {
    if (why) *why = reason_kind(result.reason);
    return {};
  }
  Mesh mesh = tessellate(result.solid);
  PointCloud points = sample_surface(mesh, options.n_points, options.seed);
  if (points.empty()) {
    *valid = false;
    if (why) *why = "no surface to sample";
  }
  return points;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

CadEvalReport evaluate_sequences(const std::vector<VecRows>& predicted, const std::vector<const VecRows*>& target,
                                 const CadEvalOptions& options) {
  CadEvalReport report;
  report.sequences = static_cast<int64_t>(target.size());
  std::vector<SequenceAccuracy> per;
  for (size_t i = 0; i < target.size(); ++i) per.push_back(sequence_accuracy(predicted[i], *target[i]));
  report.accuracy = summarize_accuracy(per);
  if (!options.geometry) return report;

  // Per model: 0 = gt invalid (skipped), 1 = prediction invalid, 2 = both valid (chamfer set).
  std::vector<int> outcome(target.size(), 0);
  std::vector<double> chamfer(target.size(), std::nan(""));
  std::vector<std::string> why(target.size());
  ProgressBar bar("eval geometry", static_cast<int64_t>(target.size()), options.progress);
  parallel_for(static_cast<int64_t>(target.size()), options.threads, [&](int64_t i, int) {
    bool gt_ok = false, pred_ok = false;
    PointCloud gt = build_and_sample(*target[static_cast<size_t>(i)], options, &gt_ok);
    if (gt_ok) {
      PointCloud pred = build_and_sample(predicted[static_cast<size_t>(i)], options, &pred_ok, &why[static_cast<size_t>(i)]);
      outcome[static_cast<size_t>(i)] = pred_ok ? 2 : 1;
      if (pred_ok) chamfer[static_cast<size_t>(i)] = deepcad_chamfer(gt, pred);
    }
    bar.add(1);
  });
  bar.finish();
  for (size_t i = 0; i < target.size(); ++i) {
    if (outcome[i] == 0) continue;
    ++report.gt_valid;
    if (outcome[i] == 1) {
      ++report.invalid;
      ++report.invalid_reasons[why[i]];
    }
    if (outcome[i] == 2 && std::isfinite(chamfer[i])) report.chamfer.push_back(chamfer[i]);
  }
  report.invalid_ratio = report.gt_valid ? static_cast<double>(report.invalid) / static_cast<double>(report.gt_valid) : 0.0;
  if (!report.chamfer.empty()) {
    std::vector<double> sorted = report.chamfer;
    std::sort(sorted.begin(), sorted.end());
    report.chamfer_mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(sorted.size());
    report.chamfer_median = median_of(sorted);
    const size_t cut = sorted.size() / 10;  // DeepCAD trims 10% at each end
    if (sorted.size() > 2 * cut && cut > 0)
      report.chamfer_trimmed_mean = std::accumulate(sorted.begin() + static_cast<long>(cut), sorted.end() - static_cast<long>(cut), 0.0) /
                                    static_cast<double>(sorted.size() - 2 * cut);
    else
      report.chamfer_trimmed_mean = report.chamfer_mean;
  }
  return report;
}

nlohmann::json report_to_json(const CadEvalReport& r) {
  nlohmann::json j = {{"sequences", r.sequences},
                      {"command_accuracy", r.accuracy.command},
                      {"parameter_accuracy", r.accuracy.param}};
  if (r.gt_valid > 0 || !r.chamfer.empty()) {
    j["geometry"] = {{"ground_truth_valid", r.gt_valid},
                     {"invalid", r.invalid},
                     {"invalid_ratio", r.invalid_ratio},
                     {"chamfer_valid", r.chamfer.size()},
                     {"chamfer_mean", r.chamfer_mean},
                     {"chamfer_median", r.chamfer_median},
                     {"chamfer_median_x1e3", r.chamfer_median * 1e3},
                     {"invalid_reasons", r.invalid_reasons},
                     {"chamfer_trimmed_mean", r.chamfer_trimmed_mean}};
  }
  return j;
}

std::string report_to_markdown(const std::string& title, const CadEvalReport& r) {
  std::ostringstream os;
  char buf[128];
  os << "### " << title << "\n\n| metric | value |\n| --- | --- |\n";
  os << "| sequences | " << r.sequences << " |\n";
  std::snprintf(buf, sizeof buf, "| command accuracy | %.4f |\n| parameter accuracy | %.4f |\n", r.accuracy.command, r.accuracy.param);
  os << buf;
  if (r.gt_valid > 0) {
    std::snprintf(buf, sizeof buf, "| invalid ratio | %.4f (%lld / %lld) |\n", r.invalid_ratio,
                  static_cast<long long>(r.invalid), static_cast<long long>(r.gt_valid));
    os << buf;
    if (r.chamfer.empty()) {
      os << "| median Chamfer distance | n/a (no valid prediction) |\n";
    } else {
      std::snprintf(buf, sizeof buf, "| median Chamfer distance | %.6f (x10^3: %.3f, n = %zu) |\n", r.chamfer_median,
                    r.chamfer_median * 1e3, r.chamfer.size());
      os << buf;
      std::snprintf(buf, sizeof buf, "| mean / trimmed mean CD | %.6f / %.6f |\n", r.chamfer_mean, r.chamfer_trimmed_mean);
      os << buf;
    }
    // The most common reasons predictions failed to build.
    std::vector<std::pair<int64_t, std::string>> reasons;
    for (const auto& [kind, count] : r.invalid_reasons) reasons.emplace_back(count, kind);
    std::sort(reasons.rbegin(), reasons.rend());
    for (size_t k = 0; k < std::min<size_t>(reasons.size(), 4); ++k)
      os << "| invalid: " << reasons[k].second << " | " << reasons[k].first << " |\n";
  }
  return os.str();
}

}  // namespace cadcrafter::learn
