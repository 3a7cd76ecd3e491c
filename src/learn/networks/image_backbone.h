// Image feature extractors for the geometry encoder: one feature vector per depth or normal
// image. CADCrafter uses a frozen DINOv2; no pretrained weights exist here, so the project
// trains its own small CNN (ConvBackbone) and freezes it, and also accepts any TorchScript
// module mapping [B, 3, H, W] to [B, F] (TorchScriptBackbone), e.g. a traced DINOv2.
//
// Input convention: backbone_input.h (framed views; standardised depth on 3 channels, camera-frame
// normals; background 0).
//
// ConvBackbone: 4 stride-2 3x3 conv-GroupNorm-SiLU stages (32, 64, 128, 256 channels), global
// average pooling, linear to feature_dim. Training (`cadcrafter train backbone`): each image
// regresses the autoencoder latent z of its model (MSE through a linear head), so features
// carry what the CAD latent needs; a modality id is not given to the network.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"

namespace cadcrafter::learn {

struct ConvBackboneOptions {
  int64_t base_channels = 32;
  int64_t feature_dim = 256;
};
void to_json(nlohmann::json& j, const ConvBackboneOptions& o);
void from_json(const nlohmann::json& j, ConvBackboneOptions& o);

class ConvBackboneImpl : public torch::nn::Module {
 public:
  explicit ConvBackboneImpl(const ConvBackboneOptions& options = {});
  torch::Tensor forward(const torch::Tensor& images);  // [B, 3, H, W] -> [B, feature_dim]
  const ConvBackboneOptions& options() const { return options_; }

 private:
  ConvBackboneOptions options_;
  torch::nn::Sequential stages_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(ConvBackbone);

// What the geometry encoder needs from a backbone.
class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  virtual torch::Tensor extract(const torch::Tensor& images) = 0;  // [B, 3, H, W] -> [B, F], no grad
  virtual int64_t feature_dim() const = 0;
};

class ConvFeatureExtractor : public FeatureExtractor {
 public:
  explicit ConvFeatureExtractor(ConvBackbone net) : net_(std::move(net)) { net_->eval(); }
  torch::Tensor extract(const torch::Tensor& images) override;
  int64_t feature_dim() const override { return net_->options().feature_dim; }

 private:
  ConvBackbone net_;
};

class TorchScriptBackbone : public FeatureExtractor {
 public:
  // Loads the module and probes it with one 3 x probe_size x probe_size image to learn F;
  // fails with a clear message when the file is not TorchScript or the output is not [1, F].
  static Result<std::shared_ptr<TorchScriptBackbone>> load(const std::string& path, int64_t probe_size = 64,
                                                           const torch::Device& device = torch::kCPU);
  torch::Tensor extract(const torch::Tensor& images) override;
  int64_t feature_dim() const override { return feature_dim_; }

 private:
  torch::jit::script::Module module_;
  int64_t feature_dim_ = 0;
  torch::Device device_{torch::kCPU};
};

}  // namespace cadcrafter::learn
