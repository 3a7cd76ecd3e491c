// Framing: how every image of an object is cropped before a network sees it. reconstruct crops
// a photo to a square around the object (the mask's bounding box grown by kFramingMargin on
// every side); the estimator trains on that framing and the backbone input (backbone_input.h)
// re-frames dataset renders the same way, so a render and a photo of a part look alike.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace cadcrafter::learn {

// Extra space around the object's bounding box, as a fraction of its larger side, per side.
constexpr float kFramingMargin = 0.12f;

// A square crop box in pixels (may extend past the image).
struct CropBox {
  float x0 = 0, y0 = 0, side = 0;
};
// The reconstruct framing of a mask (255/1 = object): the bounding box grown by `margin` of
// its larger side per side, squared around its centre. The whole image when the mask is empty.
CropBox frame_mask(const std::vector<uint8_t>& mask, int width, int height, float margin = kFramingMargin);

// Crops `image` [C, H, W] (float) to `box` and resizes to size x size. Outside the image:
// replicated border for `bilinear` (photos), zeros for nearest (depth, normals, mask).
torch::Tensor crop_resize(const torch::Tensor& image, const CropBox& box, int64_t size, bool bilinear);

}  // namespace cadcrafter::learn
