#include "learn/eval/cad_eval.h"

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

// Builds a vector and samples its surface; empty when it does not build (*why: the kind of reason).
PointCloud build_and_sample(const VecRows& rows, const CadEvalOptions& options, bool* valid, std::string* why = nullptr) {
  std::string reason;
  PointCloud points = sample_sequence_surface(rows, options.n_points, options.seed, options.timeout_ms, &reason);
  *valid = !points.empty();
  if (!*valid && why) *why = reason == "no surface to sample" ? reason : reason_kind(reason);
  return points;
}

}  // namespace

PointCloud sample_sequence_surface(const VecRows& rows, int n_points, uint64_t seed, int timeout_ms, std::string* why) {
  CheckOptions check;
  check.timeout_ms = timeout_ms;
  check.keep_solid = true;
  const CheckResult result = check_vec(CadVec(rows.begin(), rows.end()), check);
  if (!result.valid) {
    if (why) *why = result.reason;
    return {};
  }
  PointCloud points = sample_surface(tessellate(result.solid), n_points, seed);
  if (points.empty() && why) *why = "no surface to sample";
  return points;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

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
  std::vector<double> chamfer(target.size(), std::nan("")), rotation_free(target.size(), std::nan("")),
      centred(target.size(), std::nan("")), z_free(target.size(), std::nan(""));
  std::vector<std::string> why(target.size());
  std::vector<PointCloud> gts(target.size());  // kept for the chance level
  ProgressBar bar("eval geometry", static_cast<int64_t>(target.size()), options.progress);
  parallel_for(static_cast<int64_t>(target.size()), options.threads, [&](int64_t i, int) {
    const size_t k = static_cast<size_t>(i);
    bool gt_ok = false, pred_ok = false;
    gts[k] = build_and_sample(*target[k], options, &gt_ok);
    if (gt_ok) {
      PointCloud pred = build_and_sample(predicted[k], options, &pred_ok, &why[k]);
      outcome[k] = pred_ok ? 2 : 1;
      if (pred_ok) {
        chamfer[k] = deepcad_chamfer(gts[k], pred);
        rotation_free[k] = rotation_free_chamfer(gts[k], pred);
        centred[k] = centred_chamfer(gts[k], pred);
        z_free[k] = z_turn_free_chamfer(gts[k], pred);
      }
    }
    bar.add(1);
  });
  bar.finish();
  std::vector<size_t> gt_ok;
  for (size_t i = 0; i < target.size(); ++i) {
    if (outcome[i] == 0) continue;
    gt_ok.push_back(i);
    ++report.gt_valid;
    if (outcome[i] == 1) {
      ++report.invalid;
      ++report.invalid_reasons[why[i]];
    }
    if (outcome[i] == 2 && std::isfinite(chamfer[i])) {
      report.chamfer.push_back(chamfer[i]);
      report.chamfer_rotation_free.push_back(rotation_free[i]);
      report.chamfer_centred.push_back(centred[i]);
      report.chamfer_z_turn_free.push_back(z_free[i]);
    }
  }
  report.chamfer_rotation_free_per_model = rotation_free;
  report.chamfer_rotation_free_median = report.chamfer_rotation_free.empty() ? 0.0 : median_of(report.chamfer_rotation_free);
  report.chamfer_centred_median = report.chamfer_centred.empty() ? 0.0 : median_of(report.chamfer_centred);
  report.chamfer_z_turn_free_median = report.chamfer_z_turn_free.empty() ? 0.0 : median_of(report.chamfer_z_turn_free);

  // Chance level: the k-th buildable ground truth against the (k + m/2) mod m-th (another
  // model whenever m >= 2), scored like a prediction.
  const size_t m = gt_ok.size();
  if (m >= 2) {
    std::vector<double> chance(m), chance_free(m);
    ProgressBar chance_bar("eval chance level", static_cast<int64_t>(m), options.progress);
    parallel_for(static_cast<int64_t>(m), options.threads, [&](int64_t k, int) {
      const size_t a = gt_ok[static_cast<size_t>(k)], b = gt_ok[(static_cast<size_t>(k) + m / 2) % m];
      chance[static_cast<size_t>(k)] = deepcad_chamfer(gts[a], gts[b]);
      chance_free[static_cast<size_t>(k)] = rotation_free_chamfer(gts[a], gts[b]);
      chance_bar.add(1);
    });
    chance_bar.finish();
    report.chance_chamfer = chance;
    report.chance_chamfer_rotation_free = chance_free;
    report.chance_chamfer_median = median_of(chance);
    report.chance_chamfer_rotation_free_median = median_of(chance_free);
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
                     {"chamfer_trimmed_mean", r.chamfer_trimmed_mean},
                     {"chamfer_rotation_free_median", r.chamfer_rotation_free_median},
                     {"chamfer_rotation_free_median_x1e3", r.chamfer_rotation_free_median * 1e3},
                     {"chamfer_centred_median", r.chamfer_centred_median},
                     {"chamfer_z_turn_free_median", r.chamfer_z_turn_free_median}};
    if (!r.chance_chamfer.empty()) {
      j["geometry"]["chance_pairs"] = r.chance_chamfer.size();
      j["geometry"]["chance_chamfer_median"] = r.chance_chamfer_median;
      j["geometry"]["chance_chamfer_median_x1e3"] = r.chance_chamfer_median * 1e3;
      j["geometry"]["chance_chamfer_rotation_free_median"] = r.chance_chamfer_rotation_free_median;
      j["geometry"]["chance_chamfer_rotation_free_median_x1e3"] = r.chance_chamfer_rotation_free_median * 1e3;
    }
    // Per model in the order of the targets; null where the ground truth or the prediction did
    // not build.
    nlohmann::json per_model = nlohmann::json::array();
    for (double v : r.chamfer_rotation_free_per_model) per_model.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json());
    j["geometry"]["chamfer_rotation_free_per_model"] = per_model;
  }
  return j;
}

std::string report_to_markdown(const std::string& title, const CadEvalReport& r) {
  std::ostringstream os;
  char buf[256];
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
      std::snprintf(buf, sizeof buf, "| median rotation-free CD (centred, unit scale, best of 24 axis rotations) | %.6f (x10^3: %.3f) |\n",
                    r.chamfer_rotation_free_median, r.chamfer_rotation_free_median * 1e3);
      os << buf;
      std::snprintf(buf, sizeof buf, "| median centred CD (centred, unit scale, as oriented / best of 4 turns about +Z) | %.6f / %.6f |\n",
                    r.chamfer_centred_median, r.chamfer_z_turn_free_median);
      os << buf;
    }
    if (!r.chance_chamfer.empty()) {
      std::snprintf(buf, sizeof buf, "| chance: median CD, ground truth vs another model's | %.6f (x10^3: %.3f, n = %zu) |\n",
                    r.chance_chamfer_median, r.chance_chamfer_median * 1e3, r.chance_chamfer.size());
      os << buf;
      std::snprintf(buf, sizeof buf, "| chance: median rotation-free CD | %.6f (x10^3: %.3f) |\n", r.chance_chamfer_rotation_free_median,
                    r.chance_chamfer_rotation_free_median * 1e3);
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
