// Where candidate CAD sequences come from. reconstruct asks a CandidateSource for a pool of
// proposals, checks every one with the kernel and ranks them by agreement with the inputs.
//
// - ProceduralSearch: analysis by synthesis without any learned generator: parts drawn from
//   the procedural generator (data/generator.h) for seeds derived from the run's seed; the
//   ranking keeps those that best explain the input views. It is the fallback while no
//   trained latent-diffusion model is shipped, and it is labelled as such in run.json and
//   index.md: its candidates are retrieved from a family of simple parts, not generated from
//   the photo.
// - A diffusion source (condition -> latents -> AE decoder -> sequences) plugs in through the
//   same interface once learn/ ships a sampler and weights.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/view_maps.h"
#include "cad/cad_model.h"
#include "cad/status.h"

namespace cadcrafter::app {

struct Proposal {
  CadModel model;
  std::string origin;  // e.g. "procedural seed 1234 (plate)"
};

class CandidateSource {
 public:
  virtual ~CandidateSource() = default;
  virtual std::string name() const = 0;
  virtual nlohmann::json describe() const = 0;
  // How many proposals to draw so that `samples` candidates can be written.
  virtual int pool_size(int samples) const = 0;
  // Deterministic for (views, count, seed).
  virtual Result<std::vector<Proposal>> propose(const std::vector<ViewMaps>& views, int count, uint64_t seed) = 0;
};

struct ProceduralSearchOptions {
  int proposals_per_sample = 4;
  int min_pool = 16;
  int complexity = 2;  // GeneratorOptions::complexity
};
std::unique_ptr<CandidateSource> make_procedural_search(const ProceduralSearchOptions& options = {});

}  // namespace cadcrafter::app
