#include "learn/networks/samplers.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

namespace cadcrafter::learn {

std::vector<int64_t> sampling_timesteps(int64_t train_steps, int64_t steps) {
  steps = std::clamp<int64_t>(steps, 1, train_steps);
  std::vector<int64_t> ts;
  for (int64_t i = 0; i < steps; ++i) {
    const double pos = steps == 1 ? 0.0 : static_cast<double>(i) * static_cast<double>(train_steps - 1) / static_cast<double>(steps - 1);
    ts.push_back(static_cast<int64_t>(std::llround(pos)));
  }
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  std::reverse(ts.begin(), ts.end());
  return ts;
}

namespace {

torch::Tensor standard_normal(int64_t batch, int64_t dim, at::Generator& gen, const torch::Device& device) {
  // Drawn on the CPU from our own generator, so results do not depend on the device's RNG.
  return at::normal(0.0, 1.0, {batch, dim}, gen).to(device);
}

// Shared loop: `step(z, t, t_prev, z0_hat, eps_hat, gen)` returns z_{t_prev}.
template <typename Step>
torch::Tensor run_sampler(const Denoiser& denoiser, const NoiseSchedule& schedule, int64_t batch, int64_t dim,
                          const SamplerOptions& options, const torch::Device& device, Step step) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(options.seed);
  auto z = standard_normal(batch, dim, gen, device);
  const auto ts = sampling_timesteps(schedule.steps(), options.steps);
  for (size_t i = 0; i < ts.size(); ++i) {
    const int64_t t = ts[i];
    const int64_t t_prev = i + 1 < ts.size() ? ts[i + 1] : -1;
    auto t_batch = torch::full({batch}, t, torch::TensorOptions().dtype(torch::kLong).device(device));
    auto z0 = denoiser(z, t_batch);
    if (options.clamp) z0 = z0.clamp(-1.0, 1.0);
    const double abar_t = schedule.abar(t);
    auto eps = (z - std::sqrt(abar_t) * z0) / std::sqrt(1.0 - abar_t);
    z = t_prev < 0 ? z0 : step(z, t, t_prev, z0, eps, gen);
  }
  return z;
}

}  // namespace

torch::Tensor sample_ddpm(const Denoiser& denoiser, const NoiseSchedule& schedule, int64_t batch, int64_t dim,
                          const SamplerOptions& options, const torch::Device& device) {
  return run_sampler(denoiser, schedule, batch, dim, options, device,
                     [&](const torch::Tensor& z, int64_t t, int64_t t_prev, const torch::Tensor& z0, const torch::Tensor&,
                         at::Generator& gen) {
                       const double abar_t = schedule.abar(t), abar_prev = schedule.abar(t_prev);
                       const double beta = 1.0 - abar_t / abar_prev;  // of the (respaced) step t -> t_prev
                       const double coef_z0 = std::sqrt(abar_prev) * beta / (1.0 - abar_t);
                       const double coef_zt = std::sqrt(1.0 - beta) * (1.0 - abar_prev) / (1.0 - abar_t);
                       const double var = beta * (1.0 - abar_prev) / (1.0 - abar_t);
                       return coef_z0 * z0 + coef_zt * z + std::sqrt(var) * standard_normal(z.size(0), z.size(1), gen, z.device());
                     });
}

torch::Tensor sample_ddim(const Denoiser& denoiser, const NoiseSchedule& schedule, int64_t batch, int64_t dim,
                          const SamplerOptions& options, const torch::Device& device) {
  return run_sampler(denoiser, schedule, batch, dim, options, device,
                     [&](const torch::Tensor&, int64_t t, int64_t t_prev, const torch::Tensor& z0, const torch::Tensor& eps,
                         at::Generator& gen) {
                       const double abar_t = schedule.abar(t), abar_prev = schedule.abar(t_prev);
                       const double sigma = options.eta * std::sqrt((1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev));
                       auto next = std::sqrt(abar_prev) * z0 + std::sqrt(std::max(0.0, 1.0 - abar_prev - sigma * sigma)) * eps;
                       if (sigma > 0.0) next = next + sigma * standard_normal(z0.size(0), z0.size(1), gen, z0.device());
                       return next;
                     });
}

}  // namespace cadcrafter::learn
