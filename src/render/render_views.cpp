#include "render/render_views.h"

#include <algorithm>
#include <cmath>

#include "render/random.h"
#include "util/atomic_file.h"
#include "util/parallel.h"

namespace cadcrafter {

RenderedView ViewRenderer::render(const Mesh& mesh, const Camera& camera, const RenderOptions& options,
                                  uint64_t photo_seed) {
  RenderedView v;
  v.camera = camera;
  v.size = camera.width;
  const size_t n = static_cast<size_t>(camera.width) * camera.height;
  raster_.draw(mesh, camera, &gbuffer_);
  if (options.depth) {
    v.depth.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
      if (gbuffer_.triangle[i] < 0) continue;
      const float units = std::round(gbuffer_.depth[i] * kDepthUnitsPerLength);
      v.depth[i] = static_cast<uint16_t>(std::clamp(units, 1.0f, 65535.0f));  // 0 is background
    }
  }
  if (options.normal) {
    raster_.normals(mesh, camera, gbuffer_, &normals_);
    v.normal.assign(n * 3, 128);
    for (size_t i = 0; i < n; ++i) {
      if (gbuffer_.triangle[i] < 0) continue;
      for (int c = 0; c < 3; ++c) {
        const float e = std::round((normals_[i][c] + 1.0f) * 127.5f);
        v.normal[3 * i + c] = static_cast<uint8_t>(std::clamp(e, 0.0f, 255.0f));
      }
    }
  }
  if (options.mask) {
    v.mask.assign(n, 0);
    for (size_t i = 0; i < n; ++i) v.mask[i] = gbuffer_.triangle[i] >= 0 ? 255 : 0;
  }
  if (options.rgb) v.rgb = render_photo(mesh, camera, options.photo, photo_seed, &v.photo);
  return v;
}

RenderedView render_view(const Mesh& normalized_mesh, const Camera& camera) {
  ViewRenderer r;
  return r.render(normalized_mesh, camera, RenderOptions{});
}

Status validate(const RenderOptions& o) {
  auto bad = [](const std::string& m) { return Status::fail(ErrorCode::kInvalidArgument, m); };
  if (o.sets < 1 || o.sets > 1000) return bad("--sets must be in 1..1000");
  if (o.views_per_set < 1 || o.views_per_set > 64) return bad("--views must be in 1..64");
  if (o.size < 8 || o.size > 4096) return bad("--size must be in 8..4096");
  if (!(o.depth || o.normal || o.mask || o.rgb)) return bad("no modality selected");
  if (auto photo = validate_photo_options(o.photo); !photo) return photo;
  if (!(o.camera.distance > 1.0f)) return bad("camera distance must exceed the unit sphere radius (1)");
  if (!(o.camera.fov_deg > 1.0f && o.camera.fov_deg < 170.0f)) return bad("camera FOV must be in (1, 170) degrees");
  if (!(o.camera.fov_max_deg < 170.0f)) return bad("camera FOV must be in (1, 170) degrees");
  return {};
}

std::vector<RenderedView> render_views(const Mesh& mesh, const RenderOptions& options, uint64_t seed,
                                       Normalization* normalization, int threads,
                                       const std::function<void()>& on_view_done) {
  const Normalization norm = unit_sphere_normalization(mesh);
  if (normalization) *normalization = norm;
  const Mesh unit = apply_normalization(mesh, norm);
  const std::vector<Camera> cams =
      sample_cameras(options.camera, options.sets, options.views_per_set, options.size, seed);
  std::vector<RenderedView> views(cams.size());
  std::vector<ViewRenderer> renderers(static_cast<size_t>(std::max(1, threads)));
  parallel_for(static_cast<int64_t>(cams.size()), threads, [&](int64_t i, int worker) {
    const int set = static_cast<int>(i) / options.views_per_set, view = static_cast<int>(i) % options.views_per_set;
    const uint64_t photo_seed = derive_seed(seed, 0x9407, static_cast<uint64_t>(set), static_cast<uint64_t>(view));
    views[static_cast<size_t>(i)] = renderers[static_cast<size_t>(worker)].render(unit, cams[static_cast<size_t>(i)],
                                                                                 options, photo_seed);
    views[static_cast<size_t>(i)].set = set;
    views[static_cast<size_t>(i)].view = view;
    if (on_view_done) on_view_done();
  });
  return views;
}

Image16 depth_image(const RenderedView& v) { return Image16{v.size, v.size, 1, v.depth}; }
Image8 normal_image(const RenderedView& v) { return Image8{v.size, v.size, 3, v.normal}; }
Image8 mask_image(const RenderedView& v) { return Image8{v.size, v.size, 1, v.mask}; }
Image8 rgb_image(const RenderedView& v) { return Image8{v.size, v.size, 3, v.rgb}; }

Image8 depth_preview(const RenderedView& v) {
  Image8 im{v.size, v.size, 3, std::vector<uint8_t>(static_cast<size_t>(v.size) * v.size * 3, 0)};
  uint16_t lo = 65535, hi = 0;
  for (uint16_t d : v.depth) {
    if (d == 0) continue;
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  const float span = hi > lo ? static_cast<float>(hi - lo) : 1.0f;
  for (size_t i = 0; i < v.depth.size(); ++i) {
    if (v.depth[i] == 0) continue;
    // Near = bright; the farthest visible point stays visibly above the black background.
    const float t = 1.0f - (v.depth[i] - lo) / span;
    const auto g = static_cast<uint8_t>(std::lround(60.0f + 195.0f * t));
    im.pixels[3 * i] = im.pixels[3 * i + 1] = im.pixels[3 * i + 2] = g;
  }
  return im;
}

Image8 contact_sheet(const std::vector<RenderedView>& views, int max_columns) {
  if (views.empty()) return Image8{};
  const int s = views[0].size, gap = 2;
  const int cols = std::max(1, std::min<int>(max_columns, static_cast<int>(views.size())));
  const int blocks = (static_cast<int>(views.size()) + cols - 1) / cols;
  std::vector<Image8 (*)(const RenderedView&)> rows;
  const RenderedView& first = views[0];
  if (!first.depth.empty()) rows.push_back(&depth_preview);
  if (!first.normal.empty()) rows.push_back(&normal_image);
  if (first.depth.empty() && first.normal.empty() && !first.mask.empty()) rows.push_back(&mask_image);
  if (!first.rgb.empty()) rows.push_back(&rgb_image);
  const int nrows = blocks * static_cast<int>(rows.size());
  Image8 sheet;
  sheet.width = cols * s + (cols + 1) * gap;
  sheet.height = nrows * s + (nrows + 1) * gap + (blocks - 1) * 2 * gap;  // extra space between blocks
  sheet.channels = 3;
  sheet.pixels.assign(static_cast<size_t>(sheet.width) * sheet.height * 3, 255);
  for (size_t vi = 0; vi < views.size(); ++vi) {
    const int block = static_cast<int>(vi) / cols, col = static_cast<int>(vi) % cols;
    for (size_t r = 0; r < rows.size(); ++r) {
      Image8 cell = rows[r](views[vi]);
      const int row = block * static_cast<int>(rows.size()) + static_cast<int>(r);
      const int x0 = gap + col * (s + gap), y0 = gap + row * (s + gap) + block * 2 * gap;
      for (int y = 0; y < s; ++y) {
        for (int x = 0; x < s; ++x) {
          const size_t src = (static_cast<size_t>(y) * s + x) * cell.channels;
          const size_t dst = (static_cast<size_t>(y0 + y) * sheet.width + (x0 + x)) * 3;
          for (int c = 0; c < 3; ++c) sheet.pixels[dst + c] = cell.pixels[src + (cell.channels == 3 ? c : 0)];
        }
      }
    }
  }
  return sheet;
}

Status write_render_folder(const std::string& dir, const std::vector<RenderedView>& views,
                           const RenderOptions& options, const Normalization& norm, const nlohmann::json& source) {
  nlohmann::json doc;
  doc["format"] = "cadcrafter-render-1";
  doc["source"] = source;
  doc["conventions"] = {
      {"world", "model normalised to the unit sphere: normalised = (model - center) * scale; +Z up"},
      {"camera", "OpenCV: x right, y down, z forward; p_cam = R p_world + t; pixel = K p_cam / z; "
                 "pixel (u, v) has its centre at (u + 0.5, v + 0.5), row 0 at the top"},
      {"depth_png", "16-bit grey; value = round(z * 10000), z = camera-space depth in normalised units; "
                    "0 = background"},
      {"normal_png", "8-bit RGB; value = round((n + 1) * 127.5), n = unit normal in the camera frame; "
                     "background (128, 128, 128)"},
      {"mask_png", "8-bit grey; 255 = object, 0 = background"},
      {"rgb_png", "8-bit sRGB photo-like render of the same camera (after blur, noise and JPEG)"}};
  doc["depth_units_per_length"] = kDepthUnitsPerLength;
  doc["normalization"] = {{"center", {norm.center.x, norm.center.y, norm.center.z}}, {"scale", norm.scale}};
  doc["options"] = {{"sets", options.sets},
                    {"views_per_set", options.views_per_set},
                    {"size", options.size},
                    {"distance", options.camera.distance},
                    {"fov_deg", options.camera.fov_deg},
                    {"azimuth_jitter_deg", options.camera.azimuth_jitter_deg},
                    {"elevation_range_deg", {options.camera.elevation_min_deg, options.camera.elevation_max_deg}},
                    {"below_probability", options.camera.below_probability},
                    {"below_range_deg", {options.camera.below_min_deg, options.camera.below_max_deg}},
                    {"roll_jitter_deg", options.camera.roll_jitter_deg},
                    {"target_jitter", options.camera.target_jitter}};
  nlohmann::json list = nlohmann::json::array();
  for (const RenderedView& v : views) {
    const std::string stem = dir + "/s" + std::to_string(v.set) + "_v" + std::to_string(v.view);
    const std::string name = "s" + std::to_string(v.set) + "_v" + std::to_string(v.view);
    nlohmann::json entry = {{"set", v.set}, {"view", v.view}, {"camera", camera_to_json(v.camera)}};
    Status st;
    if (!v.depth.empty() && (st = write_png(stem + "_depth.png", depth_image(v)))) entry["depth"] = name + "_depth.png";
    if (st && !v.normal.empty() && (st = write_png(stem + "_normal.png", normal_image(v))))
      entry["normal"] = name + "_normal.png";
    if (st && !v.mask.empty() && (st = write_png(stem + "_mask.png", mask_image(v)))) entry["mask"] = name + "_mask.png";
    if (st && !v.rgb.empty() && (st = write_png(stem + "_rgb.png", rgb_image(v)))) {
      entry["rgb"] = name + "_rgb.png";
      entry["photo"] = v.photo.to_json();
    }
    if (!st) return st;
    list.push_back(std::move(entry));
  }
  doc["views"] = std::move(list);
  if (Status st = write_png(dir + "/contact_sheet.png", contact_sheet(views)); !st) return st;
  return write_file_atomically(dir + "/cameras.json", doc.dump(1) + "\n");
}

}  // namespace cadcrafter
