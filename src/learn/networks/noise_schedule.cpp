#include "learn/networks/noise_schedule.h"

#include <cmath>
#include <stdexcept>

namespace cadcrafter::learn {

NoiseSchedule::NoiseSchedule(int64_t steps, const std::string& kind) : steps_(steps), kind_(kind) {
  if (steps < 2) throw std::invalid_argument("noise schedule needs at least 2 steps");
  std::vector<double> betas(static_cast<size_t>(steps));
  if (kind == "linear") {
    // Scaled so that T = 1000 gives exactly DDPM's 1e-4 .. 0.02.
    const double scale = 1000.0 / static_cast<double>(steps);
    for (int64_t t = 0; t < steps; ++t)
      betas[static_cast<size_t>(t)] = scale * (1e-4 + (0.02 - 1e-4) * static_cast<double>(t) / static_cast<double>(steps - 1));
  } else if (kind == "cosine") {
    auto f = [&](double t) {
      const double x = (t / static_cast<double>(steps) + 0.008) / 1.008 * M_PI / 2.0;
      return std::cos(x) * std::cos(x);
    };
    for (int64_t t = 0; t < steps; ++t)
      betas[static_cast<size_t>(t)] = std::min(0.999, 1.0 - f(static_cast<double>(t + 1)) / f(static_cast<double>(t)));
  } else {
    throw std::invalid_argument("noise schedule must be 'linear' or 'cosine', got '" + kind + "'");
  }
  double prod = 1.0;
  for (double b : betas) {
    prod *= 1.0 - b;
    abar_acc_.push_back(prod);
  }
  betas_ = torch::tensor(betas, torch::kDouble);
  abar_ = torch::tensor(abar_acc_, torch::kDouble);
}

torch::Tensor NoiseSchedule::add_noise(const torch::Tensor& z0, const torch::Tensor& t, const torch::Tensor& noise) const {
  auto abar = abar_.to(z0.device()).index({t}).to(z0.dtype()).unsqueeze(-1);
  return abar.sqrt() * z0 + (1.0 - abar).sqrt() * noise;
}

}  // namespace cadcrafter::learn
