// Photo-like RGB renders: what a casual phone photo of a 3D-printed or machined part looks
// like, so a network trained on them transfers to real photos. Per image, at random:
// - material: matte plastic, glossy plastic, metal or translucent filament (Lambert diffuse +
//   normalised Blinn-Phong specular with Schlick Fresnel; metals have tinted specular, little
//   diffuse and reflect a sky/ground environment; translucent plastic wraps light around its
//   edges, glows a little and takes soft shadows), with a random base colour;
// - surface: FDM-style layer lines along a random axis (a bump on the normal and a slight
//   albedo ripple) on plastics, fine value noise everywhere;
// - lighting: 1-3 directional lights, sometimes strongly coloured, plus a sky/ground ambient;
//   the key light casts soft shadows (percentage-closer filtered shadow map, rasterised
//   orthographically);
// - background: a vertical gradient, a noise texture, a table top (plain or wood grain) or a
//   cutting mat (grid lines) under the part with its contact and cast shadows, or a room (soft
//   out-of-focus walls, furniture and windows, sometimes with a table);
// - camera: 2x supersampling (antialiasing), Gaussian blur, vignetting, exposure and white
//   balance drift, sensor noise, sRGB, then JPEG compression at a random quality.
// The geometry (camera, silhouette) is exactly the one of the depth/normal/mask renders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "geom/mesh.h"
#include "render/camera.h"
#include "util/status.h"

namespace cadcrafter {

// Style families, by the names PhotoInfo reports. Materials: matte, glossy, metal, translucent;
// backgrounds: gradient, noise, table, mat, room. Training can leave families out
// (PhotoOptions::exclude) so that evaluation on them measures transfer to styles never seen, as
// photos from another renderer or a phone will be.
const std::vector<std::string>& photo_material_families();
const std::vector<std::string>& photo_background_families();

struct PhotoOptions {
  int supersample = 2;          // render at 2x and average down (antialiased edges)
  int shadow_map_size = 256;
  float ground_probability = 0.55f;  // a table or mat under the part (camera above it); else a backdrop
  float max_blur_sigma = 0.9f;      // pixels at the output size
  float max_noise_sigma = 0.03f;    // of full scale, per channel
  int jpeg_quality_min = 40, jpeg_quality_max = 95;
  float colored_light_probability = 0.3f;  // fill lights (and sometimes the key) get a strong hue
  // Family names never drawn. At least one material and one background must stay; a view
  // from below the table falls back to a backdrop family (or, if all are excluded, a gradient).
  std::vector<std::string> exclude;
};

// Unknown family names, every material or every background excluded, out-of-range numbers.
Status validate_photo_options(const PhotoOptions& options);

// What was drawn, for cameras.json.
struct PhotoInfo {
  std::string material;    // a material family (photo_material_families)
  std::string background;  // a background family (photo_background_families)
  float base_color[3] = {0, 0, 0};  // linear RGB
  int lights = 0;
  bool layer_lines = false;
  float blur_sigma = 0, noise_sigma = 0;
  int jpeg_quality = 0;
  nlohmann::json to_json() const;
};

// 3 x uint8 sRGB pixels (camera.width * camera.height) of a normalised mesh. Deterministic for
// a seed. `info` (optional) receives the drawn parameters.
std::vector<uint8_t> render_photo(const Mesh& normalized_mesh, const Camera& camera, const PhotoOptions& options,
                                  uint64_t seed, PhotoInfo* info = nullptr);

}  // namespace cadcrafter
