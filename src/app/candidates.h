// Where candidate CAD sequences come from. reconstruct asks a CandidateSource for a pool of
// proposals, checks every one with the kernel and ranks them by agreement with the inputs.
//
// - ProceduralSearch: analysis by synthesis without any learned generator: parts drawn from
//   the procedural generator (data/generator.h) for seeds derived from the run's seed; the
//   ranking keeps those that best explain the input views. It is the fallback while no
//   trained latent-diffusion model is shipped, and it is labelled as such in run.json and
//   index.md: its candidates are retrieved from a family of simple parts, not generated from
//   the photo.
// - RetrievalSource: the nearest known parts (F360 train + generated) to the inputs' contrastive
//   image features, from a shipped part index (learn/inference/part_index.h, models/retrieval).
// - PooledSource: several sources side by side (retrieval + diffusion in `auto`); every proposal
//   keeps its source's label in its origin, so index.json says which source won.
// - LatentDiffusionSource: the method itself. The views' depth/normal maps condition the
//   latent diffusion model, whose latents the autoencoder decodes into sequences
//   (learn/inference/cad_generator.h). Used whenever a diffusion model is present (models/diffusion).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/view_maps.h"
#include "cad/cad_model.h"
#include "cad/cad_vec.h"
#include "util/status.h"

namespace cadcrafter::app {

struct Proposal {
  CadModel model;
  std::string origin;        // e.g. "procedural seed 1234 (plate)"
  CadVec vec;                // the generated DeepCAD vector, when the source made one
  std::string decode_error;  // why `vec` is not a CAD model (then `model` is empty)
  // The source's own belief that this is the part, in [-1, 1], when it has one (retrieval: the
  // cosine similarity of the part's indexed image features to the inputs'); see
  // ReconstructParams::prior_weight.
  bool has_prior = false;
  double prior = 0;
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

struct LatentDiffusionOptions {
  std::string run_dir;       // a diffusion run (models/diffusion)
  int steps = 0;             // sampler steps; 0 = the run's own
  // Sampling is cheap and checking is not, but many samples do not build (docs/models.md):
  // draw a pool several times the candidates wanted.
  int proposals_per_sample = 3;
  int min_pool = 16;
  // For a retrieval-augmented model (learn/networks/latent_diffusion.h): the part index its
  // neighbours come from (models/retrieval; it must use the model's backbone). Each neighbour is
  // built, turned to face the first view (agreement.h facing_quarter_turns) and handed to the
  // generator. "" or a model without neighbours: generation from the views alone.
  std::string index_dir;
};
// Fails when the run cannot be loaded (missing weights, or an autoencoder/backbone it names), or
// when index_dir is set for a retrieval-augmented model and the index cannot be loaded.
Result<std::unique_ptr<CandidateSource>> make_latent_diffusion(const LatentDiffusionOptions& options);

struct RetrievalSourceOptions {
  std::string index_dir;     // a part index (models/retrieval)
  // Retrieved parts always build and cost one check + pose search each (~40 ms): take the 16
  // nearest at least, since the ranking by agreement often prefers one past the first few.
  int proposals_per_sample = 4;
  int min_pool = 16;
};
// Fails when the index or its backbone cannot be loaded.
Result<std::unique_ptr<CandidateSource>> make_retrieval_source(const RetrievalSourceOptions& options);

// Proposals of every source, concatenated in the given order; pool_size is the sum.
std::unique_ptr<CandidateSource> make_pooled_source(std::vector<std::unique_ptr<CandidateSource>> sources);

// The source that made a proposal, from its origin ("retrieval", "diffusion", "procedural").
std::string proposal_source(const Proposal& p);

}  // namespace cadcrafter::app
