// CADCrafter's third stage: Direct Preference Optimisation of the latent diffusion model with the
// CAD compiler (the kernel's code checker, kernel/batch_check.h check_vec) as the judge.
//
// Pairs. For each training input (the backbone features of 1..max_views rendered views of a
// training part) the current model samples `samples_per_input` latents; each is decoded by the
// autoencoder (grammar decoding, as the product does) and checked by the kernel; a valid one is
// scored by DeepCAD's Chamfer distance to the ground truth (2,000 surface points, as
// learn/eval/cad_eval.cpp computes it). choose_pairs makes (preferred, rejected) pairs: the
// preferred sample is the valid one closest to the ground truth; rejected are, first, the
// invalid samples (the checker's reason is recorded) and then valid samples at least
// `far_ratio` times farther than the preferred one. At most `max_pairs_per_input` per input.
//
// Loss. Diffusion-DPO (Wallace et al. 2023, eq. 14) restated for a z0-predicting model f with a
// frozen reference copy f_ref. For a pair (z0_w, z0_l) of the same condition c, one t ~ U{0..T-1}
// and one noise eps ~ N(0, I) shared by both, z_t^x = sqrt(abar_t) z0_x + sqrt(1 - abar_t) eps and
//
//   e_m^x = || z0_x - f_m(z_t^x, t, c) ||^2     (summed over the latent's dims; m = theta or ref)
//   L = -log sigmoid( -beta/2 * [ (e_theta^w - e_ref^w) - (e_theta^l - e_ref^l) ] )
//
// averaged over the batch. Wallace et al. write the same with eps-prediction errors and a factor
// T * omega(lambda_t); here omega is the weighting of our own pre-training loss, which is the
// plain z0 error ||z0 - f||^2 at uniformly drawn t (latent_diffusion.h), so omega = 1 in z0
// units, and T is folded into beta as in their reference code. Converting eps-errors instead
// would weight each t by SNR(t) = abar_t / (1 - abar_t) (from ~1e4 at t = 0 to ~4e-5 at t = T-1)
// and the loss would be carried by the least noisy steps alone. The errors are summed (not
// averaged) over the latent's dims so that beta = 20 (the paper's value) with our 256-d latent
// equals beta ~ 5,000 with per-element means, Wallace et al.'s Stable Diffusion setting: the
// sigmoid saturates once the policy's error gap moved by ~0.3 / beta per latent, which is what
// keeps it close to the reference (DPO's implicit KL constraint). docs/training_stages.md.
//
// `cadcrafter train-dpo` runs: before-figures of the reference (invalid ratio and median CD of
// single samples on validation inputs, 1 view and max_views views) -> pair collection (resumable:
// pairs.jsonl with reasons and Chamfer distances, pairs.pt with the latents, collection.json
// progress) -> DPO steps (checkpoint.pt, resumable) -> the same figures for the tuned model
// (dpo_report.json). The run folder is a diffusion run (config.json, model.pt) that eval,
// reconstruct and serve load like any other.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "geom/sampling.h"
#include "learn/data/cad_tokens.h"
#include "learn/training/ae_trainer.h"
#include "learn/training/condition_trainer.h"
#include "learn/training/fine_tune_loop.h"
#include "util/status.h"

namespace cadcrafter::learn {

// ---------------------------------------------------------------- loss

// Per-sample z0 error: sum over the last dim of (z0 - predicted)^2 -> [B].
torch::Tensor z0_errors(const torch::Tensor& z0, const torch::Tensor& predicted);

struct DpoLoss {
  torch::Tensor loss;     // scalar, batch mean
  torch::Tensor inside;   // [B]: -beta/2 * [(e_theta^w - e_ref^w) - (e_theta^l - e_ref^l)]
  double accuracy = 0.0;  // share of pairs with inside > 0 (policy prefers the winner more than the reference)
};
// The Diffusion-DPO loss of the file comment from the four error vectors [B].
DpoLoss diffusion_dpo_loss(const torch::Tensor& e_theta_w, const torch::Tensor& e_ref_w, const torch::Tensor& e_theta_l,
                           const torch::Tensor& e_ref_l, double beta);

// ---------------------------------------------------------------- judging samples

struct ScoreOptions {
  int n_points = 2000;  // surface points per cloud (DeepCAD's)
  uint64_t seed = 0;
  int timeout_ms = 4000;
};

struct SampleScore {
  bool valid = false;
  std::string reason;  // the checker's reason when invalid
  double chamfer = std::numeric_limits<double>::quiet_NaN();  // DeepCAD Chamfer to the ground truth, valid only
};

// The ground truth's surface points (empty when it does not build; *why says why).
PointCloud ground_truth_cloud(const VecRows& target, const ScoreOptions& options, std::string* why = nullptr);
// Builds and checks `predicted`; valid ones get deepcad_chamfer(gt, predicted).
SampleScore score_sample(const VecRows& predicted, const PointCloud& gt, const ScoreOptions& options);

struct PairRule {
  double far_ratio = 2.0;       // a valid sample is "much farther" at >= far_ratio x the preferred one's CD
  int max_pairs_per_input = 2;
};
struct PairChoice {
  int preferred = -1, rejected = -1;  // indices into the scores
};
// The pairs of one input's samples (see the file comment); none without a valid sample.
std::vector<PairChoice> choose_pairs(const std::vector<SampleScore>& scores, const PairRule& rule);

// ---------------------------------------------------------------- the stage, on any inputs

// Conditions and ground truths, independent of datasets (tests build toy ones).
struct DpoInputs {
  torch::Tensor features;         // [N, max_views, 2, F]
  torch::Tensor present;          // [N, max_views] bool
  std::vector<VecRows> targets;   // ground truth per input, in the model's target frame
  std::vector<std::string> ids;   // names for pairs.jsonl (may be empty)
  int64_t size() const { return features.defined() ? features.size(0) : 0; }
};

// Latents [B, z] -> decoded sequences (the autoencoder's decoder, or a toy decoder in tests).
using LatentDecoder = std::function<std::vector<VecRows>(const torch::Tensor& z)>;

struct DpoOptions {
  int64_t pairs = 256;              // pairs to collect, at least (the paper: 10,000)
  int64_t samples_per_input = 4;    // latents sampled per training input
  int64_t max_passes = 4;           // passes over the inputs (new samples each) while pairs are missing
  PairRule rule;
  double beta = 20.0;               // the paper's
  int64_t sample_steps = 20;        // sampler steps for collection and measurement
  std::string sampler = "ddim";
  double eta = 0.0;
  ScoreOptions score;
  int threads = 1;                  // kernel checks in parallel
  int64_t chunk_inputs = 16;        // inputs per sampling batch (and per saved collection step)
};

struct DpoPairs {
  torch::Tensor z_w, z_l;              // [P, z]
  std::vector<int64_t> input;          // input row per pair
  std::vector<nlohmann::json> meta;    // one pairs.jsonl line per pair
  int64_t inputs_done = 0;             // position in the (pass, input) sequence
  int64_t samples = 0, invalid_samples = 0, no_valid_inputs = 0;
  int64_t size() const { return static_cast<int64_t>(input.size()); }
};

// Samples, decodes, judges and pairs, a chunk of inputs at a time, until at least options.pairs
// pairs are found (whole chunks are kept, so a resumed collection equals an uninterrupted one) or
// max_passes passes over the inputs are done. Sampling seeds depend on (seed, chunk position).
// With a non-empty `dir` the collection is saved after every chunk (pairs.pt, pairs.jsonl,
// collection.json) and, with `resume`, continued from what is there.
Result<DpoPairs> collect_dpo_pairs(ConditionalPrior& model, const NoiseSchedule& schedule, const DpoInputs& inputs,
                                   const LatentDecoder& decode, const DpoOptions& options, uint64_t seed,
                                   const std::string& dir = "", bool resume = false, bool progress = false);

// One sample per input (seeded), judged: the figures DPO should move.
struct SingleSampleFigures {
  int64_t inputs = 0, gt_valid = 0, invalid = 0;
  double invalid_ratio = 0.0;
  double chamfer_median = std::numeric_limits<double>::quiet_NaN();
  std::map<std::string, int64_t> reasons;
};
SingleSampleFigures measure_single_samples(ConditionalPrior& model, const NoiseSchedule& schedule, const DpoInputs& inputs,
                                           const LatentDecoder& decode, const DpoOptions& options, uint64_t seed,
                                           bool progress = false);
nlohmann::json figures_to_json(const SingleSampleFigures& f);

// DPO steps on collected pairs: `policy` is trained, `reference` stays frozen (eval, no grad).
// `train` gives steps, batch size, lr and its schedule, grad_clip, checkpointing; an empty
// ctx.run_dir trains in memory.
Result<FineTuneSummary> train_dpo_steps(ConditionalPrior& policy, ConditionalPrior& reference, const NoiseSchedule& schedule,
                                        const DpoInputs& inputs, const DpoPairs& pairs, double beta, const TrainOptions& train,
                                        const RunContext& ctx);

// ---------------------------------------------------------------- `cadcrafter train-dpo`

struct DpoStageOptions {
  DpoOptions dpo;
  TrainOptions train;        // DPO steps (defaults set by default_dpo_train_options)
  int64_t max_inputs = 0;    // training inputs (0 = all of the train split), drawn with the seed
  int64_t views = 0;         // views per training input (0 = drawn in 1..max_views per input)
  int64_t eval_inputs = 32;  // validation inputs for the before/after figures (0 = skip)
  std::string decoding = "grammar";
};
TrainOptions default_dpo_train_options();
nlohmann::json dpo_stage_options_to_json(const DpoStageOptions& o);

struct DpoStageSummary {
  int64_t pairs = 0, samples = 0, invalid_samples = 0, steps = 0;
  double collect_seconds = 0.0, train_seconds = 0.0;
  nlohmann::json report;  // dpo_report.json
};

// Tunes the diffusion run `diffusion_run` on the train split of `dataset_dir` into ctx.run_dir.
Result<DpoStageSummary> train_dpo(const std::string& dataset_dir, const std::string& diffusion_run,
                                  const DpoStageOptions& options, const RunContext& ctx);

}  // namespace cadcrafter::learn
