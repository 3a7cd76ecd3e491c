#include "learn/networks/estimator.h"

#include <cmath>
#include <filesystem>

#include "util/atomic_file.h"

namespace cadcrafter::learn {

namespace F = torch::nn::functional;

void to_json(nlohmann::json& j, const EstimatorOptions& o) {
  j = {{"image_size", o.image_size}, {"base_channels", o.base_channels}, {"levels", o.levels}};
  if (o.core_downsample != 1) {  // older readers never see keys they do not know for a plain U-Net
    j["core_downsample"] = o.core_downsample;
    j["fine_channels"] = o.fine_channels;
  }
}

void from_json(const nlohmann::json& j, EstimatorOptions& o) {
  o.image_size = j.value("image_size", o.image_size);
  o.base_channels = j.value("base_channels", o.base_channels);
  o.levels = j.value("levels", o.levels);
  o.core_downsample = j.value("core_downsample", int64_t{1});
  o.fine_channels = j.value("fine_channels", o.fine_channels);
}

namespace {
// GroupNorm groups: the largest divisor of `channels` up to 8 (any width works).
int64_t groups_for(int64_t channels) {
  for (int64_t g = std::min<int64_t>(8, channels); g > 1; --g)
    if (channels % g == 0) return g;
  return 1;
}
}  // namespace

ConvBlockImpl::ConvBlockImpl(int64_t in_channels, int64_t out_channels) {
  conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, 3).padding(1)));
  norm1_ = register_module("norm1", torch::nn::GroupNorm(groups_for(out_channels), out_channels));
  conv2_ = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(out_channels, out_channels, 3).padding(1)));
  norm2_ = register_module("norm2", torch::nn::GroupNorm(groups_for(out_channels), out_channels));
}

torch::Tensor ConvBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(norm1_(conv1_(x)));
  return torch::relu(norm2_(conv2_(y)));
}

DepthNormalEstimatorImpl::DepthNormalEstimatorImpl(const EstimatorOptions& options) : options_(options) {
  TORCH_CHECK(options.levels >= 1 && options.base_channels >= 4, "estimator: bad options");
  TORCH_CHECK(options.core_downsample == 1 || options.core_downsample == 2, "estimator: core_downsample must be 1 or 2");
  TORCH_CHECK(options.fine_channels >= 4, "estimator: fine_channels must be >= 4");
  down_ = register_module("down", torch::nn::ModuleList());
  up_ = register_module("up", torch::nn::ModuleList());
  int64_t in = 3;
  for (int64_t level = 0; level < options.levels; ++level) {
    const int64_t c = options.base_channels << level;
    down_->push_back(ConvBlock(in, c));
    in = c;
  }
  const int64_t bottom_channels = options.base_channels << options.levels;
  bottom_ = register_module("bottom", ConvBlock(in, bottom_channels));
  in = bottom_channels;
  for (int64_t level = options.levels - 1; level >= 0; --level) {
    const int64_t c = options.base_channels << level;
    up_->push_back(ConvBlock(in + c, c));
    in = c;
  }
  head_ = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, 5, 1)));
  if (options.core_downsample == 2) {
    fine_ = register_module("fine", ConvBlock(3, options.fine_channels));
    refine_ = register_module("refine", ConvBlock(in + 5 + options.fine_channels, options.fine_channels));
    refine_head_ = register_module("refine_head", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.fine_channels, 5, 1)));
    torch::NoGradGuard no_grad;
    refine_head_->weight.zero_();
    refine_head_->bias.zero_();
  }
}

EstimatorOutput DepthNormalEstimatorImpl::forward(const torch::Tensor& rgb) {
  TORCH_CHECK(rgb.dim() == 4 && rgb.size(1) == 3, "estimator: expected [B, 3, S, S] input");
  const int64_t multiple = options_.core_downsample << options_.levels;
  TORCH_CHECK(rgb.size(2) % multiple == 0 && rgb.size(3) % multiple == 0,
              "estimator: image size must be a multiple of ", multiple);
  const torch::Tensor centred = rgb * 2.0 - 1.0;
  torch::Tensor x = options_.core_downsample == 2 ? F::avg_pool2d(centred, F::AvgPool2dFuncOptions(2)) : centred;
  std::vector<torch::Tensor> skips;
  for (const auto& block : *down_) {
    x = block->as<ConvBlock>()->forward(x);
    skips.push_back(x);
    x = F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
  }
  x = bottom_(x);
  for (size_t i = 0; i < up_->size(); ++i) {
    const torch::Tensor& skip = skips[skips.size() - 1 - i];
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{skip.size(2), skip.size(3)})
                              .mode(torch::kBilinear)
                              .align_corners(false));
    x = up_[i]->as<ConvBlock>()->forward(torch::cat({x, skip}, 1));
  }
  torch::Tensor y = head_(x);
  if (options_.core_downsample == 2) {
    const auto up = [&](const torch::Tensor& t) {
      return F::interpolate(t, F::InterpolateFuncOptions()
                                   .size(std::vector<int64_t>{rgb.size(2), rgb.size(3)})
                                   .mode(torch::kBilinear)
                                   .align_corners(false));
    };
    const torch::Tensor coarse = up(y);
    const torch::Tensor detail = fine_(centred);
    y = coarse + refine_head_(refine_(torch::cat({up(x), coarse, detail}, 1)));
  }
  EstimatorOutput out;
  out.depth = y.slice(1, 0, 1);
  out.normal = F::normalize(y.slice(1, 1, 4), F::NormalizeFuncOptions().dim(1).eps(1e-6));
  out.mask_logits = y.slice(1, 4, 5);
  return out;
}

Result<int64_t> init_core_from(DepthNormalEstimator& target, DepthNormalEstimator& source) {
  torch::NoGradGuard no_grad;
  // Check everything first, so a refusal leaves the target untouched.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> pairs;
  auto match = [&](const torch::OrderedDict<std::string, torch::Tensor>& from,
                   const torch::OrderedDict<std::string, torch::Tensor>& to) -> Status {
    for (const auto& item : from) {
      const torch::Tensor* dst = to.find(item.key());
      if (dst == nullptr || !dst->sizes().equals(item.value().sizes()))
        return Status::fail(ErrorCode::kInvalidArgument,
                            "init_core_from: the source's " + item.key() + " has no counterpart of its shape in the target");
      pairs.emplace_back(*dst, item.value());  // the handle shares the target's storage
    }
    return {};
  };
  if (auto s = match(source->named_parameters(), target->named_parameters()); !s) return s.error();
  if (auto s = match(source->named_buffers(), target->named_buffers()); !s) return s.error();
  for (auto& [dst, src] : pairs) dst.copy_(src);
  return static_cast<int64_t>(pairs.size());
}

torch::Tensor align_scale_shift(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& mask) {
  const std::vector<int64_t> dims{1, 2, 3};
  const auto n = mask.sum(dims, true);
  const auto safe_n = n.clamp_min(1.0);
  const auto mean_p = (mask * pred).sum(dims, true) / safe_n;
  const auto mean_t = (mask * target).sum(dims, true) / safe_n;
  const auto dp = (pred - mean_p) * mask;
  const auto dt = (target - mean_t) * mask;
  const auto var = (dp * dp).sum(dims, true);
  const auto cov = (dp * dt).sum(dims, true);
  auto scale = cov / (var + 1e-8);
  auto shift = mean_t - scale * mean_p;
  const auto enough = n >= 2.0;
  scale = torch::where(enough, scale, torch::ones_like(scale));
  shift = torch::where(enough, shift, torch::zeros_like(shift));
  return scale * pred + shift;
}

EstimatorOutput average_with_mirror(const EstimatorOutput& plain, const EstimatorOutput& mirrored) {
  const auto unmirror = [](const torch::Tensor& t) { return t.flip({3}); };
  auto normal_back = unmirror(mirrored.normal);
  normal_back = torch::cat({-normal_back.slice(1, 0, 1), normal_back.slice(1, 1, 3)}, 1);
  const auto mask = (plain.mask_logits > 0).to(plain.depth.scalar_type());
  const auto depth_back = align_scale_shift(unmirror(mirrored.depth), plain.depth, mask);
  EstimatorOutput out;
  out.depth = 0.5 * (plain.depth + depth_back);
  out.normal = torch::nn::functional::normalize(
      plain.normal + normal_back, torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-6));
  out.mask_logits = 0.5 * (plain.mask_logits + unmirror(mirrored.mask_logits));
  return out;
}

EstimatorOutput forward_mirror_averaged(DepthNormalEstimator& model, const torch::Tensor& rgb) {
  const auto b = rgb.size(0);
  const auto both = model->forward(torch::cat({rgb, rgb.flip({3})}, 0));
  const auto half = [b](const torch::Tensor& t, int64_t k) { return t.narrow(0, k * b, b); };
  return average_with_mirror({half(both.depth, 0), half(both.normal, 0), half(both.mask_logits, 0)},
                             {half(both.depth, 1), half(both.normal, 1), half(both.mask_logits, 1)});
}

EstimatorLosses estimator_losses(const EstimatorOutput& out, const EstimatorTargets& target,
                                 const EstimatorLossWeights& weights) {
  const std::vector<int64_t> dims{1, 2, 3};
  const auto mask = target.mask;
  const auto n = mask.sum(dims, true);
  const auto has_object = (n.flatten() > 0).to(torch::kFloat);
  const auto images = has_object.sum().clamp_min(1.0);
  const auto safe_n = n.clamp_min(1.0);

  // Standardise the ground truth per image so the loss does not depend on the scene's scale.
  const auto mean_t = (mask * target.depth).sum(dims, true) / safe_n;
  const auto var_t = (mask * (target.depth - mean_t).pow(2)).sum(dims, true) / safe_n;
  const auto gt = (target.depth - mean_t) / (var_t.sqrt() + 1e-4);
  const auto aligned = align_scale_shift(out.depth, gt.detach(), mask);
  const auto depth_per_image = ((aligned - gt).abs() * mask).sum(dims) / safe_n.flatten();

  const auto cosine = (out.normal * target.normal).sum(1, true);
  const auto normal_per_image = ((1.0 - cosine) * mask).sum(dims) / safe_n.flatten();

  EstimatorLosses l;
  l.depth = (depth_per_image * has_object).sum() / images;
  l.normal = (normal_per_image * has_object).sum() / images;
  l.mask = F::binary_cross_entropy_with_logits(out.mask_logits, mask);
  const auto probability = torch::sigmoid(out.mask_logits);
  const auto soft_inter = (probability * mask).sum(dims);
  const auto soft_union = (probability + mask - probability * mask).sum(dims).clamp_min(1e-6);
  l.mask_iou = (1.0 - soft_inter / soft_union).mean();
  l.total = weights.depth * l.depth + weights.normal * l.normal + weights.mask * l.mask;
  if (weights.mask_iou > 0) l.total = l.total + weights.mask_iou * l.mask_iou;
  return l;
}

void accumulate_metrics(const EstimatorOutput& out, const EstimatorTargets& target, EstimatorMetrics* sums) {
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> dims{1, 2, 3};
  const auto mask = target.mask.to(torch::kCPU, torch::kFloat);
  const auto pred_depth = out.depth.to(torch::kCPU, torch::kFloat);
  const auto gt_depth = target.depth.to(torch::kCPU, torch::kFloat);
  const auto aligned = align_scale_shift(pred_depth, gt_depth, mask);
  const auto n = mask.sum(dims);
  const auto abs_rel = ((aligned - gt_depth).abs() / gt_depth.abs().clamp_min(1e-6) * mask).sum(dims);
  const auto cosine = (out.normal.to(torch::kCPU) * target.normal.to(torch::kCPU)).sum(1, true).clamp(-1.0, 1.0);
  const auto angle = (torch::acos(cosine) * (180.0 / M_PI) * mask).sum(dims);
  const auto predicted = (out.mask_logits.to(torch::kCPU) > 0).to(torch::kFloat);
  const auto inter = (predicted * mask).sum(dims);
  const auto uni = ((predicted + mask) > 0).to(torch::kFloat).sum(dims);
  for (int64_t b = 0; b < mask.size(0); ++b) {
    const double count = n[b].item<double>();
    if (count <= 0) continue;
    sums->depth_abs_rel += abs_rel[b].item<double>() / count;
    sums->normal_angle_deg += angle[b].item<double>() / count;
    sums->mask_iou += inter[b].item<double>() / std::max(1.0, uni[b].item<double>());
    sums->images += 1;
  }
}

EstimatorMetrics finish_metrics(const EstimatorMetrics& sums) {
  EstimatorMetrics m = sums;
  if (sums.images > 0) {
    m.depth_abs_rel /= static_cast<double>(sums.images);
    m.normal_angle_deg /= static_cast<double>(sums.images);
    m.mask_iou /= static_cast<double>(sums.images);
  }
  return m;
}

nlohmann::json metrics_to_json(const EstimatorMetrics& m) {
  return {{"depth_abs_rel", m.depth_abs_rel},
          {"normal_angle_deg", m.normal_angle_deg},
          {"mask_iou", m.mask_iou},
          {"images", m.images}};
}

Status save_estimator(const std::string& path, DepthNormalEstimator& model) {
  return write_atomically(path, [&](const std::string& tmp) -> Status {
    try {
      torch::serialize::OutputArchive archive;
      model->save(archive);
      const std::string options = nlohmann::json(model->options()).dump();
      archive.write("options", torch::from_blob(const_cast<char*>(options.data()),
                                                {static_cast<int64_t>(options.size())}, torch::kChar)
                                   .clone());
      archive.save_to(tmp);
    } catch (const std::exception& e) {
      return Status::fail(ErrorCode::kIo, path + ": cannot write estimator weights: " + e.what());
    }
    return {};
  });
}

Result<DepthNormalEstimator> load_estimator(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    return Result<DepthNormalEstimator>::fail(ErrorCode::kIo, path + ": estimator weights not found");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::Tensor options_text;
    if (!archive.try_read("options", options_text))
      return Result<DepthNormalEstimator>::fail(ErrorCode::kParse, path + ": not an estimator weights file (no options)");
    options_text = options_text.contiguous();
    const std::string text(static_cast<const char*>(options_text.data_ptr()),
                           static_cast<size_t>(options_text.numel()));
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Result<DepthNormalEstimator>::fail(ErrorCode::kParse, path + ": estimator options are not JSON");
    DepthNormalEstimator model(j.get<EstimatorOptions>());
    model->load(archive);
    model->eval();
    return model;
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    return Result<DepthNormalEstimator>::fail(ErrorCode::kParse, path + ": not estimator weights (" + what + ")");
  }
}

}  // namespace cadcrafter::learn
