// `cadcrafter train ae|backbone|diffusion`: trains one stage of the learning layer into a run
// folder (see src/learn/training/ae_trainer.h for its layout). Resumable after any kill with --resume.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "app/reconstruct.h"
#include "app/view_maps.h"
#include "command.h"
#include "distributed_flags.h"
#include "data/dataset.h"
#include "learn/training/ae_trainer.h"
#include "learn/data/backbone_input.h"
#include "learn/training/checkpoint.h"
#include "learn/training/condition_trainer.h"
#include "learn/training/contrastive.h"
#include "util/atomic_file.h"
#include "util/progress.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {

struct TrainCliOptions {
  std::string stage;
  std::string data;
  std::string config;
  std::string out;
  std::string device = "cpu";
  uint64_t seed = 1;
  int threads = 2;
  bool resume = false;
  bool quiet = false;
  int64_t max_steps = 0;
  double time_limit_min = 0.0;
  std::string ae_run;
  std::string backbone;
  std::string estimator;  // backbone photo_data: the depth/normal estimator ("" = the shipped one)
  DistributedFlags dist;  // --world-size / --rank / --rendezvous (or WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT)
};

// The backbone's photo pairs: every view of `indices` (a dataset with photo-like renders) through
// the estimator the way reconstruct treats a photo (app/view_maps.h estimate_view), framed for
// the backbone and stored like the training views.
learn::EstimateViewsFn photo_view_estimator(const std::string& estimator_path, bool progress) {
  return [estimator_path, progress](const DatasetReader& reader, const std::vector<size_t>& indices, int64_t views,
                                    int64_t size, torch::Tensor* present) -> Result<torch::Tensor> {
    auto estimator = learn::PhotoEstimator::load(estimator_path);
    if (!estimator) return Result<torch::Tensor>::fail(estimator.error().code, "estimator: " + estimator.error().message);
    const auto v = std::min<int64_t>(views, reader.views());
    auto out = torch::zeros({static_cast<int64_t>(indices.size()), v, 4, size, size}, torch::kUInt8);
    *present = torch::zeros({static_cast<int64_t>(indices.size()), v}, torch::kBool);
    ProgressBar bar("estimate photo views", static_cast<int64_t>(indices.size()), progress);
    for (size_t k = 0; k < indices.size(); ++k) {
      auto s = reader.get(indices[k]);
      if (!s) return s.error();
      for (int64_t i = 0; i < std::min<int64_t>(v, s->views); ++i) {
        auto view = app::estimate_view(app::photo_of_sample(*s, static_cast<int>(i)), *estimator);
        if (!view) continue;  // no object found: this view is not used
        const learn::GeometryMaps maps{view->size, view->depth, view->normal, view->mask};
        out[static_cast<int64_t>(k)][i].copy_(learn::encode_views(learn::backbone_view_of_maps(maps, size)));
        (*present)[static_cast<int64_t>(k)][i] = true;
      }
      bar.add(1);
    }
    bar.finish();
    return out;
  };
}

int run_train(const TrainCliOptions& o) {
  const char* name = "train";
  learn::ensure_omp_proc_bind(saved_argc(), saved_argv());
  torch::set_num_threads(std::max(1, o.threads));
  auto device = learn::parse_device(o.device);
  if (!device) return fail(name, device.error().message);

  learn::RunContext ctx;
  ctx.run_dir = o.out;
  ctx.device = *device;
  ctx.seed = o.seed;
  ctx.resume = o.resume;
  ctx.progress = !o.quiet;
  ctx.run_info = make_run_info(saved_argc(), saved_argv());
  if (auto st = connect_distributed(o.dist, ctx); !st) return fail(name, st.error().message);

  if (o.stage == "ae") {
    // A resumed run keeps the config it started with.
    std::string config_path = o.config;
    if (o.resume) config_path = (std::filesystem::path(o.out) / "config.json").string();
    auto config = config_path.empty() ? Result<learn::AeConfig>(learn::small_ae_config()) : learn::load_ae_config(config_path);
    if (!config) return fail(name, config.error().message);
    if (o.max_steps > 0) config->train.max_steps = o.max_steps;
    if (o.time_limit_min > 0) config->train.time_limit_min = o.time_limit_min;
    auto data = learn::load_vec_dataset(o.data);
    if (!data) return fail(name, data.error().message);
    std::fprintf(stderr, "train ae: %zu train / %zu val sequences from %s\n", data->split_indices("train").size(),
                 data->split_indices("val").size(), data->source.c_str());
    auto summary = learn::train_autoencoder(*data, *config, ctx);
    if (!summary) return fail(name, summary.error().message);
    std::printf("trained %lld steps in %.1f s (%.1f samples/s); val command acc %.4f, param acc %.4f\n",
                static_cast<long long>(summary->steps), summary->seconds, summary->samples_per_second,
                summary->val.command, summary->val.param);
    return 0;
  }
  // backbone / diffusion: dataset shards + a trained autoencoder (+ a backbone for diffusion);
  // a contrastive backbone needs no autoencoder.
  std::string config_path = o.resume ? (std::filesystem::path(o.out) / "config.json").string() : o.config;
  nlohmann::json config_json = nlohmann::json::object();
  if (!config_path.empty()) {
    auto text = read_file(config_path);
    if (!text) return fail(name, text.error().message);
    config_json = nlohmann::json::parse(*text, nullptr, false);
    if (config_json.is_discarded()) return fail(name, config_path + ": not valid JSON");
    // Paths recorded by an earlier run are not config keys.
    for (const char* k : {"ae_run", "backbone"}) config_json.erase(k);
  }
  learn::ConditionRunContext cctx;
  static_cast<learn::RunContext&>(cctx) = ctx;
  cctx.ae_run = o.ae_run;
  cctx.backbone = o.backbone;
  if (o.stage == "backbone") {
    auto config = learn::parse_backbone_config(config_json, config_path.empty() ? "backbone defaults" : config_path);
    if (!config) return fail(name, config.error().message);
    if (!config->photo_data.empty()) {
      const std::string estimator = o.estimator.empty() ? app::default_weights_dir() + "/estimator.pt" : o.estimator;
      if (!std::filesystem::exists(estimator)) return fail(name, "photo_data needs the estimator: " + estimator + " does not exist (--estimator)");
      cctx.estimate_views = photo_view_estimator(estimator, !o.quiet);
    }
    if (config->objective != "contrastive" && o.ae_run.empty())
      return fail(name, "backbone (objective " + config->objective + ") needs --ae <autoencoder run folder>");
    if (o.max_steps > 0) config->train.max_steps = o.max_steps;
    if (o.time_limit_min > 0) config->train.time_limit_min = o.time_limit_min;
    auto summary = learn::train_backbone(o.data, *config, cctx);
    if (!summary) return fail(name, summary.error().message);
    std::printf("trained backbone %lld steps in %.1f s (%.1f images/s)\n", static_cast<long long>(summary->steps),
                summary->seconds, summary->samples_per_second);
    return 0;
  }
  if (o.ae_run.empty()) return fail(name, "diffusion needs --ae <autoencoder run folder>");
  if (o.backbone.empty()) return fail(name, "diffusion needs --backbone <backbone run folder or TorchScript file>");
  auto config = learn::parse_diffusion_config(config_json, config_path.empty() ? "diffusion defaults" : config_path);
  if (!config) return fail(name, config.error().message);
  if (o.max_steps > 0) config->train.max_steps = o.max_steps;
  if (o.time_limit_min > 0) config->train.time_limit_min = o.time_limit_min;
  auto summary = learn::train_diffusion(o.data, *config, cctx);
  if (!summary) return fail(name, summary.error().message);
  std::printf("trained diffusion %lld steps in %.1f s (%.1f samples/s)\n", static_cast<long long>(summary->steps),
              summary->seconds, summary->samples_per_second);
  return 0;
}

CommandRegistration reg("train", "Train a stage of the learning layer: ae, backbone or diffusion (the fine-tuning stages: train dpo, train distill)", [](CLI::App& app) {
  auto o = std::make_shared<TrainCliOptions>();
  app.add_option("stage", o->stage, "What to train: ae (CAD autoencoder), backbone (image CNN), diffusion")
      ->required()
      ->check(CLI::IsMember({"ae", "backbone", "diffusion"}));
  app.add_option("--data", o->data, "Data: a folder with vec.jsonl (+ manifest.csv), the shared data root, or dataset shards")
      ->required();
  app.add_option("--config", o->config, "JSON config (default: the built-in small config = configs/ae_small.json; ignored with --resume)");
  app.add_option("-o,--output", o->out, "Run folder (checkpoints, log.csv, model.pt, run.json)")->required();
  app.add_flag("--resume", o->resume, "Continue the run in -o from its last checkpoint");
  app.add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--seed", o->seed, "Seed for initialisation and data order")->capture_default_str();
  app.add_option("--threads", o->threads, "Intra-op CPU threads")->capture_default_str();
  app.add_option("--max-steps", o->max_steps, "Override train.max_steps of the config");
  app.add_option("--time-limit", o->time_limit_min, "Override train.time_limit_min: stop (annealed) after this many minutes");
  app.add_option("--ae", o->ae_run, "Trained autoencoder run folder (backbone, diffusion)");
  app.add_option("--backbone", o->backbone, "Backbone run folder or TorchScript file [B,3,H,W]->[B,F] (diffusion)");
  app.add_option("--estimator", o->estimator,
                 "Depth/normal estimator for a backbone config's photo_data (default: the shipped models/estimator.pt)");
  app.add_flag("-q,--quiet", o->quiet, "No progress bar");
  add_distributed_flags(app, o->dist);
  return [o]() { return run_distributed("train", [&] { return run_train(*o); }); };
});

}  // namespace
}  // namespace cadcrafter::cli
