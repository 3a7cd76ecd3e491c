// Training data and training loop for the depth/normal estimator (learn/networks/estimator.h).
//
// Training pairs are photo-like renders (render/photo.h) with the exact depth, normals and
// mask of the same camera (render/render_views.h), of procedurally generated parts
// (data/generator.h) and optionally F360 train models. They are rendered once into memory
// (a few hundred models x a few views is ~100-300 MB) and re-framed on the fly:
//
// Framing. `cadcrafter reconstruct` crops a photo to a square around the object (the mask's
// bounding box grown by kFramingMargin on every side) and resizes it to the network size.
// Training shows the network the same framing, with random margins and centre jitter, plus
// some uncropped full frames (the first, coarse pass of reconstruct sees the whole photo),
// and random horizontal flips (normal x negated).
//
// Run folder: config.json, run.json (by the caller), log.csv, estimator.pt (weights + options,
// learn/networks/estimator.h), metrics.json (held-out figures: F360 val renders when a data folder is
// given, otherwise renders of generated parts from seeds the training never sees).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cad/cad_model.h"
#include "util/status.h"
#include "learn/networks/estimator.h"
#include "learn/data/framing.h"

namespace cadcrafter::learn {

// One rendered view, in the renderer's compact encodings (render_views.h).
struct EstimatorSample {
  int size = 0;
  std::vector<uint8_t> rgb;     // size * size * 3 sRGB
  std::vector<uint16_t> depth;  // size * size, depth * 10000, 0 = background
  std::vector<uint8_t> normal;  // size * size * 3, (n + 1) * 127.5
  std::vector<uint8_t> mask;    // size * size, 255 = object
  std::string material, background;  // the photo's style families (render/photo.h)
};

struct EstimatorDataOptions {
  int64_t generated_models = 160;  // procedural parts
  int64_t f360_models = 0;         // F360 models of `split` (needs f360_dir)
  std::string f360_dir;            // ../shared/data/f360 (json/ + manifest.csv)
  std::string f360_split = "train";
  int64_t views_per_model = 8;     // multiple of 4 (render sets of 4 views)
  int64_t image_size = 128;        // render size (set from render_size, or the network's input size x 2: crops stay sharp)
  int64_t render_size = 0;         // config: 0 = 2 x the network's input size
  uint64_t seed = 1;
  // Style families left out of the photos (render/photo.h), e.g. {"metal", "mat"} to measure
  // transfer to styles the network never saw.
  std::vector<std::string> exclude_families;
  // Zoom variety: > 45 draws each view's field of view in [45, fov_max_deg] and aims up to
  // 0.25 off the centre, so parts fill 30-90% of the frame, off centre (0: always 45).
  float fov_max_deg = 0.0f;
  int threads = 2;
  bool progress = true;
};

// Renders the samples. Models the kernel cannot build are skipped (counted in `skipped`).
Result<std::vector<EstimatorSample>> make_estimator_samples(const EstimatorDataOptions& options,
                                                            int64_t* skipped = nullptr);

// Samples of given models (used by the above and by tests).
std::vector<EstimatorSample> render_estimator_samples(const std::vector<CadModel>& models,
                                                      const EstimatorDataOptions& options,
                                                      int64_t* skipped = nullptr);


// A training/evaluation batch: inputs in [0, 1] and decoded targets. `augment` draws random
// framing and flips from `rng`; without it every sample gets the reconstruct framing.
struct EstimatorBatch {
  torch::Tensor rgb;
  EstimatorTargets target;
};
EstimatorBatch make_estimator_batch(const std::vector<const EstimatorSample*>& samples, int64_t size, bool augment,
                                    std::mt19937_64* rng);

struct EstimatorTrainOptions {
  int64_t batch_size = 16;
  int64_t steps = 600;
  double lr = 2e-3;
  int64_t warmup_steps = 30;
  int64_t log_every = 20;
  double max_minutes = 0.0;  // > 0: stop (and save) when training has run this long
  int64_t checkpoint_every = 200;  // steps between checkpoints (RUN/checkpoint.pt), for --resume
  int64_t stop_after = 0;          // > 0: checkpoint and stop after this many steps of this sitting
  // A fresh run's starting point: an estimator file whose parameters are copied where names and
  // shapes match (init_core_from), e.g. a 64-pixel estimator as the core of a 128-pixel one
  // with core_downsample 2. Empty: random initialisation.
  std::string init_from;
  // Photometric jitter of the training photos (photometric_jitter), 0 = off: colour statistics
  // that no renderer of ours draws (tone curves, white balance, saturation, channel order), so a
  // photo from another renderer or camera is less likely to fall outside what the network saw.
  float photometric = 0.0f;
  EstimatorLossWeights weights;
};

struct EstimatorConfig {
  EstimatorOptions model;
  EstimatorDataOptions data;        // training data
  EstimatorDataOptions validation;  // held-out data
  EstimatorTrainOptions train;
};
// The CPU default (64x64 input, 200 generated + 100 F360 parts x 8 views, 700 steps of 16):
// about 3 minutes of rendering and 10 of training on 2 cores.
EstimatorConfig small_estimator_config();
nlohmann::json estimator_config_to_json(const EstimatorConfig& c);
// Unknown keys are an error; missing keys keep the small defaults.
Result<EstimatorConfig> parse_estimator_config(const nlohmann::json& j, const std::string& origin);

struct EstimatorTrainSummary {
  int64_t steps = 0, train_samples = 0, val_samples = 0;
  int64_t resumed_from = 0;  // the checkpoint's step, 0 for a fresh run
  double seconds = 0.0, render_seconds = 0.0, final_loss = 0.0;
  EstimatorMetrics val;
  // Held-out figures per style family ("material/metal", "background/mat", ...).
  std::map<std::string, EstimatorMetrics> val_by_family;
};

// Trains into run_dir (created). With `resume`, continues from run_dir/checkpoint.pt (saved
// every train.checkpoint_every steps and when the time budget ends) with the config saved in
// the run; the training views are rendered again (deterministic for the seed).
Result<EstimatorTrainSummary> train_estimator(const EstimatorConfig& config, const std::string& run_dir,
                                              uint64_t seed, bool progress, bool resume = false);

// Metrics of `model` on samples (reconstruct framing, eval mode, no grad).
// `mirror_average`: forward_mirror_averaged (what the product's PhotoEstimator runs) instead of forward.
// `shift` (optional) changes the photos before the network sees them (foreign_colour_shifts).
EstimatorMetrics evaluate_estimator(DepthNormalEstimator& model, const std::vector<EstimatorSample>& samples,
                                    int64_t batch_size = 32, bool mirror_average = false,
                                    const std::function<torch::Tensor(const torch::Tensor&)>& shift = {});
// The same, split by each sample's material and background family.
std::map<std::string, EstimatorMetrics> evaluate_estimator_by_family(DepthNormalEstimator& model,
                                                                     const std::vector<EstimatorSample>& samples,
                                                                     int64_t batch_size = 32, bool mirror_average = false);

// Random photometric changes of photos [B, 3, H, W] in [0, 1], per photo, scaled by `strength`
// (1: brightness and contrast x [0.65, 1.35], saturation x [0.4, 1.6], per-channel gains x
// [0.85, 1.15], gamma e^[-0.4, 0.4], grey with p 0.1, channels permuted with p 0.15, noise up
// to 0.02), clamped to [0, 1]. Geometry targets do not change: none of these moves a pixel.
torch::Tensor photometric_jitter(const torch::Tensor& rgb, float strength, std::mt19937_64& rng);

// Fixed colour shifts of photos, a stand-in for a renderer or camera the estimator never saw (its
// tone curve and white balance): "gamma 1.8", "gamma 0.55", "warm, desaturated", "cool, contrast".
// evaluate_estimator_file scores the held-out photos under each.
std::vector<std::pair<std::string, std::function<torch::Tensor(const torch::Tensor&)>>> foreign_colour_shifts();

// Held-out figures of an estimator file (our weights) on `config.validation`'s renders, without
// training: {"heldout_views", "plain": {"heldout", "heldout_by_family", "seconds"}, "mirror_averaged": {...},
// "colour_shifted": {shift name: mirror-averaged "heldout" figures under foreign_colour_shifts, "mean": their mean}}.
Result<nlohmann::json> evaluate_estimator_file(const std::string& model_path, const EstimatorConfig& config, bool progress);

}  // namespace cadcrafter::learn
