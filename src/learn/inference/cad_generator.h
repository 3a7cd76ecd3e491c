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

  // How many retrieved parts a retrieval-augmented model takes (0: it takes none).
  int neighbours() const;

  // `count` sequences for the views; deterministic for (views, count, seed, steps, neighbours).
  // steps <= 0: the run's own sampler step count. `neighbours`: for a retrieval-augmented model,
  // known parts near the views (nearest first), each already turned into the frame of the first
  // view (app/agreement.h facing_quarter_turns); ignored by other models, and a retrieval-augmented
  // model without them generates from the views alone. Decoded vectors may still fail to build.
  Result<std::vector<CadVec>> generate(const std::vector<GeometryMaps>& views, int count, uint64_t seed,
                                       int steps = 0, const std::vector<CadVec>& neighbours = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cadcrafter::learn
