#include "learn/data/framing.h"

#include <algorithm>

namespace cadcrafter::learn {

namespace F = torch::nn::functional;

CropBox frame_mask(const std::vector<uint8_t>& mask, int width, int height, float margin) {
  int x_min = width, y_min = height, x_max = -1, y_max = -1;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      if (mask[static_cast<size_t>(y) * width + x]) {
        x_min = std::min(x_min, x);
        x_max = std::max(x_max, x);
        y_min = std::min(y_min, y);
        y_max = std::max(y_max, y);
      }
  if (x_max < 0) {
    const float side = static_cast<float>(std::max(width, height));
    return {(width - side) / 2.0f, (height - side) / 2.0f, side};
  }
  const float w = static_cast<float>(x_max - x_min + 1), h = static_cast<float>(y_max - y_min + 1);
  const float side = std::max(w, h) * (1.0f + 2.0f * margin);
  const float cx = x_min + w / 2.0f, cy = y_min + h / 2.0f;
  return {cx - side / 2.0f, cy - side / 2.0f, side};
}

torch::Tensor crop_resize(const torch::Tensor& image, const CropBox& box, int64_t size, bool bilinear) {
  const int64_t height = image.size(1), width = image.size(2);
  const auto steps = (torch::arange(size, torch::kFloat) + 0.5f) * (box.side / static_cast<float>(size));
  const auto xs = (steps + box.x0) * (2.0f / static_cast<float>(width)) - 1.0f;
  const auto ys = (steps + box.y0) * (2.0f / static_cast<float>(height)) - 1.0f;
  const auto grid = torch::stack({xs.view({1, size}).expand({size, size}), ys.view({size, 1}).expand({size, size})}, 2)
                        .unsqueeze(0);
  auto options = F::GridSampleFuncOptions().align_corners(false);
  if (bilinear)
    options = options.mode(torch::kBilinear).padding_mode(torch::kBorder);
  else
    options = options.mode(torch::kNearest).padding_mode(torch::kZeros);
  return F::grid_sample(image.unsqueeze(0).to(torch::kFloat), grid, options).squeeze(0);
}

}  // namespace cadcrafter::learn
