// Training and reconstruction for the CAD autoencoder.
//
// Run folder: config.json (the resolved config), run.json, log.csv (step, losses, lr,
// samples/s, validation figures), checkpoint.pt (latest, for --resume) and model.pt (weights
// of the last step; with config.json it is what `eval` and the diffusion stage load).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"
#include "learn/networks/cad_autoencoder.h"
#include "learn/training/losses.h"
#include "learn/training/distributed.h"
#include "learn/data/vec_dataset.h"

namespace cadcrafter::learn {

struct TrainOptions {
  int64_t batch_size = 64;
  double lr = 1e-3;
  int64_t warmup_steps = 200;
  std::string lr_schedule = "cosine";  // "constant" (DeepCAD) or "cosine"
  double grad_clip = 1.0;
  int64_t max_steps = 2000;
  int64_t log_every = 20;
  int64_t val_every = 500;          // 0: only at the end
  int64_t checkpoint_every = 100;
  int64_t val_limit = 0;            // validate on the first N val sequences (0: all)
  // > 0: also stop after this much training time (resumes included). The cosine schedule then
  // follows whichever of steps and time is further along, so a time-boxed run still anneals.
  // Such a run is not bit-reproducible (where it stops depends on the machine's load).
  double time_limit_min = 0.0;
  // Train each sequence in a random one of its quarter turns about +Z (the view frame rule
  // turns image -> CAD targets by any multiple of 90 degrees; cad/turn.h): the turns are made
  // once at load (quarter_turn_variants) and one is drawn per sample and step, from (seed, step,
  // sample), so resumed runs draw the same. Validation stays on the sequences as given.
  bool turn_augment = false;
  // A fresh run (not --resume) starts from this autoencoder's weights instead of random ones: a
  // run folder with config.json + model.pt (e.g. models/ae_small) whose model options must equal
  // this config's. The optimiser, schedule and step count start anew (fine-tuning). Empty: random.
  std::string init_from;
  CadLossWeights weights;
};
void to_json(nlohmann::json& j, const TrainOptions& o);
void from_json(const nlohmann::json& j, TrainOptions& o);

struct AeConfig {
  AutoencoderOptions model;
  TrainOptions train;
};
// Reads {"model": {...}, "train": {...}}; unknown keys are an error (typos must not pass).
Result<AeConfig> load_ae_config(const std::string& path);
// The CPU default (same values as configs/ae_small.json): trains in ~15-20 min on 2 cores.
AeConfig small_ae_config();
Result<AeConfig> parse_ae_config(const nlohmann::json& j, const std::string& origin);
nlohmann::json ae_config_to_json(const AeConfig& config);

struct RunContext {
  std::string run_dir;
  torch::Device device{torch::kCPU};
  uint64_t seed = 1;
  bool resume = false;
  bool progress = true;
  nlohmann::json run_info;  // written as run.json
  int64_t stop_after_steps = 0;  // > 0: stop (with a checkpoint) after this many steps this call; for tests
  // Data-parallel run (learn/training/distributed.h): null for one process. train.batch_size is
  // then the global batch; only rank 0 writes the run folder.
  std::shared_ptr<Distributed> dist;
};

struct AeTrainSummary {
  int64_t steps = 0;
  double seconds = 0.0;
  double samples_per_second = 0.0;
  double final_train_loss = 0.0;
  AccuracySummary val;
};

Result<AeTrainSummary> train_autoencoder(const VecDataset& data, const AeConfig& config, const RunContext& context);

// Encodes and decodes every sequence (batched, eval mode, no grad); predictions are cut at
// their first EOS.
std::vector<VecRows> reconstruct(CadAutoencoder& model, const std::vector<const VecRows*>& inputs,
                                 const torch::Device& device, int64_t batch_size = 128,
                                 CommandDecoding decoding = CommandDecoding::kArgmax);
torch::Tensor encode_latents(CadAutoencoder& model, const std::vector<const VecRows*>& inputs,
                             const torch::Device& device, int64_t batch_size = 128);

// Loads config.json + model.pt from a run folder (or a shipped models/<name> folder).
Result<CadAutoencoder> load_autoencoder(const std::string& run_dir, const torch::Device& device);

}  // namespace cadcrafter::learn
