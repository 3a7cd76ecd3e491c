// Reconstruct, stage by stage, for 1 and 4 photos of examples/photos, with and without the
// parameter refinement: seconds per stage (load, estimate, propose, check, score, pose
// refinement, parameter refinement, write), the top candidate's score before and after
// refinement, and the peak RSS (getrusage ru_maxrss). The 4 photos are the hard_bracket_*
// renders of examples/l_bracket.json (8 x 5 x 5 cm), so the top candidate's bounding-box
// proportions can be compared with the truth's.
//
//   bench_reconstruct_stages [--samples N] [--refine-seconds S] [--weights DIR] [--candidates auto|...]
// Issue 10's target: 4 photos, 8 candidates in <= 5 s on the 2 shared cores.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/reconstruct.h"
#include "kernel/export.h"
#include "util/atomic_file.h"

using namespace cadcrafter;
namespace fs = std::filesystem;

namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

struct Options {
  int samples = 8;
  double refine_seconds = app::kDefaultRefineSeconds;
  std::string weights, candidates = "auto";
};

// The bounding box of a STEP file's solid, sides sorted from the longest, over the longest.
std::vector<double> proportions(const std::string& step) {
  auto solid = import_step(step);
  if (!solid) return {};
  const BoundingBox b = shape_properties(*solid).bbox;
  std::vector<double> s = {b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z};
  std::sort(s.rbegin(), s.rend());
  const double longest = s[0];
  for (double& v : s) v /= longest;
  return s;
}

// Mean relative error of the two shorter sides (over the longest) against the truth's.
double proportion_error(const std::vector<double>& got, const std::vector<double>& truth) {
  if (got.size() != 3 || truth.size() != 3) return -1;
  return (std::fabs(got[1] - truth[1]) / truth[1] + std::fabs(got[2] - truth[2]) / truth[2]) / 2;
}

std::string format_proportions(const std::vector<double>& p) {
  if (p.size() != 3) return "?";
  char text[64];
  std::snprintf(text, sizeof text, "1 : %.3f : %.3f", p[1], p[2]);
  return text;
}

// `truth`: sorted proportions of the photographed part (empty: unknown).
int run_set(const std::string& name, const std::vector<std::string>& photos, const Options& o, const std::string& tmp,
            const std::vector<double>& truth) {
  int failures = 0;
  std::map<std::string, std::vector<double>> plain;  // origin -> proportions without refinement
  for (const bool refine : {false, true}) {
    app::ReconstructParams p;
    p.inputs = photos;
    p.output = tmp + "/" + name + (refine ? "_refined" : "_plain");
    p.force = true;
    p.samples = o.samples;
    p.threads = 2;
    p.weights_dir = o.weights;
    p.candidates = o.candidates;
    p.refine = refine;
    p.refine_seconds = o.refine_seconds;
    const auto start = std::chrono::steady_clock::now();
    auto r = app::reconstruct(p);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!r) {
      std::fprintf(stderr, "reconstruct failed: %s\n", r.error().message.c_str());
      ++failures;
      continue;
    }
    const nlohmann::json& t = r->timings;
    auto at = [&](const char* key) { return t.value(key, 0.0); };
    std::printf("%s, %s: %.2f s total (%.2f s after loading the weights)\n", name.c_str(),
                refine ? "refined" : "--no-refine", seconds, seconds - at("load_estimator") - at("load_generator"));
    std::printf("  load %.3f | estimate %.3f | propose %.3f | check+score %.3f wall (check %.3f + score %.3f thread-s, "
                "%d proposals, %d valid) | pose refinement %.3f | parameter refinement %.3f | face+scale %.3f | "
                "write %.3f | weights %.3f\n",
                at("load"), at("estimate"), at("propose"), at("check_and_score"), at("check_thread_s"),
                at("score_thread_s"), r->proposals, r->valid_proposals, at("refine_poses"), at("refine"),
                at("face_first_view") + at("scale_to_size"), at("write"), at("load_estimator") + at("load_generator"));
    if (!r->ranking.empty()) {
      const auto& top = r->ranking.front();
      std::printf("  top: %s score %.3f (before refinement %.3f)%s, proportions %s\n", top.origin.c_str(), top.score,
                  top.score_before_refinement, top.refined ? ", refined" : "",
                  format_proportions(proportions(p.output + "/" + top.folder + "/model.step")).c_str());
    }
    for (const auto& c : r->ranking) {
      const auto prop = proportions(p.output + "/" + c.folder + "/model.step");
      if (!refine) {
        plain[c.origin] = prop;
        continue;
      }
      const nlohmann::json* entry = nullptr;
      for (const auto& e : r->refinement)
        if (e.value("folder", "") == c.folder) entry = &e;
      if (!entry) continue;
      std::printf("    %s %s: score %.3f -> %.3f, %d evaluations (%d rejected) in %.2f s, %s", c.folder.c_str(),
                  c.origin.substr(0, 40).c_str(), entry->value("score_before", 0.0), entry->value("score_after", 0.0),
                  entry->value("evaluations", 0), entry->value("rejected_evaluations", 0), entry->value("seconds", 0.0),
                  entry->value("stopped_by", "").c_str());
      const auto before = plain.find(c.origin);
      if (before != plain.end())
        std::printf("; proportions %s -> %s", format_proportions(before->second).c_str(), format_proportions(prop).c_str());
      if (!truth.empty() && before != plain.end())
        std::printf(" (error vs truth %.1f%% -> %.1f%%)", 100 * proportion_error(before->second, truth),
                    100 * proportion_error(prop, truth));
      std::printf("\n");
    }
  }
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--samples" && i + 1 < argc) {
      o.samples = std::atoi(argv[++i]);
    } else if (a == "--refine-seconds" && i + 1 < argc) {
      o.refine_seconds = std::atof(argv[++i]);
    } else if (a == "--weights" && i + 1 < argc) {
      o.weights = argv[++i];
    } else if (a == "--candidates" && i + 1 < argc) {
      o.candidates = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench_reconstruct_stages [--samples N] [--refine-seconds S] [--weights DIR] "
                           "[--candidates auto|retrieval|diffusion|procedural]\n");
      return 1;
    }
  }
  const std::string photos = app::default_weights_dir() + "/../examples/photos/";  // models/ is beside examples/
  const std::vector<std::string> one = {photos + "bracket_1.jpg"};
  const std::vector<std::string> four = {photos + "hard_bracket_translucent_mat.jpg", photos + "hard_bracket_metal_room.jpg",
                                         photos + "hard_bracket_metal_small.jpg", photos + "hard_bracket_desk_shadow.jpg"};
  for (const auto& f : four)
    if (!fs::exists(f)) {
      std::fprintf(stderr, "%s not found\n", f.c_str());
      return 1;
    }
  const std::string tmp = (fs::temp_directory_path() / ("bench_stages_" + std::to_string(::getpid()))).string();
  fs::create_directories(tmp);
  std::printf("bench_reconstruct_stages: %d candidates, 2 threads, refine %.2f s; truth of the 4 photos: l_bracket.json, "
              "proportions 1 : 0.625 : 0.625\n",
              o.samples, o.refine_seconds);
  int failures = 0;
  {  // warm-up (allocator, OCCT, LibTorch), not printed
    app::ReconstructParams p;
    p.inputs = one;
    p.output = tmp + "/warm";
    p.samples = 1;
    p.weights_dir = o.weights;
    p.candidates = o.candidates;
    p.refine = false;
    if (!app::reconstruct(p)) ++failures;
  }
  failures += run_set("1 photo", one, o, tmp, {});
  std::printf("peak RSS after 1 photo: %.0f MB\n", peak_rss_mb());
  failures += run_set("4 photos", four, o, tmp, {1.0, 0.625, 0.625});
  std::printf("peak RSS after 4 photos: %.0f MB\n", peak_rss_mb());
  fs::remove_all(tmp);
  return failures ? 1 : 0;
}
