// Samplers for the latent diffusion model, apart from the network (any denoiser that
// predicts z_0 from (z_t, t) will do). Both start from N(0, I) drawn from a generator seeded
// with `seed`, so the same seed, condition and network give the same latents.
//
// DDPM (Ho et al. 2020): ancestral sampling through the chosen timesteps with the posterior
//   q(z_{t'} | z_t, z0_hat), t' the previous chosen step (all T steps = the original DDPM;
//   fewer = the "respaced" sampler of Nichol & Dhariwal, betas recomputed from abar).
// DDIM (Song et al. 2021): z_{t'} = sqrt(abar_t') z0_hat + sqrt(1 - abar_t' - sigma^2) eps_hat
//   + sigma noise, sigma = eta * sqrt((1-abar_t')/(1-abar_t) * (1 - abar_t/abar_t')); eta = 0 is
//   deterministic.
// The predicted z_0 is clamped to [-1, 1] (the autoencoder's tanh range) at every step.
#pragma once

#include <torch/torch.h>

#include <functional>

#include "learn/networks/noise_schedule.h"

namespace cadcrafter::learn {

// (z_t [B, D], t [B] int64) -> predicted z_0 [B, D].
using Denoiser = std::function<torch::Tensor(const torch::Tensor& z_t, const torch::Tensor& t)>;

struct SamplerOptions {
  int64_t steps = 50;   // sampling steps, evenly spaced over the T training steps
  double eta = 0.0;     // DDIM only
  uint64_t seed = 0;
  bool clamp = true;
};

// Evenly spaced timesteps, descending, always including T-1 and 0.
std::vector<int64_t> sampling_timesteps(int64_t train_steps, int64_t steps);

torch::Tensor sample_ddpm(const Denoiser& denoiser, const NoiseSchedule& schedule, int64_t batch, int64_t dim,
                          const SamplerOptions& options, const torch::Device& device = torch::kCPU);
torch::Tensor sample_ddim(const Denoiser& denoiser, const NoiseSchedule& schedule, int64_t batch, int64_t dim,
                          const SamplerOptions& options, const torch::Device& device = torch::kCPU);

}  // namespace cadcrafter::learn
