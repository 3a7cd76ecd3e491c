#include "learn/data/backbone_input.h"

#include "data/shard.h"
#include "learn/data/framing.h"

namespace cadcrafter::learn {

torch::Tensor backbone_view(const torch::Tensor& depth, const torch::Tensor& normal, const torch::Tensor& mask,
                            int64_t size) {
  const int64_t h = mask.size(0), w = mask.size(1);
  auto object = mask.gt(0.5);
  auto object_u8 = object.to(torch::kUInt8).contiguous();
  std::vector<uint8_t> flat(object_u8.data_ptr<uint8_t>(), object_u8.data_ptr<uint8_t>() + h * w);
  const CropBox box = frame_mask(flat, static_cast<int>(w), static_cast<int>(h));
  auto stacked = torch::cat({depth.unsqueeze(0), normal, object.to(torch::kFloat).unsqueeze(0)}, 0).to(torch::kFloat);
  auto framed = crop_resize(stacked, box, size, /*bilinear=*/false);  // [5, size, size]
  auto on = framed.select(0, 4).gt(0.5).to(torch::kFloat);
  const double count = on.sum().item<double>();
  if (count < 1.0) return torch::zeros({2, 3, size, size});
  auto d = framed.select(0, 0);
  const auto mean = (d * on).sum() / count;
  const auto deviation = ((d - mean).pow(2) * on).sum().div(count).sqrt().clamp_min(kMinDepthDeviation);
  auto depth_img = (((d - mean) / deviation).clamp(-3.0, 3.0) / 3.0 * on).unsqueeze(0).expand({3, size, size});
  auto normal_img = framed.slice(0, 1, 4) * on.unsqueeze(0);
  return torch::stack({depth_img, normal_img}, 0).contiguous();
}

torch::Tensor backbone_views_of_sample(const DatasetSample& sample, int64_t size, const std::vector<int64_t>& views) {
  const int64_t n = sample.size, count = sample.views;
  std::vector<int64_t> which = views;
  if (which.empty())
    for (int64_t v = 0; v < count; ++v) which.push_back(v);
  auto depth_all = torch::from_blob(const_cast<uint16_t*>(sample.depth.data()), {count, n, n}, torch::kInt16)
                       .to(torch::kInt32)
                       .bitwise_and(0xFFFF)
                       .to(torch::kFloat)
                       .div(10000.0);
  auto mask_all = torch::from_blob(const_cast<uint8_t*>(sample.mask.data()), {count, n, n}, torch::kUInt8).to(torch::kFloat) / 255.0;
  auto normal_all = torch::from_blob(const_cast<uint8_t*>(sample.normal.data()), {count, n, n, 3}, torch::kUInt8)
                        .to(torch::kFloat)
                        .permute({0, 3, 1, 2}) / 127.5 - 1.0;
  std::vector<torch::Tensor> out;
  out.reserve(which.size());
  for (int64_t v : which) {
    TORCH_CHECK(v >= 0 && v < count, "backbone input: view ", v, " out of range (sample has ", count, ")");
    out.push_back(backbone_view(depth_all[v], normal_all[v], mask_all[v], size));
  }
  return torch::stack(out);
}

torch::Tensor backbone_view_of_maps(const GeometryMaps& maps, int64_t size) {
  const int64_t n = maps.size;
  auto depth = torch::from_blob(const_cast<float*>(maps.depth.data()), {n, n}, torch::kFloat).clone();
  auto normal = torch::from_blob(const_cast<float*>(maps.normal.data()), {n, n, 3}, torch::kFloat).permute({2, 0, 1}).clone();
  auto mask = torch::from_blob(const_cast<float*>(maps.mask.data()), {n, n}, torch::kFloat).clone();
  return backbone_view(depth, normal, mask, size);
}

}  // namespace cadcrafter::learn
