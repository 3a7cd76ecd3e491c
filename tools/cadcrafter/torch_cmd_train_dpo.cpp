// The fine-tuning stages after `train diffusion` (docs/training_stages.md):
//   `cadcrafter train-dpo`: DPO of a diffusion run with the kernel's code checker as the judge
//     (src/learn/training/dpo_trainer.h);
//   `cadcrafter train-distill`: multi-view -> single-view distillation as its own stage, or a
//     single-view model from scratch (--mode scratch) (src/learn/training/distill_trainer.h).
// Both write a diffusion run folder (config.json, model.pt) that eval/reconstruct/serve load, with
// run.json, log.csv and checkpoint.pt; --resume continues after any kill with the settings the
// run started with.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "command.h"
#include "learn/training/checkpoint.h"
#include "learn/training/distill_trainer.h"
#include "learn/training/dpo_trainer.h"
#include "util/atomic_file.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {
namespace fs = std::filesystem;

struct CommonOptions {
  std::string data, out, device = "cpu";
  uint64_t seed = 1;
  int threads = 1;
  bool resume = false, quiet = false;
  int64_t steps = 0, batch = 0;
  double lr = 0.0, time_limit_min = 0.0;
};

void add_common(CLI::App& app, CommonOptions& o) {
  app.add_option("--data", o.data, "Dataset shards (dataset build) with a train split (and a val split for the figures)")->required();
  app.add_option("-o,--output", o.out, "Run folder (a diffusion run: config.json, model.pt; plus run.json, log.csv, checkpoint.pt)")
      ->required();
  app.add_flag("--resume", o.resume, "Continue the run in -o with the settings it started with");
  app.add_option("--device", o.device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed for sampling, pairing order, t and noise")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (LibTorch intra-op and kernel checks)")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--steps", o.steps, "Optimiser steps (default: the stage's)")->check(CLI::PositiveNumber);
  app.add_option("--batch", o.batch, "Batch size (default: the stage's)")->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "Learning rate (default: the stage's)")->check(CLI::PositiveNumber);
  app.add_option("--time-limit", o.time_limit_min, "Also stop (annealed) after this many minutes of training")->check(CLI::NonNegativeNumber);
  app.add_flag("-q,--quiet", o.quiet, "No progress bar");
}

// The run context both stages share; fails when the settings file of a resumed run is missing.
Result<learn::RunContext> context_of(const CommonOptions& o) {
  learn::ensure_omp_proc_bind(saved_argc(), saved_argv());
  torch::set_num_threads(std::max(1, o.threads));
  auto device = learn::parse_device(o.device);
  if (!device) return device.error();
  if (!fs::is_directory(o.data)) return Result<learn::RunContext>::fail(ErrorCode::kIo, o.data + ": no such dataset folder");
  learn::RunContext ctx;
  ctx.run_dir = o.out;
  ctx.device = *device;
  ctx.seed = o.seed;
  ctx.resume = o.resume;
  ctx.progress = !o.quiet;
  ctx.run_info = make_run_info(saved_argc(), saved_argv());
  return ctx;
}

void apply_common(const CommonOptions& o, learn::TrainOptions& t) {
  if (o.steps > 0) t.max_steps = o.steps;
  if (o.batch > 0) t.batch_size = o.batch;
  if (o.lr > 0) t.lr = o.lr;
  if (o.time_limit_min > 0) t.time_limit_min = o.time_limit_min;
}

Result<nlohmann::json> read_settings(const std::string& path) {
  auto text = read_file(path);
  if (!text) return Result<nlohmann::json>::fail(text.error().code, "--resume: " + text.error().message);
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Result<nlohmann::json>::fail(ErrorCode::kParse, path + ": not JSON");
  return j;
}

// ---------------------------------------------------------------- train-dpo

struct DpoCliOptions {
  CommonOptions common;
  std::string model;
  learn::DpoStageOptions stage;
};

int run_dpo(DpoCliOptions o) {
  const char* name = "train-dpo";
  auto ctx = context_of(o.common);
  if (!ctx) return fail(name, ctx.error().message);
  if (!fs::is_directory(o.model)) return fail(name, o.model + ": no such diffusion run folder (--model)");
  if (o.common.resume) {
    // The settings the run started with (dpo.json); --steps/--time-limit may extend it.
    auto j = read_settings((fs::path(o.common.out) / "dpo.json").string());
    if (!j) return fail(name, j.error().message);
    try {
      auto& s = o.stage;
      s.dpo.pairs = j->at("pairs").get<int64_t>();
      s.dpo.samples_per_input = j->at("samples_per_input").get<int64_t>();
      s.dpo.max_passes = j->at("max_passes").get<int64_t>();
      s.dpo.rule.far_ratio = j->at("far_ratio").get<double>();
      s.dpo.rule.max_pairs_per_input = j->at("max_pairs_per_input").get<int>();
      s.dpo.beta = j->at("beta").get<double>();
      s.dpo.sample_steps = j->at("sample_steps").get<int64_t>();
      s.dpo.sampler = j->at("sampler").get<std::string>();
      s.dpo.eta = j->at("eta").get<double>();
      s.dpo.score.n_points = j->at("n_points").get<int>();
      s.dpo.score.timeout_ms = j->at("timeout_ms").get<int>();
      s.max_inputs = j->at("max_inputs").get<int64_t>();
      s.views = j->at("views").get<int64_t>();
      s.eval_inputs = j->at("eval_inputs").get<int64_t>();
      s.decoding = j->at("decoding").get<std::string>();
      s.train = j->at("train").get<learn::TrainOptions>();
    } catch (const nlohmann::json::exception& e) {
      return fail(name, o.common.out + "/dpo.json: " + e.what());
    }
    if (o.common.steps > 0) o.stage.train.max_steps = o.common.steps;
    if (o.common.time_limit_min > 0) o.stage.train.time_limit_min = o.common.time_limit_min;
  } else {
    apply_common(o.common, o.stage.train);
  }
  o.stage.dpo.threads = o.common.threads;
  auto summary = learn::train_dpo(o.common.data, o.model, o.stage, *ctx);
  if (!summary) return fail(name, summary.error().message);
  const auto& r = summary->report;
  std::printf("DPO: %lld pairs from %lld samples (%lld invalid) in %.1f s; %lld steps in %.1f s\n",
              static_cast<long long>(summary->pairs), static_cast<long long>(summary->samples),
              static_cast<long long>(summary->invalid_samples), summary->collect_seconds, static_cast<long long>(summary->steps),
              summary->train_seconds);
  if (r.contains("before") && r.contains("after"))
    for (auto it = r["before"].begin(); it != r["before"].end(); ++it) {
      if (!r["after"].contains(it.key())) continue;
      const auto& b = it.value();
      const auto& a = r["after"][it.key()];
      auto cd = [](const nlohmann::json& f) { return f["chamfer_median"].is_number() ? f["chamfer_median"].get<double>() : std::nan(""); };
      std::printf("  %s (%lld val inputs): invalid ratio %.3f -> %.3f, median CD %.5f -> %.5f\n", it.key().c_str(),
                  static_cast<long long>(b["ground_truth_valid"].get<int64_t>()), b["invalid_ratio"].get<double>(),
                  a["invalid_ratio"].get<double>(), cd(b), cd(a));
    }
  std::printf("report: %s\n", (fs::path(o.common.out) / "dpo_report.json").string().c_str());
  return 0;
}

CommandRegistration dpo_reg(
    "train-dpo",
    "DPO of a diffusion run with the CAD compiler as the judge: sample, decode, check, pair (valid+closer vs invalid/farther), "
    "Diffusion-DPO against a frozen reference",
    [](CLI::App& app) {
      auto o = std::make_shared<DpoCliOptions>();
      o->stage.train = learn::default_dpo_train_options();
      o->common.threads = 1;
      add_common(app, o->common);
      app.add_option("--model", o->model, "The diffusion run to tune (e.g. models/diffusion); it is the frozen reference too")->required();
      app.add_option("--pairs", o->stage.dpo.pairs, "Preference pairs to collect (the paper: 10,000)")
          ->capture_default_str()
          ->check(CLI::PositiveNumber);
      app.add_option("--beta", o->stage.dpo.beta, "DPO beta (the paper's 20; errors summed over the latent's dims)")
          ->capture_default_str()
          ->check(CLI::PositiveNumber);
      app.add_option("--samples-per-input", o->stage.dpo.samples_per_input, "Latents sampled per training input")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{2}, int64_t{256}));
      app.add_option("--pairs-per-input", o->stage.dpo.rule.max_pairs_per_input, "At most this many pairs per input and pass")
          ->capture_default_str()
          ->check(CLI::Range(1, 256));
      app.add_option("--far-ratio", o->stage.dpo.rule.far_ratio,
                     "A valid sample is rejected when its CD is >= this x the preferred one's")
          ->capture_default_str()
          ->check(CLI::Range(1.0001, 1e9));
      app.add_option("--max-passes", o->stage.dpo.max_passes, "Passes over the inputs (new samples each) while pairs are missing")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{1}, int64_t{1000}));
      app.add_option("--inputs", o->stage.max_inputs, "Training inputs used (0 = the whole train split), drawn with the seed")
          ->capture_default_str()
          ->check(CLI::NonNegativeNumber);
      app.add_option("--views", o->stage.views, "Views per training input (0 = drawn in 1..max_views per input)")
          ->capture_default_str()
          ->check(CLI::NonNegativeNumber);
      app.add_option("--eval-inputs", o->stage.eval_inputs,
                     "Val inputs for the before/after figures (invalid ratio, median CD of single samples; 0 = skip)")
          ->capture_default_str()
          ->check(CLI::NonNegativeNumber);
      app.add_option("--sample-steps", o->stage.dpo.sample_steps, "Sampler steps for collection and the figures")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{1}, int64_t{1000}));
      app.add_option("--decoding", o->stage.decoding, "Command decoding of the autoencoder: grammar (the product's) or argmax")
          ->capture_default_str()
          ->check(CLI::IsMember({"grammar", "argmax"}));
      return [o]() { return run_dpo(*o); };
    });

// ---------------------------------------------------------------- train-distill

struct DistillCliOptions {
  CommonOptions common;
  std::string teacher;
  learn::DistillOptions stage;
};

int run_distill(DistillCliOptions o) {
  const char* name = "train-distill";
  auto ctx = context_of(o.common);
  if (!ctx) return fail(name, ctx.error().message);
  if (!fs::is_directory(o.teacher)) return fail(name, o.teacher + ": no such diffusion run folder (--teacher)");
  if (o.common.resume) {
    auto j = read_settings((fs::path(o.common.out) / "distill.json").string());
    if (!j) return fail(name, j.error().message);
    try {
      o.stage.mode = j->at("mode").get<std::string>();
      o.stage.student_init = j->at("student_init").get<std::string>();
      o.stage.distill_weight = j->at("distill_weight").get<double>();
      o.stage.diffusion_weight = j->at("diffusion_weight").get<double>();
      o.stage.val_samples = j->at("val_samples").get<int64_t>();
      o.stage.max_samples = j->at("max_samples").get<int64_t>();
      o.stage.train = j->at("train").get<learn::TrainOptions>();
    } catch (const nlohmann::json::exception& e) {
      return fail(name, o.common.out + "/distill.json: " + e.what());
    }
    if (o.common.steps > 0) o.stage.train.max_steps = o.common.steps;
    if (o.common.time_limit_min > 0) o.stage.train.time_limit_min = o.common.time_limit_min;
  } else {
    apply_common(o.common, o.stage.train);
  }
  if (auto st = learn::validate_distill_options(o.stage); !st) return fail(name, st.error().message);
  auto summary = learn::train_distill(o.common.data, o.teacher, o.stage, *ctx);
  if (!summary) return fail(name, summary.error().message);
  std::printf("%s: %lld steps in %.1f s", o.stage.mode == "scratch" ? "single view from scratch" : "distillation",
              static_cast<long long>(summary->steps), summary->seconds);
  if (summary->last_val.size() == 2)
    std::printf("; val cosine loss %.4f, val single-view latent MSE %.4f", summary->last_val[0], summary->last_val[1]);
  std::printf("\n");
  return 0;
}

CommandRegistration distill_reg(
    "train-distill",
    "Multi-view -> single-view distillation of a diffusion run (cosine loss to the frozen multi-view encoder, denoiser "
    "fine-tuned alongside), or a single-view model from scratch (--mode scratch)",
    [](CLI::App& app) {
      auto o = std::make_shared<DistillCliOptions>();
      o->stage.train = learn::default_distill_train_options();
      add_common(app, o->common);
      app.add_option("--teacher", o->teacher, "The multi-view diffusion run (train diffusion with max_views > 1)")->required();
      app.add_option("--mode", o->stage.mode, "distill (the paper's stage) or scratch (single view trained alone, random init)")
          ->capture_default_str()
          ->check(CLI::IsMember({"distill", "scratch"}));
      app.add_option("--student-init", o->stage.student_init, "distill mode: start the student from the teacher or at random")
          ->capture_default_str()
          ->check(CLI::IsMember({"teacher", "random"}));
      app.add_option("--distill-weight", o->stage.distill_weight, "Weight of the cosine distillation loss")
          ->capture_default_str()
          ->check(CLI::NonNegativeNumber);
      app.add_option("--diffusion-weight", o->stage.diffusion_weight, "Weight of the single-view diffusion loss")
          ->capture_default_str()
          ->check(CLI::NonNegativeNumber);
      app.add_option("--val-samples", o->stage.val_samples, "Val parts for the log's validation figures")
          ->capture_default_str()
          ->check(CLI::NonNegativeNumber);
      app.add_option("--max-samples", o->stage.max_samples, "Training parts used (0 = the whole train split), drawn with the seed")
          ->capture_default_str()
          ->check(CLI::NonNegativeNumber);
      return [o]() { return run_distill(*o); };
    });

}  // namespace
}  // namespace cadcrafter::cli
