#include "learn/networks/layers.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace cadcrafter::learn {

SelfAttentionImpl::SelfAttentionImpl(const AttentionOptions& options) : options_(options) {
  if (options.d_model % options.n_heads != 0) throw std::invalid_argument("d_model must be a multiple of n_heads");
  qkv_ = register_module("qkv", torch::nn::Linear(options.d_model, 3 * options.d_model));
  out_ = register_module("out", torch::nn::Linear(options.d_model, options.d_model));
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& positions) {
  const int64_t head_dim = x.size(-1);
  const int64_t half = head_dim / 2;
  auto freq = torch::exp(torch::arange(half, x.options()) * (-std::log(10000.0) * 2.0 / static_cast<double>(head_dim)));
  auto angle = positions.to(x.dtype()).unsqueeze(-1) * freq;  // [B, S, half]
  auto cos = angle.cos().unsqueeze(1), sin = angle.sin().unsqueeze(1);  // [B, 1, S, half]
  auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({x1 * cos - x2 * sin, x1 * sin + x2 * cos}, -1);
  if (2 * half == head_dim) return rotated;
  return torch::cat({rotated, x.narrow(-1, 2 * half, 1)}, -1);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& key_padding, bool causal,
                                         const torch::Tensor& rope_positions) {
  const int64_t batch = x.size(0), seq = x.size(1), heads = options_.n_heads;
  const int64_t head_dim = options_.d_model / heads;
  auto qkv = qkv_(x).view({batch, seq, 3, heads, head_dim}).permute({2, 0, 3, 1, 4});  // [3, B, H, S, Dh]
  auto q = qkv[0], k = qkv[1], v = qkv[2];
  if (rope_positions.defined()) {
    q = apply_rope(q, rope_positions);
    k = apply_rope(k, rope_positions);
  }
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim));  // [B, H, S, S]
  const double neg = -std::numeric_limits<float>::infinity();
  if (key_padding.defined()) scores = scores.masked_fill(key_padding.view({batch, 1, 1, seq}), neg);
  if (causal) {
    auto future = torch::ones({seq, seq}, x.options().dtype(torch::kBool)).triu(1);
    scores = scores.masked_fill(future, neg);
  }
  auto weights = torch::softmax(scores, -1);
  // A query whose keys are all masked gets NaN from softmax; those rows are ignored later,
  // but NaN would still poison the gradients, so zero them.
  if (key_padding.defined()) weights = torch::nan_to_num(weights, 0.0);
  if (options_.dropout > 0.0 && is_training()) weights = torch::dropout(weights, options_.dropout, true);
  auto out = torch::matmul(weights, v).transpose(1, 2).reshape({batch, seq, options_.d_model});
  return out_(out);
}

PreLnBlockImpl::PreLnBlockImpl(const BlockOptions& options) : options_(options) {
  norm_attn_ = register_module("norm_attn", torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.d_model})));
  attn_ = register_module("attn", SelfAttention(AttentionOptions{options.d_model, options.n_heads, options.dropout}));
  if (options.cond_dim > 0) cond_proj_ = register_module("cond_proj", torch::nn::Linear(options.cond_dim, options.d_model));
  norm_ff_ = register_module("norm_ff", torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.d_model})));
  ff_in_ = register_module("ff_in", torch::nn::Linear(options.d_model, options.ff_dim));
  ff_out_ = register_module("ff_out", torch::nn::Linear(options.ff_dim, options.d_model));
  drop_ = register_module("drop", torch::nn::Dropout(options.dropout));
}

torch::Tensor PreLnBlockImpl::forward(torch::Tensor x, const torch::Tensor& key_padding, bool causal,
                                      const torch::Tensor& cond, const torch::Tensor& rope_positions) {
  const bool use_dropout = options_.dropout > 0.0;  // skipping the op entirely: dropout is costly here
  auto a = attn_(norm_attn_(x), key_padding, causal, rope_positions);
  x = x + (use_dropout ? drop_(a) : a);
  if (cond_proj_ && cond.defined()) x = x + cond_proj_(cond).unsqueeze(1);
  auto f = ff_out_(torch::gelu(ff_in_(norm_ff_(x))));
  return x + (use_dropout ? drop_(f) : f);
}

torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& keep) {
  auto w = keep.to(x.dtype()).unsqueeze(-1);
  return (x * w).sum(1) / w.sum(1).clamp_min(1.0);
}

}  // namespace cadcrafter::learn
