// Multi-view rendering of one model: the training images of the image -> CAD model.
//
// render_views normalises a mesh into the unit sphere, samples sets x views cameras
// (camera.h) and renders each one into compact buffers: 16-bit depth, 8-bit normals, a mask
// and optionally a photo-like RGB image (photo.h) of exactly the same camera.
//
// Encodings (also written into cameras.json by write_render_folder):
// - depth:  uint16 = round(z * 10000), z = camera-space depth in the normalised frame
//           (so 1 unit = 1/10000 of the unit-sphere radius); 0 = background.
// - normal: 3 x uint8 = round((n + 1) * 127.5), n = unit normal in the camera frame
//           (OpenCV: x right, y down, z forward, so visible normals have n.z < 0);
//           background = (128, 128, 128), i.e. decodes to ~0.
// - mask:   uint8, 255 = object, 0 = background.
// - rgb:    3 x uint8 sRGB, after the simulated camera (blur, noise, JPEG).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.h"
#include "geom/mesh.h"
#include "render/camera.h"
#include "render/image_io.h"
#include "render/photo.h"
#include "render/rasterizer.h"

namespace cadcrafter {

constexpr float kDepthUnitsPerLength = 10000.0f;

struct RenderOptions {
  int sets = 8;
  int views_per_set = 4;
  int size = 128;
  bool depth = true, normal = true, mask = true, rgb = false;
  CameraOptions camera;
  PhotoOptions photo;
};

struct RenderedView {
  int set = 0, view = 0;  // index = set * views_per_set + view
  int size = 0;
  Camera camera;
  std::vector<uint16_t> depth;  // size * size (empty if not requested)
  std::vector<uint8_t> normal;  // size * size * 3
  std::vector<uint8_t> mask;    // size * size
  std::vector<uint8_t> rgb;     // size * size * 3
  PhotoInfo photo;              // how the rgb image was made (when rgb is present)
};

// Renders depth/normal/mask (and rgb) of an already normalised mesh from one camera. Keeps
// its rasteriser buffers between calls: reuse one ViewRenderer per thread.
class ViewRenderer {
 public:
  // Back faces are culled (closed, outward-wound kernel meshes); see Rasterizer.
  ViewRenderer() { raster_.set_cull_back_faces(true); }
  RenderedView render(const Mesh& normalized_mesh, const Camera& camera, const RenderOptions& options,
                      uint64_t photo_seed = 0);

 private:
  Rasterizer raster_;
  GBuffer gbuffer_;
  std::vector<V3> normals_;
};

// One view of an already normalised mesh: depth, normal and mask at the camera's size.
RenderedView render_view(const Mesh& normalized_mesh, const Camera& camera);

// All sets x views of `mesh` (any units; it is normalised here). Deterministic for a seed.
// `threads` > 1 renders views in parallel (the dataset builder uses 1 and parallelises models).
// `on_view_done` (optional, called from worker threads) is for progress bars.
std::vector<RenderedView> render_views(const Mesh& mesh, const RenderOptions& options, uint64_t seed,
                                       Normalization* normalization = nullptr, int threads = 1,
                                       const std::function<void()>& on_view_done = {});

// Checks sizes, counts and modalities; the message names the bad option.
Status validate(const RenderOptions& options);

// Images of a view as standalone pictures (depth is shown near = bright, for people).
Image16 depth_image(const RenderedView& v);
Image8 normal_image(const RenderedView& v);
Image8 mask_image(const RenderedView& v);
Image8 rgb_image(const RenderedView& v);
Image8 depth_preview(const RenderedView& v);

// A grid a person can look at: one column per view (at most max_columns), rows = the
// modalities present (depth preview, normal, mask, rgb), repeated for further views.
Image8 contact_sheet(const std::vector<RenderedView>& views, int max_columns = 8);

// Writes <dir>/<set>_<view>_{depth,normal,mask,rgb}.png, cameras.json and contact_sheet.png.
// The caller creates dir and writes run.json. `source` is recorded in cameras.json.
Status write_render_folder(const std::string& dir, const std::vector<RenderedView>& views,
                           const RenderOptions& options, const Normalization& normalization,
                           const nlohmann::json& source);

}  // namespace cadcrafter
