#include "learn/training/contrastive.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>

#include "data/dataset.h"
#include "learn/data/backbone_input.h"
#include "render/camera.h"
#include "util/parallel.h"
#include "util/progress.h"

namespace cadcrafter::learn {
namespace F = torch::nn::functional;

torch::Tensor info_nce_loss(const torch::Tensor& a, const torch::Tensor& b, double temperature) {
  TORCH_CHECK(a.dim() == 2 && a.sizes() == b.sizes(), "info_nce_loss: expected two [B, D] batches of the same shape");
  auto na = F::normalize(a, F::NormalizeFuncOptions().dim(1));
  auto nb = F::normalize(b, F::NormalizeFuncOptions().dim(1));
  auto logits = torch::matmul(na, nb.t()) / temperature;
  auto target = torch::arange(a.size(0), torch::TensorOptions().dtype(torch::kLong).device(a.device()));
  return 0.5 * (F::cross_entropy(logits, target) + F::cross_entropy(logits.t(), target));
}

std::vector<int64_t> spread_views(uint64_t seed, int64_t total, int64_t count) {
  std::mt19937_64 rng(seed);
  const int64_t stride = std::max<int64_t>(1, total / count);
  std::vector<int64_t> views;
  for (int64_t k = 0; k < count; ++k) views.push_back((k * stride + static_cast<int64_t>(rng() % static_cast<uint64_t>(stride))) % total);
  return views;
}

torch::Tensor multi_view_embedding(const torch::Tensor& features) {
  TORCH_CHECK(features.dim() == 4, "multi_view_embedding: expected [N, V, 2, F]");
  return F::normalize(features.mean({1, 2}), F::NormalizeFuncOptions().dim(1));
}

IdentityRetrieval identity_retrieval(const torch::Tensor& query, const torch::Tensor& gallery) {
  TORCH_CHECK(query.dim() == 2 && gallery.dim() == 2 && query.size(0) == gallery.size(0),
              "identity_retrieval: expected [N, D] queries and gallery");
  IdentityRetrieval r;
  r.queries = query.size(0);
  if (r.queries == 0) return r;
  auto q = F::normalize(query.to(torch::kFloat), F::NormalizeFuncOptions().dim(1));
  auto g = F::normalize(gallery.to(torch::kFloat), F::NormalizeFuncOptions().dim(1));
  auto sim = torch::matmul(q, g.t());
  const int64_t k = std::min<int64_t>(5, r.queries);
  auto top = std::get<1>(sim.topk(k, 1)).contiguous();
  auto truth = torch::arange(r.queries, torch::kLong).unsqueeze(1);
  auto hit = top.eq(truth);
  r.top1 = hit.select(1, 0).to(torch::kDouble).mean().item<double>();
  r.top5 = hit.any(1).to(torch::kDouble).mean().item<double>();
  auto first = top.select(1, 0).contiguous();
  r.nearest.assign(first.data_ptr<int64_t>(), first.data_ptr<int64_t>() + r.queries);
  return r;
}

torch::Tensor encode_views(const torch::Tensor& v) {
  TORCH_CHECK(v.dim() >= 4 && v.size(-4) == 2 && v.size(-3) == 3, "encode_views: expected [.., 2, 3, s, s]");
  auto depth = v.select(-4, 0).narrow(-3, 0, 1);
  auto normal = v.select(-4, 1);
  auto packed = torch::cat({depth, normal}, -3);  // [.., 4, s, s]
  return (packed.clamp(-1.0, 1.0) * 127.0).round().add(128.0).to(torch::kUInt8);
}

torch::Tensor decode_views(const torch::Tensor& stored) {
  TORCH_CHECK(stored.dim() >= 3 && stored.size(-3) == 4, "decode_views: expected [.., 4, s, s]");
  auto x = stored.to(torch::kFloat).sub(128.0).div(127.0);
  auto depth = x.narrow(-3, 0, 1);
  std::vector<int64_t> shape(depth.sizes().begin(), depth.sizes().end());
  shape[shape.size() - 3] = 3;
  return torch::stack({depth.expand(shape), x.narrow(-3, 1, 3)}, -4);
}

torch::Tensor mirror_views(const torch::Tensor& views, const torch::Tensor& flip) {
  TORCH_CHECK(views.dim() == 5 && views.size(1) == 2, "mirror_views: expected [B, 2, 3, s, s]");
  auto mirrored = views.flip({4}).clone();
  mirrored.select(1, 1).select(1, 0).neg_();  // normal x (camera right) changes sign
  return torch::where(flip.to(torch::kBool).view({-1, 1, 1, 1, 1}), mirrored, views);
}


namespace {

// Separable Gaussian blur of [B, C, s, s] with a per-sample sigma [B] (reflect padding).
torch::Tensor blur(const torch::Tensor& x, const torch::Tensor& sigma) {
  const int64_t radius = 5, b = x.size(0), c = x.size(1);
  auto offsets = torch::arange(-radius, radius + 1, torch::kFloat).view({1, -1});
  auto k = torch::exp(-0.5 * (offsets / sigma.view({-1, 1})).pow(2));
  k = k / k.sum(1, true);  // [B, 2r+1]
  // One group per (sample, channel): the kernel of sample i for all its channels.
  auto kk = k.repeat_interleave(c, 0);  // [B*C, 2r+1]
  auto y = x.reshape({1, b * c, x.size(2), x.size(3)});
  y = torch::nn::functional::pad(y, torch::nn::functional::PadFuncOptions({radius, radius, radius, radius}).mode(torch::kReflect));
  y = torch::nn::functional::conv2d(y, kk.view({b * c, 1, 1, -1}), torch::nn::functional::Conv2dFuncOptions().groups(b * c));
  y = torch::nn::functional::conv2d(y, kk.view({b * c, 1, -1, 1}), torch::nn::functional::Conv2dFuncOptions().groups(b * c));
  return y.view_as(x);
}

}  // namespace

torch::Tensor estimator_like(const torch::Tensor& views, const torch::Tensor& apply) {
  TORCH_CHECK(views.dim() == 5 && views.size(1) == 2 && views.size(2) == 3, "estimator_like: expected [B, 2, 3, s, s]");
  const int64_t b = views.size(0), s = views.size(3);
  auto normal = views.select(1, 1);                    // [B, 3, s, s]
  auto depth = views.select(1, 0).narrow(1, 0, 1);     // [B, 1, s, s]
  auto mask = normal.abs().sum(1, true).gt(1e-6).to(torch::kFloat);
  auto sigma = torch::rand({b}) * 2.0 + 0.5;
  // Blur inside the mask only (normalised convolution), so the background never bleeds in.
  auto wsum = blur(mask, sigma).clamp_min(1e-4);
  auto n = blur(normal * mask, sigma) / wsum;
  auto d = blur(depth * mask, sigma) / wsum;
  // A smooth field over the image: linear ramp + bowl, random per sample and component.
  auto lin = torch::linspace(-1.0, 1.0, s);
  auto xs = lin.view({1, 1, 1, s}).expand({1, 1, s, s}), ys = lin.view({1, 1, s, 1}).expand({1, 1, s, s});
  auto coef = (torch::rand({b, 3, 3, 1, 1}) * 2 - 1) * 0.35;
  auto field = coef.select(2, 0) * xs + coef.select(2, 1) * ys + coef.select(2, 2) * (xs * xs + ys * ys - 0.66);
  n = torch::nn::functional::normalize(n + field, torch::nn::functional::NormalizeFuncOptions().dim(1)) * mask;
  auto bowl = (torch::rand({b, 1, 1, 1}) * 2 - 1) * 0.3 * (xs * xs + ys * ys);
  d = ((d + bowl) * mask).clamp(-1.0, 1.0);
  auto degraded = torch::stack({d.expand({b, 3, s, s}), n}, 1);
  return torch::where(apply.to(torch::kBool).view({-1, 1, 1, 1, 1}), degraded, views);
}

Result<torch::Tensor> load_framed_views(const DatasetReader& reader, const std::vector<size_t>& indices, int64_t size,
                                        const std::function<std::vector<int64_t>(size_t, int64_t)>& views_of,
                                        int threads, bool progress, torch::Tensor* azimuths) {
  const auto n = static_cast<int64_t>(indices.size());
  if (n == 0) return torch::zeros({0, 0, 4, size, size}, torch::kUInt8);
  const int64_t k = static_cast<int64_t>(views_of(indices[0], reader.views()).size());
  auto out = torch::zeros({n, k, 4, size, size}, torch::kUInt8);
  auto az = torch::zeros({n, k}, torch::kFloat);
  std::mutex error_mutex;
  std::string error;
  ProgressBar bar("load views", n, progress);
  parallel_for(n, std::max(1, threads), [&](int64_t j, int) {
    auto s = reader.get(indices[static_cast<size_t>(j)]);
    if (!s) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (error.empty()) error = s.error().message;
      return;
    }
    auto which = views_of(indices[static_cast<size_t>(j)], s->views);
    if (static_cast<int64_t>(which.size()) != k) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (error.empty()) error = "load_framed_views: views_of returned a different number of views for sample " + s->info.id;
      return;
    }
    out[j].copy_(encode_views(backbone_views_of_sample(*s, size, which)));
    for (int64_t v = 0; v < k; ++v) {
      az[j][v] = camera_azimuth_deg(s->cameras.at(static_cast<size_t>(which[static_cast<size_t>(v)])).extrinsics);
    }
    bar.add(1);
  });
  bar.finish();
  if (!error.empty()) return Result<torch::Tensor>::fail(ErrorCode::kIo, error);
  if (azimuths) *azimuths = az;
  return out;
}

}  // namespace cadcrafter::learn
