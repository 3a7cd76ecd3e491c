// `cadcrafter train-estimator -o RUN`: trains the photo -> depth/normal/mask estimator on
// photo-like renders of generated parts (and F360 train models with --data), reports held-out
// figures (F360 val renders) into RUN/metrics.json. Copy RUN/estimator.pt to models/ to ship it.
// `--evaluate FILE` trains nothing: it scores an estimator file on the config's held-out renders,
// plain and mirror-averaged (what reconstruct runs), into RUN/heldout_eval.json.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "command.h"
#include "learn/training/checkpoint.h"
#include "learn/training/estimator_trainer.h"
#include "util/atomic_file.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {

struct TrainEstimatorOptions {
  std::string out, config, data, evaluate;
  uint64_t seed = 1;
  int threads = 2;
  int64_t steps = 0, stop_after = 0;
  double minutes = 0;
  int64_t generated = -1, f360 = -1, val = -1;
  bool force = false, quiet = false, resume = false;
};

void print_metrics(const char* label, const nlohmann::json& m) {
  std::printf("%-24s depth AbsRel %.4f (scale+shift aligned), normal angle %.2f deg, mask IoU %.4f\n", label,
              m.value("depth_abs_rel", 0.0), m.value("normal_angle_deg", 0.0), m.value("mask_iou", 0.0));
}

int evaluate_only(const TrainEstimatorOptions& o, const learn::EstimatorConfig& config) {
  const char* name = "train-estimator --evaluate";
  const std::string out_file = o.out + "/heldout_eval.json";
  if (std::filesystem::exists(out_file) && !o.force) return fail(name, out_file + ": exists (--force replaces it)");
  auto report = learn::evaluate_estimator_file(o.evaluate, config, !o.quiet);
  if (!report) return fail(name, report.error().message);
  (*report)["run"] = make_run_info(saved_argc(), saved_argv());
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (auto st = write_file_atomically(out_file, report->dump(2) + "\n"); !st) return fail(name, st.error().message);
  std::printf("%s on %lld held-out views (%s):\n", o.evaluate.c_str(), static_cast<long long>((*report)["heldout_views"].get<int64_t>()),
              (*report)["heldout_source"].get<std::string>().c_str());
  for (const char* kind : {"plain", "mirror_averaged"}) {
    const auto& k = (*report)[kind];
    print_metrics(kind, k["heldout"]);
    for (const auto& [family, m] : k["heldout_by_family"].items()) print_metrics(("  " + family).c_str(), m);
  }
  std::printf("written: %s\n", out_file.c_str());
  return 0;
}

int run(const TrainEstimatorOptions& o) {
  const char* name = "train-estimator";
  learn::ensure_omp_proc_bind(saved_argc(), saved_argv());
  torch::set_num_threads(std::max(1, o.threads));
  learn::EstimatorConfig config = learn::small_estimator_config();
  // A resumed run keeps the config it started with (RUN/config.json); the overrides below
  // still apply (e.g. a longer --minutes budget for this sitting).
  const std::string config_path = o.resume ? o.out + "/config.json" : o.config;
  if (o.resume && !o.config.empty()) std::fprintf(stderr, "train-estimator: --resume uses %s; --config is ignored\n", config_path.c_str());
  if (!config_path.empty()) {
    auto text = read_file(config_path);
    if (!text) return fail(name, text.error().message);
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded()) return fail(name, config_path + ": not JSON");
    auto parsed = learn::parse_estimator_config(j, config_path);
    if (!parsed) return fail(name, parsed.error().message);
    config = *parsed;
  }
  if (o.steps > 0) config.train.steps = o.steps;
  if (o.minutes > 0) config.train.max_minutes = o.minutes;
  if (o.stop_after > 0) config.train.stop_after = o.stop_after;
  if (o.generated >= 0) config.data.generated_models = o.generated;
  if (o.f360 >= 0) config.data.f360_models = o.f360;
  if (o.val >= 0) config.validation.f360_models = o.val;
  const std::string f360 = o.data.empty() ? std::string() : o.data + "/f360";
  if (f360.empty() || !std::filesystem::is_directory(f360)) {
    if (config.data.f360_models > 0 || config.validation.f360_models > 0)
      std::fprintf(stderr, "train-estimator: no F360 data (--data); training on generated parts only and "
                           "holding out generated parts from unseen seeds\n");
    config.data.f360_models = 0;
    config.validation.f360_models = 0;
    if (config.validation.generated_models == 0) config.validation.generated_models = 40;
  }
  config.data.f360_dir = config.validation.f360_dir = f360;
  config.data.threads = config.validation.threads = std::max(1, o.threads);
  if (!o.evaluate.empty()) return evaluate_only(o, config);
  if (!o.resume && !o.force &&
      (std::filesystem::exists(o.out + "/estimator.pt") || std::filesystem::exists(o.out + "/checkpoint.pt")))
    return fail(name, o.out + ": already holds a run (--resume continues it, --force trains again from scratch)");
  if (o.resume && !std::filesystem::exists(o.out + "/checkpoint.pt"))
    return fail(name, o.out + ": no checkpoint.pt to resume from");
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  auto run_info = make_run_info(saved_argc(), saved_argv());
  run_info["resumed"] = o.resume;
  if (auto s = write_file_atomically(o.out + (o.resume ? "/run_resumed.json" : "/run.json"), run_info.dump(2) + "\n"); !s)
    return fail(name, s.error().message);
  auto summary = learn::train_estimator(config, o.out, o.seed, !o.quiet, o.resume);
  if (!summary) return fail(name, summary.error().message);
  std::printf("trained %lld steps in %.0f s on %lld views (rendering took %.0f s)\n", static_cast<long long>(summary->steps),
              summary->seconds, static_cast<long long>(summary->train_samples), summary->render_seconds);
  std::printf("held-out (%lld views): depth AbsRel %.4f (scale+shift aligned), normal angle %.2f deg, mask IoU %.4f\n",
              static_cast<long long>(summary->val.images), summary->val.depth_abs_rel, summary->val.normal_angle_deg,
              summary->val.mask_iou);
  for (const auto& [family, m] : summary->val_by_family)
    std::printf("  %-22s %4lld views: depth AbsRel %.4f, normal %.2f deg, mask IoU %.4f\n", family.c_str(),
                static_cast<long long>(m.images), m.depth_abs_rel, m.normal_angle_deg, m.mask_iou);
  return 0;
}

CommandRegistration reg("train-estimator", "Train the photo -> depth/normal/mask estimator", [](CLI::App& app) {
  auto o = std::make_shared<TrainEstimatorOptions>();
  app.add_option("-o,--output", o->out, "Run folder (estimator.pt, metrics.json, log.csv, config.json)")->required();
  app.add_option("--config", o->config, "JSON config (default: the built-in small config)");
  app.add_option("--data", o->data, "Shared data root with f360/ (F360 train models for training, val for figures)");
  app.add_option("--steps", o->steps, "Override train.steps");
  app.add_option("--minutes", o->minutes, "Stop this sitting after this many minutes (checkpoint + model saved)");
  app.add_option("--stop-after", o->stop_after, "Stop this sitting after this many steps (checkpoint + model saved)");
  app.add_option("--generated", o->generated, "Override data.generated_models");
  app.add_option("--f360", o->f360, "Override data.f360_models");
  app.add_option("--val", o->val, "Override validation.f360_models");
  app.add_option("--seed", o->seed, "Seed")->capture_default_str();
  app.add_option("--threads", o->threads, "CPU threads")->capture_default_str();
  app.add_option("--evaluate", o->evaluate,
                 "Train nothing: score this estimator file on the config's held-out renders, plain and mirror-averaged, "
                 "into RUN/heldout_eval.json");
  app.add_flag("--force", o->force, "Overwrite a finished run (with --evaluate: its heldout_eval.json)");
  app.add_flag("--resume", o->resume, "Continue the run in -o from its checkpoint.pt (with its config.json)");
  app.add_flag("-q,--quiet", o->quiet, "No progress bars");
  return [o]() { return run(*o); };
});

}  // namespace
}  // namespace cadcrafter::cli
