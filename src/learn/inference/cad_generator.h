// Image-conditioned CAD generation for the product layer, without LibTorch in the interface:
//
//   maps of 1..max_views views (photo_estimator.h: estimated, or loaded from files)
//   -> backbone features of each view's depth and normal (backbone_input.h)
//   -> geometry encoder condition -> latent diffusion (DDIM / DDPM, `steps` steps)
//   -> autoencoder decoder -> DeepCAD integer vectors (cad/cad_vec.h), one per candidate.
//
// The model is a diffusion run folder (`cadcrafter train diffusion`): its config.json names the
// autoencoder and backbone it was trained with (absolute paths, or paths relative to the run
// folder as in the shipped models/diffusion -> ../ae_small, ../backbone).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cad/cad_vec.h"
#include "util/status.h"
#include "learn/inference/photo_estimator.h"

namespace cadcrafter::learn {

class CadGenerator {
 public:
  static Result<CadGenerator> load(const std::string& diffusion_run);
  CadGenerator();
  ~CadGenerator();
  CadGenerator(CadGenerator&&) noexcept;
  CadGenerator& operator=(CadGenerator&&) noexcept;

  int max_views() const;
  int default_steps() const;
  // The weight files the generator read (diffusion, autoencoder, backbone), for checksums.
  std::vector<std::string> weight_files() const;
  nlohmann::json describe() const;

  // `count` sequences for the views; deterministic for (views, count, seed, steps). steps <= 0:
  // the run's own sampler step count. Decoded vectors may still fail to build a solid.
  Result<std::vector<CadVec>> generate(const std::vector<GeometryMaps>& views, int count, uint64_t seed,
                                       int steps = 0) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cadcrafter::learn
