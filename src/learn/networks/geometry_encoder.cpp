#include "learn/networks/geometry_encoder.h"

namespace cadcrafter::learn {

void to_json(nlohmann::json& j, const GeometryEncoderOptions& o) {
  j = {{"feature_dim", o.feature_dim}, {"modalities", o.modalities}, {"d_model", o.d_model}, {"n_heads", o.n_heads},
       {"ff_dim", o.ff_dim},           {"layers", o.layers},         {"dropout", o.dropout}};
}

void from_json(const nlohmann::json& j, GeometryEncoderOptions& o) {
  o.feature_dim = j.value("feature_dim", o.feature_dim);
  o.modalities = j.value("modalities", o.modalities);
  o.d_model = j.value("d_model", o.d_model);
  o.n_heads = j.value("n_heads", o.n_heads);
  o.ff_dim = j.value("ff_dim", o.ff_dim);
  o.layers = j.value("layers", o.layers);
  o.dropout = j.value("dropout", o.dropout);
}

GeometryEncoderImpl::GeometryEncoderImpl(const GeometryEncoderOptions& o) : options_(o) {
  project_ = register_module("project", torch::nn::Linear(o.feature_dim, o.d_model));
  modality_ = register_module("modality", torch::nn::Embedding(o.modalities, o.d_model));
  for (int64_t i = 0; i < o.layers; ++i)
    blocks_->push_back(PreLnBlock(BlockOptions{o.d_model, o.n_heads, o.ff_dim, o.dropout, 0}));
  register_module("blocks", blocks_);
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.d_model})));
}

GeometryEncoding GeometryEncoderImpl::forward(const torch::Tensor& features, const torch::Tensor& view_present) {
  TORCH_CHECK(features.dim() == 4 && features.size(2) == options_.modalities && features.size(3) == options_.feature_dim,
              "geometry encoder: expected features [B, V, ", options_.modalities, ", ", options_.feature_dim, "]");
  const int64_t batch = features.size(0), views = features.size(1), mods = features.size(2);
  auto modality_ids = torch::arange(mods, features.options().dtype(torch::kLong));
  auto tokens = project_(features) + modality_(modality_ids).view({1, 1, mods, -1});  // [B, V, M, d]
  tokens = tokens.reshape({batch, views * mods, options_.d_model});
  // RoPE position of a token = its view index (both modalities of a view share it).
  auto view_index = torch::arange(views, features.options()).repeat_interleave(mods).unsqueeze(0).expand({batch, views * mods});
  torch::Tensor padding;
  if (view_present.defined())
    padding = view_present.logical_not().unsqueeze(-1).expand({batch, views, mods}).reshape({batch, views * mods});
  for (auto& block : *blocks_) tokens = block->as<PreLnBlock>()->forward(tokens, padding, false, {}, view_index);
  tokens = norm_(tokens);
  auto keep = padding.defined() ? padding.logical_not() : torch::ones({batch, views * mods}, features.options().dtype(torch::kBool));
  return {masked_mean(tokens, keep), tokens, padding.defined() ? padding : keep.logical_not()};
}

torch::Tensor cosine_distillation_loss(const torch::Tensor& student, const torch::Tensor& teacher) {
  return (1.0 - torch::cosine_similarity(student, teacher.detach(), 1)).mean();
}

}  // namespace cadcrafter::learn
