#include "learn/networks/latent_diffusion.h"

#include <algorithm>
#include <cmath>

namespace cadcrafter::learn {

void to_json(nlohmann::json& j, const LatentDenoiserOptions& o) {
  j = {{"z_dim", o.z_dim},   {"cond_dim", o.cond_dim}, {"d_model", o.d_model},
       {"n_heads", o.n_heads}, {"ff_dim", o.ff_dim},   {"layers", o.layers},
       {"use_view_tokens", o.use_view_tokens}, {"dropout", o.dropout},
       {"neighbours", o.neighbours}, {"neighbour_residual", o.neighbour_residual}};
}

void from_json(const nlohmann::json& j, LatentDenoiserOptions& o) {
  o.z_dim = j.value("z_dim", o.z_dim);
  o.cond_dim = j.value("cond_dim", o.cond_dim);
  o.d_model = j.value("d_model", o.d_model);
  o.n_heads = j.value("n_heads", o.n_heads);
  o.ff_dim = j.value("ff_dim", o.ff_dim);
  o.layers = j.value("layers", o.layers);
  o.use_view_tokens = j.value("use_view_tokens", o.use_view_tokens);
  o.dropout = j.value("dropout", o.dropout);
  o.neighbours = j.value("neighbours", o.neighbours);
  o.neighbour_residual = j.value("neighbour_residual", o.neighbour_residual);
}

torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  auto freqs = torch::exp(-std::log(10000.0) * torch::arange(half, t.options().dtype(torch::kFloat)) / static_cast<double>(half));
  auto args = t.to(torch::kFloat).unsqueeze(-1) * freqs.unsqueeze(0);
  auto emb = torch::cat({args.cos(), args.sin()}, -1);
  if (dim % 2) emb = torch::cat({emb, torch::zeros({t.size(0), 1}, emb.options())}, -1);
  return emb;
}

LatentDenoiserImpl::LatentDenoiserImpl(const LatentDenoiserOptions& o) : options_(o) {
  z_in_ = register_module("z_in", torch::nn::Linear(o.z_dim, o.d_model));
  time_in_ = register_module("time_in", torch::nn::Linear(o.d_model, o.d_model));
  time_hidden_ = register_module("time_hidden", torch::nn::Linear(o.d_model, o.d_model));
  cond_in_ = register_module("cond_in", torch::nn::Linear(o.cond_dim, o.d_model));
  if (o.use_view_tokens) view_in_ = register_module("view_in", torch::nn::Linear(o.cond_dim, o.d_model));
  role_ = register_module("role", torch::nn::Embedding(o.neighbours > 0 ? 5 : 4, o.d_model));
  if (o.neighbours > 0) {
    neighbour_in_ = register_module("neighbour_in", torch::nn::Linear(o.z_dim, o.d_model));
    neighbour_rank_ = register_module("neighbour_rank", torch::nn::Embedding(o.neighbours, o.d_model));
  }
  for (int64_t i = 0; i < o.layers; ++i)
    blocks_->push_back(PreLnBlock(BlockOptions{o.d_model, o.n_heads, o.ff_dim, o.dropout, 0}));
  register_module("blocks", blocks_);
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.d_model})));
  head_ = register_module("head", torch::nn::Linear(o.d_model, o.z_dim));
}

torch::Tensor LatentDenoiserImpl::forward(const torch::Tensor& z_t, const torch::Tensor& t, const torch::Tensor& condition,
                                          const torch::Tensor& view_tokens, const torch::Tensor& view_padding,
                                          const torch::Tensor& neighbours, const torch::Tensor& neighbour_padding) {
  const int64_t batch = z_t.size(0);
  const auto flags = z_t.options().dtype(torch::kBool);
  auto roles = role_->weight;
  auto time = time_hidden_(torch::silu(time_in_(timestep_embedding(t, options_.d_model))));
  std::vector<torch::Tensor> tokens = {(z_in_(z_t) + roles[0]).unsqueeze(1), (time + roles[1]).unsqueeze(1),
                                       (cond_in_(condition) + roles[2]).unsqueeze(1)};
  std::vector<torch::Tensor> paddings = {torch::zeros({batch, 3}, flags)};
  bool any_padding = false;
  if (options_.use_view_tokens && view_tokens.defined()) {
    tokens.push_back(view_in_(view_tokens) + roles[3]);
    paddings.push_back(view_padding.defined() ? view_padding : torch::zeros({batch, view_tokens.size(1)}, flags));
    any_padding = true;
  }
  torch::Tensor residual;
  if (options_.neighbours > 0 && neighbours.defined() && neighbours.size(1) > 0) {
    const int64_t k = std::min(neighbours.size(1), options_.neighbours);
    auto nb = neighbours.narrow(1, 0, k);
    auto nb_padding = neighbour_padding.defined() ? neighbour_padding.narrow(1, 0, k) : torch::zeros({batch, k}, flags);
    tokens.push_back(neighbour_in_(nb) + roles[4] + neighbour_rank_->weight.narrow(0, 0, k).unsqueeze(0));
    paddings.push_back(nb_padding);
    any_padding = true;
    if (options_.neighbour_residual)
      residual = nb.select(1, 0) * nb_padding.select(1, 0).logical_not().unsqueeze(1).to(nb.dtype());
  }
  auto x = torch::cat(tokens, 1);
  const torch::Tensor padding = any_padding ? torch::cat(paddings, 1) : torch::Tensor();
  for (auto& block : *blocks_) x = block->as<PreLnBlock>()->forward(x, padding);
  auto out = head_(norm_(x.select(1, 0)));
  return residual.defined() ? out + residual : out;
}

}  // namespace cadcrafter::learn
