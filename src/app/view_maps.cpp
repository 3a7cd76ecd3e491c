#include "app/view_maps.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "data/shard.h"

namespace cadcrafter::app {

double ViewMaps::object_fraction() const {
  if (mask.empty()) return 0.0;
  double n = 0;
  for (float m : mask) n += m > 0.5f ? 1.0 : 0.0;
  return n / static_cast<double>(mask.size());
}

InputPhoto photo_of_sample(const DatasetSample& sample, int view) {
  const int n = sample.size;
  InputPhoto photo;
  photo.name = sample.info.id + " view " + std::to_string(view);
  photo.file_channels = 3;
  const size_t px = static_cast<size_t>(n) * n * 3, v = static_cast<size_t>(view);
  photo.rgb = Image8{n, n, 3, std::vector<uint8_t>(sample.rgb.begin() + static_cast<long>(px * v),
                                                   sample.rgb.begin() + static_cast<long>(px * (v + 1)))};
  return photo;
}

ViewMaps view_maps_of_sample(const DatasetSample& sample, int view) {
  ViewMaps m;
  const size_t n = static_cast<size_t>(sample.size) * sample.size, off = n * static_cast<size_t>(view);
  m.name = sample.info.id + " view " + std::to_string(view);
  m.size = sample.size;
  m.depth.resize(n);
  m.normal.resize(n * 3);
  m.mask.resize(n);
  for (size_t i = 0; i < n; ++i) {
    m.depth[i] = static_cast<float>(sample.depth[off + i]) / 10000.0f;
    m.mask[i] = sample.mask[off + i] > 127 ? 1.0f : 0.0f;
    for (int k = 0; k < 3; ++k) m.normal[i * 3 + k] = static_cast<float>(sample.normal[(off + i) * 3 + k]) / 127.5f - 1.0f;
  }
  m.image = normals_to_image(m.normal, m.mask, m.size);
  return m;
}

Image8 normals_to_image(const std::vector<float>& normal, const std::vector<float>& mask, int size) {
  Image8 im{size, size, 3, std::vector<uint8_t>(static_cast<size_t>(size) * size * 3, 128)};
  for (size_t i = 0; i < static_cast<size_t>(size) * size; ++i) {
    if (mask[i] <= 0.5f) continue;
    for (int k = 0; k < 3; ++k)
      im.pixels[i * 3 + k] = static_cast<uint8_t>(std::clamp(std::lround((normal[i * 3 + k] + 1.0f) * 127.5f), 0L, 255L));
  }
  return im;
}

namespace {

// Objects that fill less than this share of the framed crop are treated as "nothing found":
// the estimator's mask then holds only a few stray pixels.
constexpr double kMinObjectFraction = 0.01;

ViewMaps to_view(const std::string& name, const learn::GeometryMaps& maps, const Image8& framed) {
  ViewMaps v;
  v.name = name;
  v.size = maps.size;
  v.image = framed;
  v.depth = maps.depth;
  v.normal = maps.normal;
  v.mask.resize(maps.mask.size());
  for (size_t i = 0; i < maps.mask.size(); ++i) v.mask[i] = maps.mask[i] >= 0.5f ? 1.0f : 0.0f;
  return v;
}

// Square 16-bit depth (0 = background) + 8-bit normals in the render encoding, framed around
// the object and resized to `size` (nearest sample: never mixes object and background).
std::optional<ViewMaps> frame_depth_normal(const std::vector<uint16_t>& depth, const std::vector<uint8_t>& normal, int w,
                                           int size, const std::string& name) {
  const size_t n = static_cast<size_t>(w) * w;
  if (w <= 0 || depth.size() != n || normal.size() != n * 3) return std::nullopt;
  std::vector<float> mask(n);
  for (size_t i = 0; i < n; ++i) mask[i] = depth[i] > 0 ? 1.0f : 0.0f;
  // Frame in the file's own pixel grid (`within` = the image at scale 1).
  FrameBox box;
  if (!frame_from_mask(mask, w, FrameBox{0, 0, static_cast<float>(w)}, kViewMargin, 0.5f, &box)) return std::nullopt;
  ViewMaps view;
  view.name = name;
  view.size = size;
  view.depth.assign(static_cast<size_t>(size) * size, 0.0f);
  view.normal.assign(static_cast<size_t>(size) * size * 3, 0.0f);
  view.mask.assign(static_cast<size_t>(size) * size, 0.0f);
  const float step = box.side / static_cast<float>(size);
  for (int v = 0; v < size; ++v)
    for (int u = 0; u < size; ++u) {
      const int x = static_cast<int>(std::floor(box.x0 + (u + 0.5f) * step));
      const int y = static_cast<int>(std::floor(box.y0 + (v + 0.5f) * step));
      if (x < 0 || y < 0 || x >= w || y >= w) continue;
      const size_t src = static_cast<size_t>(y) * w + x, dst = static_cast<size_t>(v) * size + u;
      if (depth[src] == 0) continue;
      view.mask[dst] = 1.0f;
      view.depth[dst] = static_cast<float>(depth[src]) / kDepthUnitsPerLength;
      float nv[3], len = 0;
      for (int k = 0; k < 3; ++k) {
        nv[k] = normal[src * 3 + k] / 127.5f - 1.0f;
        len += nv[k] * nv[k];
      }
      len = std::sqrt(std::max(len, 1e-12f));
      for (int k = 0; k < 3; ++k) view.normal[dst * 3 + k] = nv[k] / len;
    }
  view.image = normals_to_image(view.normal, view.mask, size);
  return view;
}

}  // namespace

Result<ViewMaps> estimate_view(const InputPhoto& photo, const learn::PhotoEstimator& estimator) {
  const int size = estimator.input_size();
  // Pass 1: the whole photo, to find the object.
  const FrameBox whole = whole_image_box(photo.rgb.width, photo.rgb.height);
  auto coarse = estimator.estimate(crop_resize(photo.rgb, whole, size));
  if (!coarse) return Result<ViewMaps>::fail(coarse.error().code, photo.name + ": " + coarse.error().message);
  FrameBox box;
  const auto coarse_view = to_view(photo.name, *coarse, Image8{});
  if (coarse_view.object_fraction() < kMinObjectFraction * 0.25 ||
      !frame_from_mask(coarse->mask, size, whole, kViewMargin, 0.5f, &box))
    return Result<ViewMaps>::fail(ErrorCode::kInvalidArgument,
                                  photo.name + ": no object found in the photo (the estimator sees only background)");
  // Pass 2: the crop around it, framed as in training.
  const Image8 framed = crop_resize(photo.rgb, box, size);
  auto fine = estimator.estimate(framed);
  if (!fine) return Result<ViewMaps>::fail(fine.error().code, photo.name + ": " + fine.error().message);
  ViewMaps view = to_view(photo.name, *fine, framed);
  if (view.object_fraction() < kMinObjectFraction)
    return Result<ViewMaps>::fail(ErrorCode::kInvalidArgument,
                                  photo.name + ": no object found in the photo (the estimator sees only background)");
  view.notes = photo.notes;
  return view;
}

Result<ViewMaps> load_depth_normal_view(const std::string& depth_path, int size) {
  namespace fs = std::filesystem;
  const std::string file = fs::path(depth_path).filename().string();
  const auto at = file.rfind("depth");
  if (at == std::string::npos)
    return Result<ViewMaps>::fail(ErrorCode::kInvalidArgument,
                                  depth_path + ": with --inputs depth-normal give the depth PNGs (names containing 'depth'; "
                                               "the normal map is the same name with 'normal')");
  const std::string normal_path =
      (fs::path(depth_path).parent_path() / (file.substr(0, at) + "normal" + file.substr(at + 5))).string();
  auto depth = read_image16(depth_path);
  if (!depth) return Result<ViewMaps>::fail(ErrorCode::kInvalidArgument, depth.error().message);
  if (depth->channels != 1)
    return Result<ViewMaps>::fail(ErrorCode::kInvalidArgument, depth_path + ": a depth map must have one channel");
  auto normal = read_image8(normal_path);
  if (!normal) return Result<ViewMaps>::fail(ErrorCode::kInvalidArgument, normal.error().message);
  if (normal->channels != 3 || normal->width != depth->width || normal->height != depth->height)
    return Result<ViewMaps>::fail(ErrorCode::kInvalidArgument,
                                  normal_path + ": the normal map must be RGB and the size of " + depth_path);
  if (depth->width != depth->height)
    return Result<ViewMaps>::fail(ErrorCode::kInvalidArgument, depth_path + ": depth maps must be square");
  auto view = frame_depth_normal(depth->pixels, normal->pixels, depth->width, size, depth_path);
  if (!view) return Result<ViewMaps>::fail(ErrorCode::kInvalidArgument, depth_path + ": the depth map is empty (no object)");
  return std::move(*view);
}

ViewMaps view_maps_of_render(const RenderedView& view, int size, const std::string& name) {
  auto framed = frame_depth_normal(view.depth, view.normal, view.size, size, name);
  if (framed) return std::move(*framed);
  ViewMaps empty;
  empty.name = name;
  empty.size = size;
  empty.depth.assign(static_cast<size_t>(size) * size, 0.0f);
  empty.mask = empty.depth;
  empty.normal.assign(empty.depth.size() * 3, 0.0f);
  empty.image = normals_to_image(empty.normal, empty.mask, size);
  return empty;
}

}  // namespace cadcrafter::app
