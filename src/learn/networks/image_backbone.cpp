#include "learn/networks/image_backbone.h"

#include <filesystem>


namespace cadcrafter::learn {

void to_json(nlohmann::json& j, const ConvBackboneOptions& o) {
  j = {{"base_channels", o.base_channels}, {"feature_dim", o.feature_dim}};
}

void from_json(const nlohmann::json& j, ConvBackboneOptions& o) {
  o.base_channels = j.value("base_channels", o.base_channels);
  o.feature_dim = j.value("feature_dim", o.feature_dim);
}

ConvBackboneImpl::ConvBackboneImpl(const ConvBackboneOptions& o) : options_(o) {
  stages_ = torch::nn::Sequential();
  int64_t in = 3;
  for (int64_t stage = 0; stage < 4; ++stage) {
    const int64_t out = o.base_channels << stage;
    stages_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
    stages_->push_back(torch::nn::GroupNorm(std::min<int64_t>(8, out), out));
    stages_->push_back(torch::nn::SiLU());
    in = out;
  }
  register_module("stages", stages_);
  head_ = register_module("head", torch::nn::Linear(in, o.feature_dim));
}

torch::Tensor ConvBackboneImpl::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "backbone: expected [B, 3, H, W] images");
  return head_(stages_->forward(images).mean({2, 3}));
}

torch::Tensor ConvFeatureExtractor::extract(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  return net_->forward(images);
}

Result<std::shared_ptr<TorchScriptBackbone>> TorchScriptBackbone::load(const std::string& path, int64_t probe_size,
                                                                       const torch::Device& device) {
  using R = Result<std::shared_ptr<TorchScriptBackbone>>;
  if (!std::filesystem::exists(path)) return R::fail(ErrorCode::kIo, path + ": no such file");
  auto backbone = std::make_shared<TorchScriptBackbone>();
  try {
    backbone->module_ = torch::jit::load(path, device);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return R::fail(ErrorCode::kParse, path + ": not a TorchScript module (" + what.substr(0, what.find('\n')) + ")");
  }
  backbone->module_.eval();
  backbone->device_ = device;
  try {
    auto probe = backbone->extract(torch::zeros({1, 3, probe_size, probe_size}));
    if (probe.dim() != 2 || probe.size(0) != 1)
      return R::fail(ErrorCode::kUnsupported, path + ": forward([1, 3, H, W]) must return [1, F], got " +
                                                  std::to_string(probe.dim()) + "-d output");
    backbone->feature_dim_ = probe.size(1);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return R::fail(ErrorCode::kUnsupported, path + ": forward on a [1, 3, H, W] image failed (" + what.substr(0, what.find('\n')) + ")");
  }
  return backbone;
}

torch::Tensor TorchScriptBackbone::extract(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  auto out = module_.forward({images.to(device_)});
  TORCH_CHECK(out.isTensor(), "TorchScript backbone must return a tensor");
  return out.toTensor();
}

}  // namespace cadcrafter::learn
