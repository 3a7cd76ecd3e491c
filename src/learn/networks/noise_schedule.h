// The forward (noising) process of the latent diffusion model.
//
// T = 1000 steps with DDPM's linear beta schedule, beta_t from 1e-4 to 0.02 (Ho et al. 2020,
// also DALL-E 2's prior), or the cosine schedule of Nichol & Dhariwal (2021) with s = 0.008
// and betas clipped at 0.999. q(z_t | z_0) = N(sqrt(abar_t) z_0, (1 - abar_t) I), with
// t = 0 .. T-1 and abar_t = prod_{s <= t} (1 - beta_s).
#pragma once

#include <torch/torch.h>

#include <string>

namespace cadcrafter::learn {

class NoiseSchedule {
 public:
  explicit NoiseSchedule(int64_t steps = 1000, const std::string& kind = "linear");
  int64_t steps() const { return steps_; }
  const std::string& kind() const { return kind_; }
  const torch::Tensor& betas() const { return betas_; }            // [T] double
  const torch::Tensor& alphas_cumprod() const { return abar_; }    // [T] double
  double abar(int64_t t) const { return abar_acc_[t]; }
  // z_t for a batch of clean latents z0 [B, D], timesteps t [B] (int64) and noise [B, D].
  torch::Tensor add_noise(const torch::Tensor& z0, const torch::Tensor& t, const torch::Tensor& noise) const;

 private:
  int64_t steps_;
  std::string kind_;
  torch::Tensor betas_, abar_;
  std::vector<double> abar_acc_;
};

}  // namespace cadcrafter::learn
