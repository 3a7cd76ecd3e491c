#include "learn/inference/photo_estimator.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <sstream>

#include "learn/networks/estimator.h"

namespace cadcrafter::learn {

struct PhotoEstimator::Impl {
  std::optional<DepthNormalEstimator> native;
  std::optional<torch::jit::script::Module> script;
  int size = 128;
  bool mirror_average = true;
};

PhotoEstimator::PhotoEstimator() : impl_(std::make_unique<Impl>()) {}
PhotoEstimator::~PhotoEstimator() = default;
PhotoEstimator::PhotoEstimator(PhotoEstimator&&) noexcept = default;
PhotoEstimator& PhotoEstimator::operator=(PhotoEstimator&&) noexcept = default;

void set_torch_threads(int threads) { torch::set_num_threads(std::max(1, threads)); }

Result<PhotoEstimator> PhotoEstimator::load(const std::string& path, int torchscript_size) {
  if (!std::filesystem::is_regular_file(path))
    return Result<PhotoEstimator>::fail(ErrorCode::kIo, path + ": estimator model not found");
  PhotoEstimator estimator;
  auto native = load_estimator(path);
  if (native) {
    estimator.impl_->size = static_cast<int>((*native)->options().image_size);
    estimator.impl_->native = std::move(*native);
    return estimator;
  }
  try {
    auto module = torch::jit::load(path, torch::kCPU);
    module.eval();
    estimator.impl_->script = std::move(module);
    estimator.impl_->size = torchscript_size;
    return estimator;
  } catch (const std::exception&) {
    return Result<PhotoEstimator>::fail(ErrorCode::kParse,
                                        path + ": neither cadcrafter estimator weights nor a TorchScript module");
  }
}

int PhotoEstimator::input_size() const { return impl_->size; }

void PhotoEstimator::set_mirror_average(bool on) { impl_->mirror_average = on; }
bool PhotoEstimator::mirror_average() const { return impl_->mirror_average; }

std::string PhotoEstimator::kind() const { return impl_->script ? "torchscript" : "cadcrafter-estimator"; }

namespace {

// One pass of the TorchScript module over a [1, 3, S, S] image: its 5 channels split, its normals
// normalised.
Result<EstimatorOutput> run_script(torch::jit::script::Module& script, const torch::Tensor& input) {
  const auto s = input.size(2);
  auto y = script.forward({input}).toTensor();
  if (y.dim() != 4 || y.size(0) != 1 || y.size(1) != 5 || y.size(2) != s || y.size(3) != s) {
    std::ostringstream got;
    got << y.sizes();
    return Result<EstimatorOutput>::fail(ErrorCode::kInvalidArgument,
                                         "TorchScript estimator: output must be [1, 5, S, S], got " + got.str());
  }
  y = y.to(torch::kFloat);
  EstimatorOutput out;
  out.depth = y.slice(1, 0, 1);
  out.normal = torch::nn::functional::normalize(y.slice(1, 1, 4), torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-6));
  out.mask_logits = y.slice(1, 4, 5);
  return out;
}

}  // namespace

Result<GeometryMaps> PhotoEstimator::estimate(const Image8& image) const {
  const int s = impl_->size;
  if (image.width != s || image.height != s || image.channels != 3)
    return Result<GeometryMaps>::fail(ErrorCode::kInvalidArgument,
                                      "estimator: expected a " + std::to_string(s) + "x" + std::to_string(s) + " RGB image");
  torch::NoGradGuard no_grad;
  const auto input = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {1, s, s, 3}, torch::kUInt8)
                         .permute({0, 3, 1, 2})
                         .to(torch::kFloat)
                         .div(255.0)
                         .contiguous();
  torch::Tensor depth, normal, mask;
  try {
    EstimatorOutput out;
    if (impl_->native) {
      auto& net = *impl_->native;
      out = impl_->mirror_average ? forward_mirror_averaged(net, input) : net->forward(input);
    } else {  // the module's contract is batch 1: the mirror is a second pass
      auto plain = run_script(*impl_->script, input);
      if (!plain) return plain.error();
      out = *plain;
      if (impl_->mirror_average) {
        auto mirrored = run_script(*impl_->script, input.flip({3}));
        if (!mirrored) return mirrored.error();
        out = average_with_mirror(out, *mirrored);
      }
    }
    depth = out.depth;
    normal = out.normal;
    mask = torch::sigmoid(out.mask_logits);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Result<GeometryMaps>::fail(ErrorCode::kInternal, "estimator failed: " + what.substr(0, what.find('\n')));
  }
  GeometryMaps maps;
  maps.size = s;
  const auto d = depth.reshape({s * s}).contiguous();
  const auto n = normal.squeeze(0).permute({1, 2, 0}).reshape({s * s * 3}).contiguous();
  const auto m = mask.reshape({s * s}).contiguous();
  maps.depth.assign(d.data_ptr<float>(), d.data_ptr<float>() + s * s);
  maps.normal.assign(n.data_ptr<float>(), n.data_ptr<float>() + s * s * 3);
  maps.mask.assign(m.data_ptr<float>(), m.data_ptr<float>() + s * s);
  return maps;
}

}  // namespace cadcrafter::learn
