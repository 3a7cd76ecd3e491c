// DeepCAD's CAD autoencoder (Wu et al. 2021), the latent space CADCrafter diffuses in.
//
// Encoder: each row becomes command embedding + projected argument embeddings (the 16
// arguments, each one of 257 classes after the +1 shift, embedded to 64 and flattened) +
// position + extrude-group embeddings; pre-LN transformer; mean over the rows before EOS;
// a bottleneck to z (tanh, so z lies in [-1, 1]).
// Decoder (non-autoregressive): kMaxSeqLen learned constant queries, each layer adding a
// projection of z; heads for 6 command logits and 16 x 257 argument logits per row.
// The decoder's self-attention is causal: the queries are constants, so this costs nothing in
// capacity, and it makes the first n outputs independent of the queries after n; training
// then runs only the rows the batch needs (the rest are masked out of the loss anyway).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "learn/data/cad_tokens.h"
#include "learn/networks/layers.h"

namespace cadcrafter::learn {

struct AutoencoderOptions {
  int64_t d_model = 256;
  int64_t n_heads = 8;
  int64_t ff_dim = 512;
  int64_t encoder_layers = 4;
  int64_t decoder_layers = 4;
  int64_t z_dim = 256;
  int64_t arg_embed_dim = 64;
  double dropout = 0.0;
};
void to_json(nlohmann::json& j, const AutoencoderOptions& o);
void from_json(const nlohmann::json& j, AutoencoderOptions& o);  // missing keys keep defaults

struct AutoencoderOutput {
  torch::Tensor command_logits;  // [B, S, 6]
  torch::Tensor args_logits;     // [B, S, 16, 257]
  torch::Tensor z;               // [B, z_dim]
};

class CadEmbeddingImpl : public torch::nn::Module {
 public:
  explicit CadEmbeddingImpl(const AutoencoderOptions& options);
  torch::Tensor forward(const torch::Tensor& commands, const torch::Tensor& args);  // -> [B, S, d]

 private:
  torch::nn::Embedding command_{nullptr}, arg_{nullptr}, position_{nullptr}, group_{nullptr};
  torch::nn::Linear arg_proj_{nullptr};
};
TORCH_MODULE(CadEmbedding);

class CadEncoderImpl : public torch::nn::Module {
 public:
  explicit CadEncoderImpl(const AutoencoderOptions& options);
  torch::Tensor forward(const torch::Tensor& commands, const torch::Tensor& args);  // -> z [B, z_dim]

 private:
  CadEmbedding embed_{nullptr};
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear bottleneck_{nullptr};
};
TORCH_MODULE(CadEncoder);

class CadDecoderImpl : public torch::nn::Module {
 public:
  explicit CadDecoderImpl(const AutoencoderOptions& options);
  // Decodes the first `length` rows (<= kMaxSeqLen) of every sequence.
  AutoencoderOutput forward(const torch::Tensor& z, int64_t length = kMaxSeqLen);

 private:
  AutoencoderOptions options_;
  torch::Tensor queries_;  // [kMaxSeqLen, d]
  torch::nn::Linear z_in_{nullptr};
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear command_head_{nullptr}, args_head_{nullptr};
};
TORCH_MODULE(CadDecoder);

class CadAutoencoderImpl : public torch::nn::Module {
 public:
  explicit CadAutoencoderImpl(const AutoencoderOptions& options = {});
  // Reconstructs the first commands.size(1) rows.
  AutoencoderOutput forward(const torch::Tensor& commands, const torch::Tensor& args);
  torch::Tensor encode(const torch::Tensor& commands, const torch::Tensor& args) { return encoder->forward(commands, args); }
  AutoencoderOutput decode(const torch::Tensor& z, int64_t length = kMaxSeqLen) { return decoder->forward(z, length); }
  const AutoencoderOptions& options() const { return options_; }

  CadEncoder encoder{nullptr};
  CadDecoder decoder{nullptr};

 private:
  AutoencoderOptions options_;
};
TORCH_MODULE(CadAutoencoder);

}  // namespace cadcrafter::learn
