#include "learn/networks/cad_autoencoder.h"

namespace cadcrafter::learn {

void to_json(nlohmann::json& j, const AutoencoderOptions& o) {
  j = {{"d_model", o.d_model},           {"n_heads", o.n_heads},
       {"ff_dim", o.ff_dim},             {"encoder_layers", o.encoder_layers},
       {"decoder_layers", o.decoder_layers}, {"z_dim", o.z_dim},
       {"arg_embed_dim", o.arg_embed_dim}, {"dropout", o.dropout}};
}

void from_json(const nlohmann::json& j, AutoencoderOptions& o) {
  o.d_model = j.value("d_model", o.d_model);
  o.n_heads = j.value("n_heads", o.n_heads);
  o.ff_dim = j.value("ff_dim", o.ff_dim);
  o.encoder_layers = j.value("encoder_layers", o.encoder_layers);
  o.decoder_layers = j.value("decoder_layers", o.decoder_layers);
  o.z_dim = j.value("z_dim", o.z_dim);
  o.arg_embed_dim = j.value("arg_embed_dim", o.arg_embed_dim);
  o.dropout = j.value("dropout", o.dropout);
}

CadEmbeddingImpl::CadEmbeddingImpl(const AutoencoderOptions& o) {
  command_ = register_module("command", torch::nn::Embedding(kNumCommands, o.d_model));
  // padding_idx 0: an unused argument contributes nothing.
  arg_ = register_module("arg", torch::nn::Embedding(torch::nn::EmbeddingOptions(kArgClasses, o.arg_embed_dim).padding_idx(0)));
  arg_proj_ = register_module("arg_proj", torch::nn::Linear(kNumArgs * o.arg_embed_dim, o.d_model));
  position_ = register_module("position", torch::nn::Embedding(kMaxSeqLen, o.d_model));
  group_ = register_module("group", torch::nn::Embedding(kMaxExtrudes + 1, o.d_model));
}

torch::Tensor CadEmbeddingImpl::forward(const torch::Tensor& commands, const torch::Tensor& args) {
  const int64_t batch = commands.size(0), seq = commands.size(1);
  auto arg_vectors = arg_((args + 1).clamp(0, kArgClasses - 1)).view({batch, seq, -1});
  auto positions = torch::arange(seq, commands.options()).unsqueeze(0);
  return command_(commands) + arg_proj_(arg_vectors) + position_(positions) + group_(extrude_group_index(commands));
}

CadEncoderImpl::CadEncoderImpl(const AutoencoderOptions& o) {
  embed_ = register_module("embed", CadEmbedding(o));
  for (int64_t i = 0; i < o.encoder_layers; ++i)
    blocks_->push_back(PreLnBlock(BlockOptions{o.d_model, o.n_heads, o.ff_dim, o.dropout, 0}));
  register_module("blocks", blocks_);
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.d_model})));
  bottleneck_ = register_module("bottleneck", torch::nn::Linear(o.d_model, o.z_dim));
}

torch::Tensor CadEncoderImpl::forward(const torch::Tensor& commands, const torch::Tensor& args) {
  auto keep = rows_before_eos(commands);
  auto padding = keep.logical_not();
  auto x = embed_(commands, args);
  for (auto& block : *blocks_) x = block->as<PreLnBlock>()->forward(x, padding);
  return torch::tanh(bottleneck_(masked_mean(norm_(x), keep)));
}

CadDecoderImpl::CadDecoderImpl(const AutoencoderOptions& o) : options_(o) {
  queries_ = register_parameter("queries", torch::randn({kMaxSeqLen, o.d_model}) * 0.02);
  z_in_ = register_module("z_in", torch::nn::Linear(o.z_dim, o.d_model));
  for (int64_t i = 0; i < o.decoder_layers; ++i)
    blocks_->push_back(PreLnBlock(BlockOptions{o.d_model, o.n_heads, o.ff_dim, o.dropout, o.z_dim}));
  register_module("blocks", blocks_);
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.d_model})));
  command_head_ = register_module("command_head", torch::nn::Linear(o.d_model, kNumCommands));
  args_head_ = register_module("args_head", torch::nn::Linear(o.d_model, kNumArgs * kArgClasses));
}

AutoencoderOutput CadDecoderImpl::forward(const torch::Tensor& z, int64_t length) {
  const int64_t batch = z.size(0);
  length = std::clamp<int64_t>(length, 1, kMaxSeqLen);
  auto x = queries_.narrow(0, 0, length).unsqueeze(0) + z_in_(z).unsqueeze(1);
  for (auto& block : *blocks_) x = block->as<PreLnBlock>()->forward(x, {}, /*causal=*/true, z);
  x = norm_(x);
  return {command_head_(x), args_head_(x).view({batch, length, kNumArgs, kArgClasses}), z};
}

CadAutoencoderImpl::CadAutoencoderImpl(const AutoencoderOptions& options) : options_(options) {
  encoder = register_module("encoder", CadEncoder(options));
  decoder = register_module("decoder", CadDecoder(options));
}

AutoencoderOutput CadAutoencoderImpl::forward(const torch::Tensor& commands, const torch::Tensor& args) {
  return decoder->forward(encoder->forward(commands, args), commands.size(1));
}

}  // namespace cadcrafter::learn
