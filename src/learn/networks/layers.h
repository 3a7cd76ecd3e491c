// Transformer building blocks shared by every network here. Batch-first, pre-LayerNorm,
// attention written with matmuls: LibTorch 1.13's own Transformer layers are sequence-first
// and post-LN only, and pre-LN trains without the long warm-up post-LN needs.
#pragma once

#include <torch/torch.h>

namespace cadcrafter::learn {

struct AttentionOptions {
  int64_t d_model = 256;
  int64_t n_heads = 8;
  double dropout = 0.0;
};

// Multi-head self-attention. `key_padding` [B, S] bool is true for keys to ignore; `causal`
// lets position i see only positions <= i. `rope_positions` [B, S] (float) applies rotary
// position embedding to queries and keys when defined.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const AttentionOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_padding = {}, bool causal = false,
                        const torch::Tensor& rope_positions = {});

 private:
  AttentionOptions options_;
  torch::nn::Linear qkv_{nullptr}, out_{nullptr};
};
TORCH_MODULE(SelfAttention);

// Rotary position embedding (Su et al.) on the last dimension of x [B, H, S, Dh] for the
// positions [B, S]: pairs of channels are rotated by position * 10000^(-2i/Dh).
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& positions);

struct BlockOptions {
  int64_t d_model = 256;
  int64_t n_heads = 8;
  int64_t ff_dim = 512;
  double dropout = 0.0;
  int64_t cond_dim = 0;  // > 0: a global condition vector is projected and added after attention
};

// x = x + attn(LN(x)); [x = x + W c]; x = x + FF(LN(x)).
class PreLnBlockImpl : public torch::nn::Module {
 public:
  explicit PreLnBlockImpl(const BlockOptions& options);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& key_padding = {}, bool causal = false,
                        const torch::Tensor& cond = {}, const torch::Tensor& rope_positions = {});

 private:
  BlockOptions options_;
  torch::nn::LayerNorm norm_attn_{nullptr}, norm_ff_{nullptr};
  SelfAttention attn_{nullptr};
  torch::nn::Linear cond_proj_{nullptr}, ff_in_{nullptr}, ff_out_{nullptr};
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(PreLnBlock);

// Mean over the sequence of positions where `keep` [B, S] is true.
torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& keep);

}  // namespace cadcrafter::learn
