#include "learn/inference/cad_generator.h"

#include <torch/torch.h>

#include <filesystem>
#include <tuple>

#include "learn/training/condition_trainer.h"

namespace cadcrafter::learn {
namespace fs = std::filesystem;

struct CadGenerator::Impl {
  std::string run_dir;
  LoadedDiffusion model;
};

CadGenerator::CadGenerator() : impl_(std::make_unique<Impl>()) {}
CadGenerator::~CadGenerator() = default;
CadGenerator::CadGenerator(CadGenerator&&) noexcept = default;
CadGenerator& CadGenerator::operator=(CadGenerator&&) noexcept = default;

Result<CadGenerator> CadGenerator::load(const std::string& diffusion_run) {
  if (!fs::is_directory(diffusion_run))
    return Result<CadGenerator>::fail(ErrorCode::kIo, diffusion_run + ": no such diffusion run folder");
  auto loaded = load_diffusion(diffusion_run, torch::kCPU);
  if (!loaded) return loaded.error();
  CadGenerator g;
  g.impl_->run_dir = diffusion_run;
  g.impl_->model = std::move(*loaded);
  return g;
}

int CadGenerator::max_views() const { return static_cast<int>(impl_->model.config.diffusion.max_views); }
int CadGenerator::default_steps() const { return static_cast<int>(impl_->model.config.diffusion.sample_steps); }

int CadGenerator::neighbours() const { return static_cast<int>(impl_->model.prior->neighbours()); }

std::vector<std::string> CadGenerator::weight_files() const { return impl_->model.weight_files; }

nlohmann::json CadGenerator::describe() const {
  const auto& d = impl_->model.config.diffusion;
  return {{"run", impl_->run_dir},
          {"sampler", d.sampler},
          {"sample_steps", d.sample_steps},
          {"max_views", d.max_views},
          {"command_decoding", decoding_name(CommandDecoding::kGrammar)},
          {"z_dim", impl_->model.autoencoder->options().z_dim},
          {"neighbours", impl_->model.prior->neighbours()}};
}

Result<std::vector<CadVec>> CadGenerator::generate(const std::vector<GeometryMaps>& views, int count, uint64_t seed,
                                                   int steps, const std::vector<CadVec>& neighbours) const {
  auto& m = impl_->model;
  const int64_t max_views = m.config.diffusion.max_views;
  if (views.empty() || static_cast<int64_t>(views.size()) > max_views)
    return Result<std::vector<CadVec>>::fail(ErrorCode::kInvalidArgument,
                                             "the generator takes 1 to " + std::to_string(max_views) + " views (got " +
                                                 std::to_string(views.size()) + ")");
  if (count < 1) return std::vector<CadVec>{};
  for (const auto& v : views)
    if (v.size < 8 || v.depth.size() != static_cast<size_t>(v.size) * v.size ||
        v.normal.size() != static_cast<size_t>(v.size) * v.size * 3 || v.mask.size() != static_cast<size_t>(v.size) * v.size)
      return Result<std::vector<CadVec>>::fail(ErrorCode::kInvalidArgument, "generator: inconsistent view maps");
  torch::NoGradGuard no_grad;
  auto f = features_of_maps(m.backbone, views);  // [V, 2, F]
  const int64_t v = f.size(0);
  auto features = torch::zeros({count, max_views, 2, f.size(2)});
  features.narrow(1, 0, v).copy_(f.unsqueeze(0).expand({count, v, 2, f.size(2)}));
  auto present = torch::zeros({count, max_views}, torch::kBool);
  present.narrow(1, 0, v).fill_(true);
  torch::Tensor nb, nb_padding;
  if (m.prior->neighbours() > 0 && !neighbours.empty()) {
    std::vector<VecRows> parts;
    for (const auto& v : neighbours) parts.emplace_back(v.begin(), v.end());
    std::tie(nb, nb_padding) = neighbour_latents(m, {parts}, torch::kCPU);
    nb = nb.expand({count, nb.size(1), nb.size(2)}).contiguous();
    nb_padding = nb_padding.expand({count, nb_padding.size(1)}).contiguous();
    // Sample b edits retrieved part b mod K, as eval's samples do: not all edits of one part.
    std::vector<int64_t> turns(static_cast<size_t>(count));
    for (int b = 0; b < count; ++b) turns[static_cast<size_t>(b)] = b;
    std::tie(nb, nb_padding) = lead_neighbours(nb, nb_padding, turns);
  }
  auto z = sample_latents(m, features, present, seed, torch::kCPU, steps, nb, nb_padding);
  auto decoded = m.autoencoder->decode(z, kMaxSeqLen);
  // Grammar-constrained: a user gets sequences that are well formed (cad_tokens.h).
  auto rows = logits_to_vecs(decoded.command_logits, decoded.args_logits, CommandDecoding::kGrammar);
  std::vector<CadVec> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.emplace_back(r.begin(), r.end());
  return out;
}

}  // namespace cadcrafter::learn
