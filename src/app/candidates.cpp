#include "app/candidates.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "app/facing.h"
#include "app/sha256.h"
#include "data/generator.h"
#include "learn/inference/cad_generator.h"
#include "learn/inference/part_index.h"

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

class LatentDiffusionSource : public CandidateSource {
 public:
  LatentDiffusionSource(const LatentDiffusionOptions& options, learn::CadGenerator generator,
                        std::optional<learn::PartIndex> index)
      : options_(options), generator_(std::move(generator)), index_(std::move(index)) {}
  std::string name() const override { return "latent-diffusion"; }
  nlohmann::json describe() const override {
    nlohmann::json weights = nlohmann::json::array();
    for (const auto& file : generator_.weight_files()) {
      auto sha = sha256_file(file);
      weights.push_back({{"path", file}, {"sha256", sha ? *sha : std::string("unreadable")}});
    }
    return {{"name", name()},
            {"learned", true},
            {"note", "candidates sampled from the latent diffusion model conditioned on the inputs' depth and normals, "
                     "decoded by the CAD autoencoder"},
            {"generator", generator_.describe()},
            {"steps", options_.steps > 0 ? options_.steps : generator_.default_steps()},
            {"proposals_per_sample", options_.proposals_per_sample},
            {"min_pool", options_.min_pool},
            {"neighbours_from", index_ ? index_->describe() : nlohmann::json(nullptr)},
            {"weights", weights}};
  }
  int pool_size(int samples) const override {
    return std::max(options_.min_pool, samples * options_.proposals_per_sample);
  }
  Result<std::vector<Proposal>> propose(const std::vector<ViewMaps>& views, int count, uint64_t seed) override {
    std::vector<learn::GeometryMaps> maps;
    for (const auto& v : views) {
      if (static_cast<int>(maps.size()) == generator_.max_views()) break;
      maps.push_back({v.size, v.depth, v.normal, v.mask});
    }
    auto neighbours = faced_neighbours(maps, views.front());
    if (!neighbours) return neighbours.error();
    auto vecs = generator_.generate(maps, count, seed, options_.steps, *neighbours);
    if (!vecs) return vecs.error();
    std::vector<Proposal> out;
    for (size_t k = 0; k < vecs->size(); ++k) {
      Proposal p;
      p.vec = (*vecs)[k];
      p.origin = "latent diffusion sample " + std::to_string(k) + " (seed " + std::to_string(seed) + ")" +
                 (neighbours->empty() ? std::string() : ", edited from " + std::to_string(neighbours->size()) + " retrieved part(s)");
      auto model = decode(p.vec);
      if (model) {
        p.model = std::move(*model);
        p.model.id = "diffusion_" + std::to_string(k);
      } else {
        p.decode_error = "the generated sequence is not a CAD model: " + model.error().message;
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  // The retrieval-augmented model's neighbours: the nearest indexed parts to the views, each
  // turned to face the first view as reconstruct turns its answers (parts that do not build are
  // skipped). Empty for a model without neighbours or without an index.
  Result<std::vector<CadVec>> faced_neighbours(const std::vector<learn::GeometryMaps>& maps, const ViewMaps& first) const {
    std::vector<CadVec> out;
    if (!index_ || generator_.neighbours() <= 0) return out;
    auto parts = index_->nearest(maps, generator_.neighbours());
    if (!parts) return parts.error();
    for (const auto& part : *parts) {
      FacedVec faced = face_view(part.vec, first);
      if (faced.valid) out.push_back(std::move(faced.vec));
    }
    return out;
  }

 private:
  LatentDiffusionOptions options_;
  learn::CadGenerator generator_;
  std::optional<learn::PartIndex> index_;
};

}  // namespace

Result<std::unique_ptr<CandidateSource>> make_latent_diffusion(const LatentDiffusionOptions& options) {
  auto generator = learn::CadGenerator::load(options.run_dir);
  if (!generator) return generator.error();
  std::optional<learn::PartIndex> index;
  if (generator->neighbours() > 0 && !options.index_dir.empty()) {
    auto loaded = learn::PartIndex::load(options.index_dir);
    if (!loaded)
      return Result<std::unique_ptr<CandidateSource>>::fail(
          loaded.error().code, "the retrieval-augmented diffusion model's part index: " + loaded.error().message);
    index = std::move(*loaded);
  }
  std::unique_ptr<CandidateSource> source =
      std::make_unique<LatentDiffusionSource>(options, std::move(*generator), std::move(index));
  return source;
}

namespace {

class RetrievalSource : public CandidateSource {
 public:
  RetrievalSource(RetrievalSourceOptions options, learn::PartIndex index) : options_(std::move(options)), index_(std::move(index)) {}
  std::string name() const override { return "retrieval"; }
  nlohmann::json describe() const override {
    return {{"name", name()},
            {"learned", true},
            {"note", "the known parts (part index) whose contrastive image features are nearest to the inputs': "
                     "to all views together and, with several photos, to each view alone, interleaved"},
            {"index", index_.describe()},
            {"weights", index_.weight_files()},
            {"proposals_per_sample", options_.proposals_per_sample},
            {"min_pool", options_.min_pool}};
  }
  int pool_size(int samples) const override { return std::max(options_.min_pool, samples * options_.proposals_per_sample); }
  Result<std::vector<Proposal>> propose(const std::vector<ViewMaps>& views, int count, uint64_t) override {
    std::vector<learn::GeometryMaps> maps;
    for (const auto& v : views) maps.push_back({v.size, v.depth, v.normal, v.mask});
    // The photos' relative poses are unknown and one poorly estimated view can pull the joint
    // embedding towards another kind of part, so the pool takes turns between the neighbours of
    // all views together and those of each view alone; the agreement with every view ranks them.
    auto found = index_.nearest_joint_and_each(maps, count);
    if (!found) return found.error();
    std::vector<std::vector<learn::RetrievedPart>>& lists = *found;
    std::vector<learn::RetrievedPart> parts;
    std::vector<int64_t> taken;
    for (size_t rank = 0; static_cast<int>(parts.size()) < count && rank < static_cast<size_t>(count); ++rank) {
      for (auto& list : lists) {
        if (rank >= list.size() || static_cast<int>(parts.size()) >= count) continue;
        if (std::find(taken.begin(), taken.end(), list[rank].index) != taken.end()) continue;
        taken.push_back(list[rank].index);
        parts.push_back(std::move(list[rank]));
      }
    }
    std::vector<Proposal> out;
    for (auto& part : parts) {
      Proposal p;
      p.vec = part.vec;
      char sim[32];
      std::snprintf(sim, sizeof sim, "%.3f", part.similarity);
      p.origin = "retrieval: " + part.id + " (similarity " + sim + ")";
      p.has_prior = true;
      p.prior = part.similarity;
      auto model = decode(p.vec);
      if (model) {
        p.model = std::move(*model);
        p.model.id = part.id;
      } else {
        p.decode_error = "the indexed sequence is not a CAD model: " + model.error().message;
      }
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  RetrievalSourceOptions options_;
  learn::PartIndex index_;
};

class PooledSource : public CandidateSource {
 public:
  explicit PooledSource(std::vector<std::unique_ptr<CandidateSource>> sources) : sources_(std::move(sources)) {}
  std::string name() const override {
    std::string n;
    for (const auto& s : sources_) n += (n.empty() ? "" : "+") + s->name();
    return n;
  }
  nlohmann::json describe() const override {
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& s : sources_) parts.push_back(s->describe());
    return {{"name", name()}, {"learned", true}, {"note", "proposals of several sources ranked together"}, {"sources", parts}};
  }
  int pool_size(int samples) const override {
    int n = 0;
    for (const auto& s : sources_) n += s->pool_size(samples);
    return n;
  }
  Result<std::vector<Proposal>> propose(const std::vector<ViewMaps>& views, int count, uint64_t seed) override {
    // Each source gets its own share: its pool size scaled to `count`.
    const int total = std::max(1, pool_size(1));
    std::vector<Proposal> out;
    for (size_t i = 0; i < sources_.size(); ++i) {
      const int share = i + 1 == sources_.size() ? std::max(1, count - static_cast<int>(out.size()))
                                                  : std::max(1, count * sources_[i]->pool_size(1) / total);
      auto got = sources_[i]->propose(views, share, seed);
      if (!got) return got.error();
      for (auto& p : *got) out.push_back(std::move(p));
    }
    return out;
  }

 private:
  std::vector<std::unique_ptr<CandidateSource>> sources_;
};

}  // namespace

Result<std::unique_ptr<CandidateSource>> make_retrieval_source(const RetrievalSourceOptions& options) {
  auto index = learn::PartIndex::load(options.index_dir);
  if (!index) return index.error();
  std::unique_ptr<CandidateSource> source = std::make_unique<RetrievalSource>(options, std::move(*index));
  return source;
}

std::unique_ptr<CandidateSource> make_pooled_source(std::vector<std::unique_ptr<CandidateSource>> sources) {
  return std::make_unique<PooledSource>(std::move(sources));
}

std::string proposal_source(const Proposal& p) {
  const std::string& o = p.origin;
  if (o.rfind("retrieval", 0) == 0) return "retrieval";
  if (o.rfind("latent diffusion", 0) == 0) return "diffusion";
  return "procedural";
}

std::unique_ptr<CandidateSource> make_procedural_search(const ProceduralSearchOptions& options) {
  return std::make_unique<ProceduralSearch>(options);
}

}  // namespace cadcrafter::app
