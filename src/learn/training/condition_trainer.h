// The image-conditioned stages: the image backbone and the latent diffusion model
// (geometry encoder + denoiser), trained on dataset shards (src/data/dataset.h) with a trained
// autoencoder providing the target latents z.
//
// `train backbone`: ConvBackbone + a linear head regress z of the model from each single depth
// or normal image (MSE). Frozen afterwards.
// `train diffusion`: features of every view and modality are computed once with the frozen
// backbone (ConvBackbone run or TorchScript file) and cached in the run folder; the geometry
// encoder and the denoiser are trained jointly: each sample gets a random subset of 1..max_views
// views, t ~ U{0..T-1}, loss ||z0_hat - z0||^2 (+ distill_weight x cosine loss between the
// 1-view and the all-view condition, the paper's multi-view -> single-view distillation).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"
#include "learn/training/ae_trainer.h"
#include "learn/inference/photo_estimator.h"
#include "learn/networks/geometry_encoder.h"
#include "learn/networks/image_backbone.h"
#include "learn/networks/latent_diffusion.h"
#include "learn/networks/noise_schedule.h"
#include "learn/networks/samplers.h"

namespace cadcrafter {
class DatasetReader;
}

namespace cadcrafter::learn {

struct BackboneConfig {
  ConvBackboneOptions backbone;
  int64_t image_size = 64;       // framed views are resampled to this size (backbone_input.h)
  int64_t views_per_sample = 4;  // views kept in memory per training model (of its 32): caps RAM
  int64_t max_samples = 0;       // training models used (0 = all)
  // "regress_z": each image regresses the autoencoder latent (needs --ae);
  // "contrastive": InfoNCE between two views of one model against the other models of the batch
  // (learn/training/contrastive.h), no autoencoder needed.
  std::string objective = "regress_z";
  double temperature = 0.1;      // contrastive: softmax temperature
  bool mirror = true;            // contrastive: mirror each view with probability 1/2
  double estimator_like = 0.0;   // contrastive: probability that a view is degraded like the
                                 // estimator's maps of a photo (learn/training/contrastive.h estimator_like)
  std::string init;              // contrastive: start from this backbone run's weights ("" = random)
  // contrastive: a dataset built with --rgb whose parts (matched by id) are among the training
  // parts. Its photo-like renders go through the depth/normal estimator
  // (ConditionRunContext::estimate_views) once, and with probability photo_share the first view
  // of such a part's pair is one of those estimates instead of a render: the pairs then teach
  // exactly the gap a user's photo has to cross (estimated maps -> the rendered maps the part
  // index holds), not an imitation of it (estimator_like).
  std::string photo_data;
  double photo_share = 0.5;
  int64_t photo_views = 0;  // estimated views per part (the first ones; 0 = all): the estimator is the slow part

  TrainOptions train;
};
Result<BackboneConfig> parse_backbone_config(const nlohmann::json& j, const std::string& origin);
nlohmann::json backbone_config_to_json(const BackboneConfig& c);

struct DiffusionSettings {
  int64_t max_views = 4;
  int64_t feature_sets = 2;        // rendering sets (of 4 views) whose features are cached per model
  int64_t timesteps = 1000;
  std::string schedule = "linear";
  double condition_dropout = 0.1;  // classifier-free guidance training
  double distill_weight = 0.0;     // > 0: add the 1-view -> all-views cosine distillation loss
  std::string sampler = "ddim";    // for eval: "ddim" or "ddpm"
  int64_t sample_steps = 50;
  double eta = 0.0;
  // Target frame: "model" (the part's own frame) or "view" (render/camera.h: the target turned
  // about +Z by minus the quarter turn nearest to the first conditioning view's azimuth, so the
  // images determine it; the autoencoder encodes the turned sequence).
  std::string frame = "model";
  // Retrieval augmentation (denoiser.neighbours > 0): each training sample's neighbours are the
  // training parts nearest to its chosen views by the same features (the part itself left out),
  // nearest first, each in the quarter turn whose latent is closest to the target's (the turn
  // reconstruct and eval find by rendering, app/agreement.h facing_quarter_turns); all of a
  // sample's neighbours are dropped with this probability, so the model also runs without them.
  double neighbour_dropout = 0.1;
};
struct DiffusionConfig {
  GeometryEncoderOptions geometry;
  LatentDenoiserOptions denoiser;
  DiffusionSettings diffusion;
  TrainOptions train;
};
Result<DiffusionConfig> parse_diffusion_config(const nlohmann::json& j, const std::string& origin);
nlohmann::json diffusion_config_to_json(const DiffusionConfig& c);

// Geometry encoder + denoiser as one module (one checkpoint).
class ConditionalPriorImpl : public torch::nn::Module {
 public:
  explicit ConditionalPriorImpl(const DiffusionConfig& config);
  // features [B, V, 2, F], view_present [B, V] -> predicted z0; neighbours [B, K, z] and their
  // padding [B, K] (true = absent) as in LatentDenoiser, may be undefined.
  torch::Tensor forward(const torch::Tensor& z_t, const torch::Tensor& t, const torch::Tensor& features,
                        const torch::Tensor& view_present, const torch::Tensor& neighbours = {},
                        const torch::Tensor& neighbour_padding = {});
  int64_t neighbours() const { return denoiser->options().neighbours; }
  GeometryEncoder geometry{nullptr};
  LatentDenoiser denoiser{nullptr};
};
TORCH_MODULE(ConditionalPrior);

// The estimated maps of every view of `indices` of a dataset with photo-like renders, framed for
// the backbone and stored like the training views (encode_views: uint8 [N, V, 4, size, size]);
// present [N, V] (bool) says which views the estimator found an object in. Supplied by the
// caller: the estimator's pre- and post-processing lives in app/ (view_maps.h).
// Only the first `views` views of each sample are estimated (the others stay absent).
using EstimateViewsFn = std::function<Result<torch::Tensor>(const DatasetReader& reader, const std::vector<size_t>& indices,
                                                            int64_t views, int64_t size, torch::Tensor* present)>;

struct ConditionRunContext : RunContext {
  std::string ae_run;         // trained autoencoder folder
  std::string backbone;       // backbone run folder, or a TorchScript file (diffusion only)
  EstimateViewsFn estimate_views;  // backbone photo_data only
};

Result<AeTrainSummary> train_backbone(const std::string& dataset_dir, const BackboneConfig& config,
                                      const ConditionRunContext& context);
Result<AeTrainSummary> train_diffusion(const std::string& dataset_dir, const DiffusionConfig& config,
                                       const ConditionRunContext& context);

// A feature extractor from a backbone run folder (config.json + model.pt) or a TorchScript file,
// plus the image size it expects.
struct LoadedBackbone {
  std::shared_ptr<FeatureExtractor> extractor;
  int64_t image_size = 64;
};
Result<LoadedBackbone> load_backbone(const std::string& path, const torch::Device& device);

// Per-sample features [N, V, 2, F] of `indices` (in order) for the first `views` views of each
// sample (all when <= 0), computed with `backbone`; the views' camera azimuths [N, V] (degrees)
// when `azimuths` is given.
Result<torch::Tensor> compute_features(const std::string& dataset_dir, const std::vector<size_t>& indices,
                                       LoadedBackbone& backbone, bool progress, int64_t views = 0,
                                       torch::Tensor* azimuths = nullptr);

// Features [V, 2, F] of estimated or loaded maps of V views (app/view_maps.h).
torch::Tensor features_of_maps(LoadedBackbone& backbone, const std::vector<GeometryMaps>& views);

// A trained diffusion run with everything it needs to generate: its config, the prior, the
// autoencoder and the backbone recorded in its config.json.
struct LoadedDiffusion {
  DiffusionConfig config;
  ConditionalPrior prior{nullptr};
  CadAutoencoder autoencoder{nullptr};
  LoadedBackbone backbone;
  std::string features_cache;  // <run>/features.pt (training-set features), may not exist
  std::vector<std::string> weight_files;  // diffusion, autoencoder and backbone weights read
};
Result<LoadedDiffusion> load_diffusion(const std::string& run_dir, const torch::Device& device);

// Latents for features [B, V, 2, F] with view_present [B, V] (V <= max_views), sampled with the
// run's sampler and its step count (or `steps` when > 0); deterministic for `seed`.
// A retrieval-augmented model (prior->neighbours() > 0) also takes `neighbours` [B, K, z] with
// `neighbour_padding` [B, K] (neighbour_latents); undefined = without neighbours.
torch::Tensor sample_latents(LoadedDiffusion& model, const torch::Tensor& features, const torch::Tensor& view_present,
                             uint64_t seed, const torch::Device& device, int64_t steps = 0,
                             const torch::Tensor& neighbours = {}, const torch::Tensor& neighbour_padding = {});

// The latents of retrieved parts for a retrieval-augmented model: `parts[b]` are sample b's
// neighbours (nearest first, already turned into the frame of its first view), at most
// prior->neighbours() used; a part the encoder refuses or an empty one is left absent.
// Returns {latents [B, K, z], padding [B, K]}.
std::pair<torch::Tensor, torch::Tensor> neighbour_latents(LoadedDiffusion& model, const std::vector<std::vector<VecRows>>& parts,
                                                          const torch::Device& device);

// Neighbours [B, K, z] / padding [B, K] reordered so that row b's present neighbour number
// `turns[b]` mod (its count of present ones) comes first, the other present ones after it in their
// order, absent ones last: the model corrects the first one, so a sampler that gives its samples
// different turns makes them edits of different retrieved parts.
std::pair<torch::Tensor, torch::Tensor> lead_neighbours(const torch::Tensor& neighbours, const torch::Tensor& padding,
                                                        const std::vector<int64_t>& turns);

// Views per rendering set of a dataset (dataset.json config.views_per_set, default 4).
int64_t dataset_views_per_set(const std::string& dataset_dir);

}  // namespace cadcrafter::learn
