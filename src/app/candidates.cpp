#include "app/candidates.h"

#include <algorithm>

#include "data/generator.h"

namespace cadcrafter::app {

namespace {

class ProceduralSearch : public CandidateSource {
 public:
  explicit ProceduralSearch(const ProceduralSearchOptions& options) : options_(options) {}
  std::string name() const override { return "procedural-search"; }
  nlohmann::json describe() const override {
    return {{"name", name()},
            {"learned", false},
            {"note", "no latent-diffusion model is shipped: candidates are procedurally generated parts ranked by "
                     "agreement with the estimated depth/normal/mask of the inputs"},
            {"proposals_per_sample", options_.proposals_per_sample},
            {"min_pool", options_.min_pool},
            {"complexity", options_.complexity}};
  }
  int pool_size(int samples) const override {
    return std::max(options_.min_pool, samples * options_.proposals_per_sample);
  }
  Result<std::vector<Proposal>> propose(const std::vector<ViewMaps>&, int count, uint64_t seed) override {
    GeneratorOptions generator;
    generator.complexity = options_.complexity;
    std::vector<Proposal> out;
    for (int k = 0; k < count; ++k) {
      const uint64_t model_seed = derive_seed(seed, static_cast<uint64_t>(k), 0);
      PartFamily family = PartFamily::kPrism;
      Proposal p;
      p.model = generate_model(generator, model_seed, &family);
      p.model.id = "procedural_" + std::to_string(k);
      p.origin = "procedural seed " + std::to_string(model_seed) + " (" + part_family_name(family) + ")";
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  ProceduralSearchOptions options_;
};

}  // namespace

std::unique_ptr<CandidateSource> make_procedural_search(const ProceduralSearchOptions& options) {
  return std::make_unique<ProceduralSearch>(options);
}

}  // namespace cadcrafter::app
