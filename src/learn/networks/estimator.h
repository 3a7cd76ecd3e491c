// The depth/normal estimator: a photo of a part -> relative depth, camera-frame normals and a
// foreground mask, the modalities CADCrafter's geometry encoder is conditioned on. Photos never
// reach the CAD generator directly; they go through this network first.
//
// Network: a compact U-Net (conv-GroupNorm-ReLU blocks, `levels` 2x down-samplings with
// skip connections, bilinear up-sampling), one 1x1 head with 5 channels:
//   depth (1, relative: only defined up to scale and shift), normal (3, normalised to unit
//   length, OpenCV camera frame as in render/render_views.h: x right, y down, z forward, so
//   visible surfaces have n.z < 0), mask logit (1).
// Input: sRGB in [0, 1], [B, 3, S, S]; S must be a multiple of 2^levels.
//
// Losses (all on the ground-truth mask except the mask's own):
//   depth:  scale-and-shift invariant (MiDaS): the ground truth is standardised per image,
//           the prediction is aligned to it by least squares, then mean absolute error;
//   normal: 1 - cos(angle) between the unit prediction and the ground truth;
//   mask:   binary cross-entropy on every pixel.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"

namespace cadcrafter::learn {

struct EstimatorOptions {
  int64_t image_size = 128;
  int64_t base_channels = 16;  // doubled at every level
  int64_t levels = 3;
  // 1: the U-Net runs at the input size. 2: it runs on the input averaged down 2x (the cost of
  // an S/2 network) and a full-resolution stage refines its up-sampled output with the input's
  // own fine detail (edges of the silhouette, small holes): the "core" below, then
  //   fine   = ConvBlock(3 -> fine_channels) on the full-size input,
  //   refine = ConvBlock(base + 5 + fine_channels -> fine_channels) on [up(core features),
  //            up(core output), fine], and a 1x1 head adding a residual to up(core output).
  // The residual head starts at zero, so a core taken from an S/2 estimator (init_core_from)
  // starts exactly where that estimator was.
  int64_t core_downsample = 1;
  int64_t fine_channels = 12;
};
void to_json(nlohmann::json& j, const EstimatorOptions& o);
void from_json(const nlohmann::json& j, EstimatorOptions& o);  // missing keys keep defaults

struct EstimatorOutput {
  torch::Tensor depth;        // [B, 1, S, S] relative depth
  torch::Tensor normal;       // [B, 3, S, S] unit vectors, camera frame
  torch::Tensor mask_logits;  // [B, 1, S, S]
};

// conv3x3-GroupNorm-ReLU twice.
class ConvBlockImpl : public torch::nn::Module {
 public:
  ConvBlockImpl(int64_t in_channels, int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
};
TORCH_MODULE(ConvBlock);

class DepthNormalEstimatorImpl : public torch::nn::Module {
 public:
  explicit DepthNormalEstimatorImpl(const EstimatorOptions& options = {});
  EstimatorOutput forward(const torch::Tensor& rgb);
  const EstimatorOptions& options() const { return options_; }

 private:
  EstimatorOptions options_;
  torch::nn::ModuleList down_, up_;
  ConvBlock bottom_{nullptr};
  torch::nn::Conv2d head_{nullptr};
  // core_downsample == 2 only.
  ConvBlock fine_{nullptr}, refine_{nullptr};
  torch::nn::Conv2d refine_head_{nullptr};
};
TORCH_MODULE(DepthNormalEstimator);

// Copies every parameter and buffer of `source` into the tensor of the same name and shape in
// `target` (the core U-Net of a core_downsample 2 network from an estimator of half its input
// size and the same base_channels and levels). Returns how many tensors were copied; an error,
// with the target untouched, when any tensor of the source has no counterpart.
Result<int64_t> init_core_from(DepthNormalEstimator& target, DepthNormalEstimator& source);

// Test-time mirror averaging. The estimator is trained with horizontal mirroring (normal x
// negated), so the mirror image of a photo is as good an input as the photo: `mirrored` is the
// output for the mirrored batch; it is mirrored back (normal x negated), its depth aligned by scale
// and shift to `plain`'s on `plain`'s mask (relative depth has its own scale in each pass), and the
// two are averaged: depth, normals (re-normalised), mask logits.
EstimatorOutput average_with_mirror(const EstimatorOutput& plain, const EstimatorOutput& mirrored);
// forward() on the batch and its mirror in one pass of 2B images, then average_with_mirror.
EstimatorOutput forward_mirror_averaged(DepthNormalEstimator& model, const torch::Tensor& rgb);

// Ground truth of a batch, as the renderer produces it (decoded to floats).
struct EstimatorTargets {
  torch::Tensor depth;   // [B, 1, S, S] camera-space depth, any value off the mask
  torch::Tensor normal;  // [B, 3, S, S] unit normals, camera frame
  torch::Tensor mask;    // [B, 1, S, S] 1 = object, 0 = background
};

struct EstimatorLossWeights {
  double depth = 1.0, normal = 1.0, mask = 1.0;
  double mask_iou = 0.0;  // 1 - soft IoU of the mask probabilities, per image (sharpens silhouettes)
};

struct EstimatorLosses {
  torch::Tensor total, depth, normal, mask, mask_iou;
};

EstimatorLosses estimator_losses(const EstimatorOutput& out, const EstimatorTargets& target,
                                 const EstimatorLossWeights& weights = {});

// Per image: the scale s and shift t minimising sum over `mask` of (s * pred + t - target)^2.
// Returns s * pred + t ([B, 1, S, S]). Images with fewer than 2 mask pixels keep pred.
torch::Tensor align_scale_shift(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& mask);

// Held-out figures, averaged over images that have any ground-truth object pixel.
struct EstimatorMetrics {
  double depth_abs_rel = 0.0;      // mean |aligned - gt| / gt on the gt mask (scale+shift aligned)
  double normal_angle_deg = 0.0;   // mean angle between predicted and gt normals on the gt mask
  double mask_iou = 0.0;           // IoU of (logit > 0) with the gt mask
  int64_t images = 0;
};
// Sums for one batch (combine with accumulate, then finish).
void accumulate_metrics(const EstimatorOutput& out, const EstimatorTargets& target, EstimatorMetrics* sums);
EstimatorMetrics finish_metrics(const EstimatorMetrics& sums);
nlohmann::json metrics_to_json(const EstimatorMetrics& m);

// Weights file: a torch archive with the module's parameters plus "options" (JSON text), so a
// single file is enough to rebuild the network.
Status save_estimator(const std::string& path, DepthNormalEstimator& model);
Result<DepthNormalEstimator> load_estimator(const std::string& path);

}  // namespace cadcrafter::learn
