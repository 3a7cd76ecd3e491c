// Shape-level image features: the backbone is trained so that views of one part (other azimuths,
// elevations, rendering sets) land near each other and far from other parts (InfoNCE), instead of
// regressing the autoencoder latent z, which encodes the *sequence* (loop order, start points,
// extrude direction...) that no image can tell apart.
//
// A view's embedding is the mean of its depth and normal features, L2-normalised
// (view_embedding); several views are averaged before normalising. The retrieval baseline in
// `eval`, the retrieval candidate source of `reconstruct` and the identity-retrieval metric all use
// this same embedding of the same backbone features the latent diffusion is conditioned on.
//
// Framed views are cached compactly as uint8 (encode_views / decode_views): a value v in [-1, 1]
// is stored as round(v * 127) + 128, so 0 (background) is exact.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/status.h"

namespace cadcrafter {
class DatasetReader;
}

namespace cadcrafter::learn {

// Symmetric InfoNCE between two batches of embeddings [B, D] (row i of a and b = the same part):
// mean of CE(a_i -> b) and CE(b_i -> a) with cosine similarities / temperature.
torch::Tensor info_nce_loss(const torch::Tensor& a, const torch::Tensor& b, double temperature);

// Features [N, V, 2, F] of V views and both modalities -> their mean, L2-normalised: [N, F].
torch::Tensor multi_view_embedding(const torch::Tensor& features);

// `count` of a sample's `total` views spread over the rendering sets (view k from the k-th stride
// of total / count views, at an offset drawn from `seed`), so every angle gets used across samples.
std::vector<int64_t> spread_views(uint64_t seed, int64_t total, int64_t count);

// Identity retrieval: query i's true match is gallery i. Top-1 / top-5 share and the rank-1
// gallery index of each query.
struct IdentityRetrieval {
  int64_t queries = 0;
  double top1 = 0.0, top5 = 0.0;
  std::vector<int64_t> nearest;  // per query, argmax gallery index
};
IdentityRetrieval identity_retrieval(const torch::Tensor& query, const torch::Tensor& gallery);

// Backbone inputs [.., 2, 3, s, s] (modality 0 depth on 3 channels, 1 normal) <-> compact uint8
// [.., 4, s, s] (depth once, then normal x y z).
torch::Tensor encode_views(const torch::Tensor& backbone_views);
torch::Tensor decode_views(const torch::Tensor& stored);  // -> float [.., 2, 3, s, s]

// Horizontal mirror of backbone inputs [B, 2, 3, s, s] where flip[b] is true (the normal's camera
// x component changes sign, so the mirrored maps stay consistent).
torch::Tensor mirror_views(const torch::Tensor& views, const torch::Tensor& flip);

// What a photo through the estimator looks like next to a render (docs/reconstruct.md: normal
// error ~36 degrees, smooth across edges, planar faces shaded like curved ones): where apply[b]
// is true, view b's normals and depth are blurred inside the mask (Gaussian, sigma 0.5-2.5 px at
// 64^2), bent by a random smooth field (a linear ramp plus a bowl, up to ~0.35 in each normal
// component) and renormalised; depth gets the same blur and a random bowl. Background stays 0.
// Random numbers come from torch's generator (seed_everything makes runs repeatable).
torch::Tensor estimator_like(const torch::Tensor& views, const torch::Tensor& apply);

// Framed views of dataset samples, loaded once on `threads` threads: views_of(sample_index,
// views_in_sample) picks which views (same count for every sample). Returns uint8
// [N, K, 4, size, size] and fills azimuths [N, K] (degrees, [0, 360), from the stored cameras).
Result<torch::Tensor> load_framed_views(const DatasetReader& reader, const std::vector<size_t>& indices, int64_t size,
                                        const std::function<std::vector<int64_t>(size_t, int64_t)>& views_of,
                                        int threads, bool progress, torch::Tensor* azimuths = nullptr);

}  // namespace cadcrafter::learn
