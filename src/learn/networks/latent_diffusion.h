// The latent diffusion transformer (a DALL-E 2 style prior): given a noisy autoencoder latent
// z_t, the timestep and the geometry condition, predict the clean latent z_0.
//
// Tokens, all of width d_model: [z_t projected, timestep embedding (sinusoidal -> MLP),
// condition f projected, the geometry encoder's per-view tokens projected (optional)], plus a
// learned embedding per token role. Pre-LN transformer layers over them (padding of absent
// views masked); z_0 = linear head on the z_t token's output. Training loss: ||z0_hat - z0||^2
// at uniformly drawn t (see noise_schedule.h for the schedule, samplers.h for sampling).
// Classifier-free guidance is possible: the condition is dropped (zeroed, view tokens masked)
// with probability `condition_dropout` during training.
//
// Retrieval-augmented (`neighbours` > 0): the latents of up to `neighbours` known parts retrieved
// for the same views (nearest first, turned into the target's frame) enter as further tokens
// (role 4 + a rank embedding), and with `neighbour_residual` the prediction is the nearest
// neighbour's latent plus the head's output, so the network learns to edit a near part rather
// than draw one from noise. Absent neighbours are masked (and add no residual).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "learn/networks/layers.h"

namespace cadcrafter::learn {

struct LatentDenoiserOptions {
  int64_t z_dim = 256;
  int64_t cond_dim = 256;      // geometry encoder d_model
  int64_t d_model = 256;
  int64_t n_heads = 8;
  int64_t ff_dim = 512;
  int64_t layers = 4;
  bool use_view_tokens = true;
  double dropout = 0.0;
  int64_t neighbours = 0;          // retrieved-part latent tokens (0 = none)
  bool neighbour_residual = true;  // z0_hat = nearest neighbour's latent + head output
};
void to_json(nlohmann::json& j, const LatentDenoiserOptions& o);
void from_json(const nlohmann::json& j, LatentDenoiserOptions& o);

// Sinusoidal embedding of integer timesteps [B] -> [B, dim].
torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim);

class LatentDenoiserImpl : public torch::nn::Module {
 public:
  explicit LatentDenoiserImpl(const LatentDenoiserOptions& options = {});
  // z_t [B, z_dim], t [B] int64, condition [B, cond_dim]; view_tokens [B, N, cond_dim] and their
  // padding [B, N] (true = absent) may be undefined. neighbours [B, K, z_dim] (K <= options.neighbours,
  // nearest first) and their padding [B, K] may be undefined (= no neighbour).
  torch::Tensor forward(const torch::Tensor& z_t, const torch::Tensor& t, const torch::Tensor& condition,
                        const torch::Tensor& view_tokens = {}, const torch::Tensor& view_padding = {},
                        const torch::Tensor& neighbours = {}, const torch::Tensor& neighbour_padding = {});
  const LatentDenoiserOptions& options() const { return options_; }

 private:
  LatentDenoiserOptions options_;
  torch::nn::Linear z_in_{nullptr}, time_in_{nullptr}, time_hidden_{nullptr}, cond_in_{nullptr}, view_in_{nullptr};
  torch::nn::Embedding role_{nullptr};  // 0 z_t, 1 time, 2 condition, 3 view token, 4 neighbour
  torch::nn::Linear neighbour_in_{nullptr};
  torch::nn::Embedding neighbour_rank_{nullptr};
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(LatentDenoiser);

}  // namespace cadcrafter::learn
