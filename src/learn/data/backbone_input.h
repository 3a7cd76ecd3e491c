// What the image backbone sees of one view, made the same way whatever produced the maps (a
// dataset render, a photo through the estimator, depth/normal files from elsewhere), so that a
// backbone trained on renders transfers to photos:
//
//  1. framing (framing.h): the mask's bounding box plus kFramingMargin, squared, resampled to
//     size x size with nearest neighbours (no blending of depth across the silhouette);
//  2. depth: the estimator knows depth only up to scale and shift, so it is standardised on the
//     mask (zero mean, unit deviation, deviation floored at kMinDepthDeviation so a flat face
//     seen head-on stays flat instead of amplifying noise), clipped to +-3, divided by 3, and
//     repeated on 3 channels;
//  3. normals: camera frame (x, y, z), as rendered;
//  4. background 0 in both.
// Result per view: [2, 3, size, size], modality 0 depth, 1 normal.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "learn/inference/photo_estimator.h"

namespace cadcrafter {
struct DatasetSample;
}

namespace cadcrafter::learn {

constexpr float kMinDepthDeviation = 1e-2f;

// depth [H, W] (any units, background ignored), normal [3, H, W] (unit), mask [H, W] (> 0.5 =
// object) -> [2, 3, size, size]. An empty mask gives zeros.
torch::Tensor backbone_view(const torch::Tensor& depth, const torch::Tensor& normal, const torch::Tensor& mask,
                            int64_t size);

// Views `views` (all when empty) of a dataset sample -> [V, 2, 3, size, size].
torch::Tensor backbone_views_of_sample(const DatasetSample& sample, int64_t size, const std::vector<int64_t>& views = {});

// Estimated (or loaded) maps of one view -> [2, 3, size, size].
torch::Tensor backbone_view_of_maps(const GeometryMaps& maps, int64_t size);

}  // namespace cadcrafter::learn
