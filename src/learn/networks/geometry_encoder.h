// CADCrafter's geometry encoder: turns per-image features of the conditioning views into one
// condition vector f.
//
// One token per (view, modality) feature: a linear projection of the backbone feature plus a
// learnable modality embedding (depth / normal). Views carry no learned position: attention
// uses rotary position embedding over the view index (RoPE), so the encoder sees relative
// view order and works for any number of views up to the training maximum. Pre-LN
// transformer layers; f = mean of the output tokens over the present views.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "learn/networks/layers.h"

namespace cadcrafter::learn {

struct GeometryEncoderOptions {
  int64_t feature_dim = 256;  // backbone feature size
  int64_t modalities = 2;     // depth, normal
  int64_t d_model = 256;
  int64_t n_heads = 8;
  int64_t ff_dim = 512;
  int64_t layers = 2;
  double dropout = 0.0;
};
void to_json(nlohmann::json& j, const GeometryEncoderOptions& o);
void from_json(const nlohmann::json& j, GeometryEncoderOptions& o);

struct GeometryEncoding {
  torch::Tensor condition;  // [B, d_model]: f
  torch::Tensor tokens;     // [B, V * M, d_model]: per-view tokens (optional extra condition)
  torch::Tensor padding;    // [B, V * M] bool, true for absent views
};

class GeometryEncoderImpl : public torch::nn::Module {
 public:
  explicit GeometryEncoderImpl(const GeometryEncoderOptions& options = {});
  // features [B, V, M, F]; view_present [B, V] bool (undefined = all present).
  GeometryEncoding forward(const torch::Tensor& features, const torch::Tensor& view_present = {});
  const GeometryEncoderOptions& options() const { return options_; }

 private:
  GeometryEncoderOptions options_;
  torch::nn::Linear project_{nullptr};
  torch::nn::Embedding modality_{nullptr};
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(GeometryEncoder);

// The multi-view -> single-view distillation loss of the paper: 1 - cos(f_student, f_teacher),
// averaged over the batch (the teacher is detached).
torch::Tensor cosine_distillation_loss(const torch::Tensor& student, const torch::Tensor& teacher);

}  // namespace cadcrafter::learn
