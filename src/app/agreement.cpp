#include "app/agreement.h"

#include <algorithm>
#include <cmath>

#include "render/render_views.h"

namespace cadcrafter::app {

namespace {

// Mask + normals of one view, framed and resampled (nearest) to `size`.
struct FramedMaps {
  int size = 0;
  std::vector<float> mask, normal;
};

FramedMaps frame_maps(const std::vector<float>& mask, const std::vector<float>& normal, int src_size, int size) {
  FramedMaps out;
  out.size = size;
  out.mask.assign(static_cast<size_t>(size) * size, 0.0f);
  out.normal.assign(static_cast<size_t>(size) * size * 3, 0.0f);
  FrameBox box;
  if (!frame_from_mask(mask, src_size, FrameBox{0, 0, static_cast<float>(src_size)}, kViewMargin, 0.5f, &box))
    return out;
  const float step = box.side / static_cast<float>(size);
  for (int v = 0; v < size; ++v)
    for (int u = 0; u < size; ++u) {
      const int x = static_cast<int>(std::floor(box.x0 + (u + 0.5f) * step));
      const int y = static_cast<int>(std::floor(box.y0 + (v + 0.5f) * step));
      if (x < 0 || y < 0 || x >= src_size || y >= src_size) continue;
      const size_t src = static_cast<size_t>(y) * src_size + x, dst = static_cast<size_t>(v) * size + u;
      if (mask[src] <= 0.5f) continue;
      out.mask[dst] = 1.0f;
      for (int k = 0; k < 3; ++k) out.normal[dst * 3 + k] = normal[src * 3 + k];
    }
  return out;
}

FramedMaps frame_render(const RenderedView& r, int size) {
  const size_t n = static_cast<size_t>(r.size) * r.size;
  std::vector<float> mask(n), normal(n * 3);
  for (size_t i = 0; i < n; ++i) {
    mask[i] = r.mask[i] > 127 ? 1.0f : 0.0f;
    for (int k = 0; k < 3; ++k) normal[i * 3 + k] = r.normal[i * 3 + k] / 127.5f - 1.0f;
  }
  return frame_maps(mask, normal, r.size, size);
}

ViewAgreement compare(const FramedMaps& input, const FramedMaps& candidate) {
  double inter = 0, uni = 0, cos_sum = 0;
  for (size_t i = 0; i < input.mask.size(); ++i) {
    const bool a = input.mask[i] > 0.5f, b = candidate.mask[i] > 0.5f;
    if (a || b) ++uni;
    if (a && b) {
      ++inter;
      double d = 0;
      for (int k = 0; k < 3; ++k) d += input.normal[i * 3 + k] * candidate.normal[i * 3 + k];
      cos_sum += std::max(0.0, d);
    }
  }
  ViewAgreement v;
  v.mask_iou = uni > 0 ? inter / uni : 0.0;
  v.normal_agreement = inter > 0 ? cos_sum / inter : 0.0;
  v.score = v.mask_iou * (0.5 + 0.5 * v.normal_agreement);
  return v;
}

}  // namespace

Agreement measure_agreement(const Mesh& mesh, const std::vector<ViewMaps>& views, const AgreementOptions& options) {
  Agreement result;
  result.views.resize(views.size());
  if (mesh.empty() || views.empty()) return result;
  const Mesh unit = apply_normalization(mesh, unit_sphere_normalization(mesh));
  std::vector<FramedMaps> inputs;
  for (const auto& v : views) inputs.push_back(frame_maps(v.mask, v.normal, v.size, options.compare_size));
  ViewRenderer renderer;
  RenderOptions render;
  render.size = options.render_size;
  render.depth = false;
  const CameraOptions camera;
  for (float elevation : options.elevations_deg)
    for (float azimuth : options.azimuths_deg) {
      const Camera cam = look_at_camera(azimuth, elevation, camera.distance, camera.fov_deg, options.render_size);
      const FramedMaps candidate = frame_render(renderer.render(unit, cam, render), options.compare_size);
      for (size_t i = 0; i < inputs.size(); ++i) {
        ViewAgreement a = compare(inputs[i], candidate);
        if (a.score > result.views[i].score) {
          a.azimuth_deg = azimuth;
          a.elevation_deg = elevation;
          result.views[i] = a;
        }
      }
    }
  for (const auto& v : result.views) result.score += v.score;
  result.score /= static_cast<double>(views.size());
  return result;
}

int facing_quarter_turns(const Mesh& mesh, const ViewMaps& first_view, const AgreementOptions& options) {
  const Agreement a = measure_agreement(mesh, {first_view}, options);
  return a.views.empty() ? 0 : view_frame_quarter_turns(a.views.front().azimuth_deg);
}

Image8 candidate_normal_image(const Mesh& mesh, float azimuth_deg, float elevation_deg, int size) {
  const Mesh unit = apply_normalization(mesh, unit_sphere_normalization(mesh));
  const CameraOptions camera;
  const int render_size = size * 2;
  const Camera cam = look_at_camera(azimuth_deg, elevation_deg, camera.distance, camera.fov_deg, render_size);
  const RenderedView r = render_view(unit, cam);
  const size_t n = static_cast<size_t>(render_size) * render_size;
  std::vector<float> mask(n), normal(n * 3);
  for (size_t i = 0; i < n; ++i) {
    mask[i] = r.mask[i] > 127 ? 1.0f : 0.0f;
    for (int k = 0; k < 3; ++k) normal[i * 3 + k] = r.normal[i * 3 + k] / 127.5f - 1.0f;
  }
  const FramedMaps framed = frame_maps(mask, normal, render_size, size);
  return normals_to_image(framed.normal, framed.mask, size);
}

}  // namespace cadcrafter::app
