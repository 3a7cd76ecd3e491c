#include "render/photo.h"

#include <algorithm>
#include <cmath>

#include "render/image_io.h"
#include "render/random.h"
#include "render/rasterizer.h"

namespace cadcrafter {
namespace {

// ---------------------------------------------------------------------------------------------
// Procedural noise: value noise on an integer lattice with smooth interpolation. Cheap, and
// enough for print texture, table tops and backdrops.

float lattice(int x, int y, int z, uint32_t seed) {
  uint32_t h = seed ^ (static_cast<uint32_t>(x) * 0x8DA6B343u) ^ (static_cast<uint32_t>(y) * 0xD8163841u) ^
               (static_cast<uint32_t>(z) * 0xCB1AB31Fu);
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  h *= 0x297A2D39u;
  h ^= h >> 15;
  return static_cast<float>(h >> 8) * (1.0f / 16777216.0f);  // [0, 1)
}

float smooth(float t) { return t * t * (3.0f - 2.0f * t); }

float value_noise(const V3& p, uint32_t seed) {
  const float fx = std::floor(p.x), fy = std::floor(p.y), fz = std::floor(p.z);
  const int x = static_cast<int>(fx), y = static_cast<int>(fy), z = static_cast<int>(fz);
  const float tx = smooth(p.x - fx), ty = smooth(p.y - fy), tz = smooth(p.z - fz);
  auto edge = [&](int dy, int dz) {
    return lattice(x, y + dy, z + dz, seed) * (1 - tx) + lattice(x + 1, y + dy, z + dz, seed) * tx;
  };
  const float a = edge(0, 0) * (1 - ty) + edge(1, 0) * ty;
  const float b = edge(0, 1) * (1 - ty) + edge(1, 1) * ty;
  return a * (1 - tz) + b * tz;
}

// Fractal sum of octaves, in [0, 1).
float fbm(V3 p, uint32_t seed, int octaves) {
  float sum = 0, amp = 0.5f, norm = 0;
  for (int o = 0; o < octaves; ++o) {
    sum += amp * value_noise(p, seed + static_cast<uint32_t>(o) * 1013u);
    norm += amp;
    amp *= 0.5f;
    p = p * 2.03f;
  }
  return sum / norm;
}

// ---------------------------------------------------------------------------------------------
// Colour helpers. Shading happens in linear RGB; the camera converts to sRGB at the end.

float srgb_to_linear(float c) { return c <= 0.04045f ? c / 12.92f : std::pow((c + 0.055f) / 1.055f, 2.4f); }
float linear_to_srgb(float c) {
  c = std::clamp(c, 0.0f, 1.0f);
  return c <= 0.0031308f ? 12.92f * c : 1.055f * std::pow(c, 1.0f / 2.4f) - 0.055f;
}

// HSV (h in [0, 1)) to linear RGB, reading the HSV colour as sRGB.
V3 hsv_linear(float h, float s, float v) {
  const float r = std::fabs(h * 6.0f - 3.0f) - 1.0f;
  const float g = 2.0f - std::fabs(h * 6.0f - 2.0f);
  const float b = 2.0f - std::fabs(h * 6.0f - 4.0f);
  auto ch = [&](float x) { return srgb_to_linear(v * (1.0f - s + s * std::clamp(x, 0.0f, 1.0f))); };
  return {ch(r), ch(g), ch(b)};
}

V3 jitter_color(Rng& rng, V3 c, float amount) {
  return V3{c.x * static_cast<float>(1 + amount * rng.normal()), c.y * static_cast<float>(1 + amount * rng.normal()),
            c.z * static_cast<float>(1 + amount * rng.normal())};
}

// A unit vector from azimuth/elevation in degrees (Z up).
V3 direction(double az_deg, double el_deg) {
  const double az = az_deg * kPi / 180.0, el = el_deg * kPi / 180.0;
  return V3{static_cast<float>(std::cos(el) * std::cos(az)), static_cast<float>(std::cos(el) * std::sin(az)),
            static_cast<float>(std::sin(el))};
}

// ---------------------------------------------------------------------------------------------
// Everything random about one photo, drawn up front so the pixel loops are pure functions.

// In the order of photo_material_families() / photo_background_families().
enum class Material { kMatte, kGlossy, kMetal, kTranslucent };
enum class Backdrop { kGradient, kNoise, kTable, kMat, kRoom };

const char* const kMaterialNames[] = {"matte", "glossy", "metal", "translucent"};
const char* const kBackdropNames[] = {"gradient", "noise", "table", "mat", "room"};

bool excluded(const PhotoOptions& o, const char* name) {
  return std::find(o.exclude.begin(), o.exclude.end(), name) != o.exclude.end();
}

// One of `count` families by weight, skipping excluded ones and those `allowed` rejects; -1 if
// none is left.
template <typename Allowed>
int pick_family(Rng& rng, const PhotoOptions& o, const char* const* names, const double* weights, int count,
                Allowed allowed) {
  double total = 0;
  for (int i = 0; i < count; ++i)
    if (!excluded(o, names[i]) && allowed(i)) total += weights[i];
  if (total <= 0) return -1;
  double r = rng.uniform() * total;
  int last = -1;
  for (int i = 0; i < count; ++i) {
    if (excluded(o, names[i]) || !allowed(i)) continue;
    last = i;
    if ((r -= weights[i]) < 0) return i;
  }
  return last;
}

// A soft-edged rectangle in normalised image coordinates (a wall, a shelf, a window, a lamp).
struct RoomPatch {
  float u0, v0, u1, v1, edge;
  V3 color;
};

struct Light {
  V3 dir;    // world, pointing towards the light
  V3 color;  // linear radiance
};

struct Scene {
  Material material = Material::kMatte;
  V3 albedo;           // diffuse albedo (linear)
  V3 f0;               // specular reflectance at normal incidence
  float shininess = 10;
  float env_strength = 0;  // mirror-like environment reflection weight
  uint32_t noise_seed = 0;
  float grain_scale = 30, grain_amount = 0.05f;
  bool layer_lines = false;
  V3 layer_axis;
  float layer_pitch = 0.02f, layer_bump = 0.1f, layer_albedo = 0.05f;
  std::vector<Light> lights;  // lights[0] is the key light and casts shadows
  V3 sky, ground_ambient;     // ambient sky / ground radiance
  float shadow_softness = 2;  // PCF radius in shadow-map texels
  Backdrop backdrop = Backdrop::kGradient;
  V3 back_top, back_bottom;   // backdrop colours
  float back_noise_scale = 4;
  float ground_z = -1;        // table height (world), when `ground`
  V3 table;                   // table albedo
  float table_grain = 0.1f, table_falloff = 2.5f;
  bool ground = false;        // a table/mat plane under the part (table, mat; some rooms)
  bool wood = false;          // table: wood grain rings
  float wood_freq = 20, wood_angle = 0;
  float mat_pitch = 0.1f, mat_line = 0.06f, mat_angle = 0;  // mat: grid pitch (world), line width (of pitch)
  V3 mat_line_color;
  V3 mat_offset;
  std::vector<RoomPatch> room;
  float wrap = 0;             // translucent: light wraps past the terminator (0 = Lambert)
  float glow = 0;             // translucent: light scattered out everywhere
  float exposure = 1, vignette = 0, blur_sigma = 0, noise_sigma = 0;
  V3 white_balance{1, 1, 1};
  int jpeg_quality = 90;
};

Scene draw_scene(Rng& rng, const Camera& cam, const PhotoOptions& o, float mesh_min_z) {
  Scene s;
  s.noise_seed = static_cast<uint32_t>(rng.next_u64());
  static const double kMaterialWeights[] = {0.35, 0.25, 0.25, 0.15};
  const int material = pick_family(rng, o, kMaterialNames, kMaterialWeights, 4, [](int) { return true; });
  s.material = static_cast<Material>(std::max(0, material));
  if (s.material == Material::kMetal) {
    // Aluminium, steel, brass, copper, titanium, anodised tint - reflectances in linear RGB.
    static const V3 kMetals[] = {{0.91f, 0.92f, 0.92f}, {0.56f, 0.57f, 0.58f}, {0.91f, 0.78f, 0.42f},
                                 {0.95f, 0.64f, 0.54f}, {0.54f, 0.50f, 0.45f}, {0.30f, 0.45f, 0.75f}};
    const V3 metal = kMetals[rng.index(6)];
    s.f0 = jitter_color(rng, metal, 0.04f);
    s.albedo = s.f0 * 0.12f;
    s.shininess = static_cast<float>(rng.uniform(30.0, 300.0));
    s.env_strength = static_cast<float>(rng.uniform(0.6, 1.0));
    s.grain_scale = static_cast<float>(rng.uniform(40.0, 120.0));
    s.grain_amount = static_cast<float>(rng.uniform(0.02, 0.08));
  } else {
    // Print colours: mostly saturated hues, sometimes white/grey/black filament.
    const double kind = rng.uniform();
    const float h = static_cast<float>(rng.uniform());
    if (kind < 0.25) {
      s.albedo = hsv_linear(h, static_cast<float>(rng.uniform(0.0, 0.12)), static_cast<float>(rng.uniform(0.12, 0.95)));
    } else {
      s.albedo = hsv_linear(h, static_cast<float>(rng.uniform(0.45, 0.95)), static_cast<float>(rng.uniform(0.45, 0.95)));
    }
    const bool glossy = s.material == Material::kGlossy;
    s.f0 = V3{1, 1, 1} * static_cast<float>(glossy ? rng.uniform(0.04, 0.08) : rng.uniform(0.02, 0.04));
    s.shininess = static_cast<float>(glossy ? rng.uniform(40.0, 250.0) : rng.uniform(4.0, 16.0));
    s.env_strength = glossy ? static_cast<float>(rng.uniform(0.2, 0.5)) : 0.0f;
    if (s.material == Material::kTranslucent) {
      // PETG/PLA "natural" and clear-tinted filament: light, washed-out colours, soft shading.
      s.albedo = hsv_linear(static_cast<float>(rng.uniform()), static_cast<float>(rng.uniform(0.0, 0.6)),
                            static_cast<float>(rng.uniform(0.7, 1.0)));
      s.f0 = V3{1, 1, 1} * static_cast<float>(rng.uniform(0.04, 0.07));
      s.shininess = static_cast<float>(rng.uniform(20.0, 120.0));
      s.env_strength = static_cast<float>(rng.uniform(0.1, 0.3));
      s.wrap = static_cast<float>(rng.uniform(0.4, 0.9));
      s.glow = static_cast<float>(rng.uniform(0.1, 0.35));
    }
    s.grain_scale = static_cast<float>(rng.uniform(20.0, 60.0));
    s.grain_amount = static_cast<float>(rng.uniform(0.02, 0.08));
    s.layer_lines = rng.chance(0.75);
  }
  // Layer lines run across the print's build axis: usually a model axis, sometimes any.
  const int axis = rng.index(4);
  s.layer_axis = axis == 0 ? V3{1, 0, 0} : axis == 1 ? V3{0, 1, 0} : V3{0, 0, 1};
  if (axis == 3) s.layer_axis = normalize(V3{static_cast<float>(rng.normal()), static_cast<float>(rng.normal()),
                                             static_cast<float>(rng.normal())});
  s.layer_pitch = static_cast<float>(rng.uniform(0.012, 0.035));
  s.layer_bump = static_cast<float>(rng.uniform(0.06, 0.2));
  s.layer_albedo = static_cast<float>(rng.uniform(0.02, 0.08));

  // Key light from the camera's side of the object, above it; 0-2 fill lights anywhere.
  const int n_lights = 1 + rng.index(3);
  const V3 warm_or_cool = jitter_color(rng, V3{1, 1, 1}, 0.06f);
  s.lights.push_back({direction(cam.azimuth_deg + rng.uniform(-70.0, 70.0), rng.uniform(30.0, 75.0)),
                      warm_or_cool * static_cast<float>(rng.uniform(2.2, 3.2))});
  for (int i = 1; i < n_lights; ++i) {
    s.lights.push_back({direction(rng.uniform(0.0, 360.0), rng.uniform(5.0, 60.0)),
                        jitter_color(rng, V3{1, 1, 1}, 0.1f) * static_cast<float>(rng.uniform(0.3, 1.0))});
  }
  // Coloured light: an LED strip, a screen, sunset through a window. Hue keeps the luminance.
  if (rng.chance(o.colored_light_probability)) {
    const size_t first = s.lights.size() > 1 && rng.chance(0.7) ? 1 : 0;
    for (size_t i = first; i < s.lights.size(); ++i) {
      const V3 tint = hsv_linear(static_cast<float>(rng.uniform()), static_cast<float>(rng.uniform(0.3, 0.75)), 1.0f);
      const float luma = 0.2126f * tint.x + 0.7152f * tint.y + 0.0722f * tint.z;
      s.lights[i].color = s.lights[i].color * tint * (1.0f / std::max(luma, 0.05f));
    }
  }
  const float ambient = static_cast<float>(rng.uniform(0.18, 0.45));
  s.sky = jitter_color(rng, V3{0.95f, 0.97f, 1.0f}, 0.05f) * ambient;
  s.ground_ambient = jitter_color(rng, V3{0.55f, 0.5f, 0.45f}, 0.08f) * ambient;
  s.shadow_softness = static_cast<float>(rng.uniform(1.0, 3.5));

  // Backdrop: a table or mat under the part only when the camera looks from above it.
  const bool above = cam.position().z > mesh_min_z + 0.2f;
  const double g = o.ground_probability, rest = 1.0 - g;
  const double kBackdropWeights[] = {rest * 0.3, rest * 0.3, g * 0.6, g * 0.4, rest * 0.4};
  auto is_ground = [](int i) { return i == static_cast<int>(Backdrop::kTable) || i == static_cast<int>(Backdrop::kMat); };
  int backdrop = pick_family(rng, o, kBackdropNames, kBackdropWeights, 5, [&](int i) { return above || !is_ground(i); });
  if (backdrop < 0) backdrop = static_cast<int>(Backdrop::kGradient);  // below the table, every backdrop excluded
  s.backdrop = static_cast<Backdrop>(backdrop);
  s.ground = s.backdrop == Backdrop::kTable || s.backdrop == Backdrop::kMat ||
             (s.backdrop == Backdrop::kRoom && above && rng.chance(0.5));
  const float hue = static_cast<float>(rng.uniform());
  const float sat = static_cast<float>(rng.uniform(0.0, 0.35));
  const float val = static_cast<float>(rng.uniform(0.25, 0.95));
  s.back_top = hsv_linear(hue, sat, val);
  s.back_bottom = hsv_linear(std::fmod(hue + static_cast<float>(rng.uniform(-0.1, 0.1)) + 1.0f, 1.0f),
                             std::min(1.0f, sat * 1.2f), val * static_cast<float>(rng.uniform(0.45, 0.95)));
  s.back_noise_scale = static_cast<float>(rng.uniform(2.0, 12.0));
  s.ground_z = mesh_min_z;
  static const V3 kTables[] = {{0.55f, 0.36f, 0.2f}, {0.8f, 0.8f, 0.78f}, {0.12f, 0.12f, 0.13f},
                               {0.35f, 0.36f, 0.38f}, {0.6f, 0.5f, 0.38f}};
  s.table = jitter_color(rng, kTables[rng.index(5)], 0.08f);
  s.table = V3{srgb_to_linear(s.table.x), srgb_to_linear(s.table.y), srgb_to_linear(s.table.z)};
  s.table_grain = static_cast<float>(rng.uniform(0.05, 0.3));
  s.table_falloff = static_cast<float>(rng.uniform(2.0, 5.0));
  s.wood = rng.chance(0.5);
  s.wood_freq = static_cast<float>(rng.uniform(8.0, 30.0));
  s.wood_angle = static_cast<float>(rng.uniform(0.0, kPi));
  if (s.backdrop == Backdrop::kMat) {
    // Self-healing cutting mats: green, blue, grey or black with a light grid.
    static const V3 kMats[] = {{0.05f, 0.25f, 0.12f}, {0.06f, 0.12f, 0.3f}, {0.2f, 0.21f, 0.22f}, {0.04f, 0.04f, 0.05f}};
    const V3 mat = jitter_color(rng, kMats[rng.index(4)], 0.1f);
    s.table = V3{srgb_to_linear(mat.x), srgb_to_linear(mat.y), srgb_to_linear(mat.z)};
    s.table_grain = static_cast<float>(rng.uniform(0.02, 0.08));
    s.mat_pitch = static_cast<float>(rng.uniform(0.15, 0.45));  // 1 cm under a 5-15 cm part
    s.mat_line = static_cast<float>(rng.uniform(0.025, 0.06));
    s.mat_angle = static_cast<float>(rng.uniform(0.0, kPi));
    s.mat_offset = V3{static_cast<float>(rng.uniform()), static_cast<float>(rng.uniform()), 0};
    s.mat_line_color = rng.chance(0.7) ? V3{0.75f, 0.78f, 0.72f} : V3{0.8f, 0.7f, 0.25f};
    s.table_falloff = static_cast<float>(rng.uniform(3.0, 8.0));
  }
  if (s.backdrop == Backdrop::kRoom) {
    // Out-of-focus room: a wall colour, then soft blocks of furniture, shelves, windows, lamps.
    const int patches = 3 + rng.index(6);
    for (int i = 0; i < patches; ++i) {
      RoomPatch p;
      const float cu = static_cast<float>(rng.uniform(-0.1, 1.1)), cv = static_cast<float>(rng.uniform(-0.1, 1.1));
      const float hu = static_cast<float>(rng.uniform(0.05, 0.5)), hv = static_cast<float>(rng.uniform(0.05, 0.5));
      p.u0 = cu - hu;
      p.u1 = cu + hu;
      p.v0 = cv - hv;
      p.v1 = cv + hv;
      p.edge = static_cast<float>(rng.uniform(0.01, 0.08));
      const bool bright = rng.chance(0.2);  // a window or a lamp
      p.color = bright ? hsv_linear(static_cast<float>(rng.uniform(0.05, 0.6)), static_cast<float>(rng.uniform(0.0, 0.2)),
                                    1.0f) * static_cast<float>(rng.uniform(1.2, 2.5))
                       : hsv_linear(static_cast<float>(rng.uniform()), static_cast<float>(rng.uniform(0.0, 0.6)),
                                    static_cast<float>(rng.uniform(0.1, 0.9)));
      s.room.push_back(p);
    }
  }

  // The camera.
  s.exposure = static_cast<float>(rng.uniform(0.8, 1.2));
  s.white_balance = jitter_color(rng, V3{1, 1, 1}, 0.04f);
  s.vignette = static_cast<float>(rng.uniform(0.0, 0.35));
  s.blur_sigma = static_cast<float>(rng.uniform(0.0, o.max_blur_sigma));
  s.noise_sigma = static_cast<float>(rng.uniform(0.0, o.max_noise_sigma));
  s.jpeg_quality = o.jpeg_quality_min + rng.index(o.jpeg_quality_max - o.jpeg_quality_min + 1);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Shadows: an orthographic depth map from the light; a point is lit where it is not farther
// from the light than the map says. Percentage-closer filtering over a small grid softens edges.

struct ShadowMap {
  Camera cam;
  GBuffer g;
  float texel = 0;  // world units per texel

  void build(Rasterizer& r, const Mesh& mesh, const V3& toward_light, int size) {
    const float half_extent = 1.05f;
    cam = orthographic_camera(toward_light, half_extent, size);
    texel = 2 * half_extent / size;
    r.draw(mesh, cam, &g);
  }

  // Fraction of light reaching world point p, averaged over a (2k+1)^2 grid of `radius` texels.
  float visibility(const V3& p, float radius, int k, float bias) const {
    const V3 c = cam.to_camera(p);
    const float u = cam.fx * c.x + cam.cx, v = cam.fy * c.y + cam.cy;
    const float step = k > 0 ? radius / k : 0;
    int lit = 0, total = 0;
    for (int j = -k; j <= k; ++j) {
      for (int i = -k; i <= k; ++i) {
        ++total;
        const int x = static_cast<int>(std::floor(u + i * step)), y = static_cast<int>(std::floor(v + j * step));
        if (x < 0 || y < 0 || x >= g.width || y >= g.height) {
          ++lit;
          continue;
        }
        const size_t idx = static_cast<size_t>(y) * g.width + x;
        if (g.triangle[idx] < 0 || c.z - bias <= g.depth[idx]) ++lit;
      }
    }
    return static_cast<float>(lit) / static_cast<float>(total);
  }
};

// Sky above, ground below, with some lumpy variation so metal reflects "a room", not a void.
V3 environment(const Scene& s, const V3& dir) {
  const float t = dir.z;
  V3 c = t >= 0 ? lerp(s.sky * 1.6f, s.sky * 2.4f, std::sqrt(t)) : lerp(s.sky * 1.2f, s.ground_ambient * 0.8f, std::min(1.0f, -t * 4));
  const float lumps = value_noise(dir * 2.5f, s.noise_seed ^ 0xE1u);
  return c * (0.55f + 0.9f * lumps);
}

float schlick(float f0, float cos_theta) {
  const float m = 1.0f - std::clamp(cos_theta, 0.0f, 1.0f);
  return f0 + (1.0f - f0) * m * m * m * m * m;
}

V3 shade_surface(const Scene& s, const ShadowMap& key_shadow, V3 p, V3 n, const V3& to_eye) {
  const uint32_t seed = s.noise_seed;
  V3 albedo = s.albedo;
  // Fine grain (fibres, tool marks, dust) on colour.
  const float grain = fbm(p * s.grain_scale, seed, 2) - 0.5f;
  albedo *= 1.0f + 2.0f * s.grain_amount * grain;
  if (s.layer_lines) {
    // Layer ridges: a sine across the layers bumps the normal and ripples the colour.
    const float phase = static_cast<float>(2.0 * kPi) * dot(p, s.layer_axis) / s.layer_pitch;
    const float slope = std::cos(phase) * s.layer_bump;
    const V3 tangent = s.layer_axis - n * dot(n, s.layer_axis);
    n = normalize(n + tangent * slope);
    albedo *= 1.0f - s.layer_albedo * (0.5f + 0.5f * std::sin(phase));
  }
  const float n_dot_v = std::max(dot(n, to_eye), 0.0f);
  V3 color = albedo * lerp(s.ground_ambient, s.sky, 0.5f + 0.5f * n.z);
  const float spec_norm = (s.shininess + 8.0f) / (8.0f * static_cast<float>(kPi));
  for (size_t i = 0; i < s.lights.size(); ++i) {
    const Light& l = s.lights[i];
    const float n_dot_l_raw = dot(n, l.dir);
    // Translucent plastic: light wraps past the terminator and shadows are lifted.
    const float n_dot_l = s.wrap > 0 ? (n_dot_l_raw + s.wrap) / (1.0f + s.wrap) : n_dot_l_raw;
    if (n_dot_l <= 0) continue;
    float vis = 1.0f;
    if (i == 0) vis = key_shadow.visibility(p + n * (2.5f * key_shadow.texel), 1.0f, 1, 1.5f * key_shadow.texel);
    if (s.wrap > 0) vis = 0.4f + 0.6f * vis;
    if (vis <= 0) continue;
    const V3 h = normalize(l.dir + to_eye);
    const float n_dot_h = std::max(dot(n, h), 0.0f);
    const float v_dot_h = std::max(dot(to_eye, h), 0.0f);
    const float lobe = spec_norm * std::pow(n_dot_h, s.shininess) * n_dot_l;
    const V3 fresnel{schlick(s.f0.x, v_dot_h), schlick(s.f0.y, v_dot_h), schlick(s.f0.z, v_dot_h)};
    color += (albedo * n_dot_l + fresnel * lobe) * l.color * vis;
  }
  if (s.glow > 0) {
    V3 total;
    for (const Light& l : s.lights) total += l.color;
    color += albedo * total * (s.glow * 0.25f);
  }
  if (s.env_strength > 0) {
    const V3 reflected = n * (2.0f * dot(n, to_eye)) - to_eye;
    const V3 fresnel{schlick(s.f0.x, n_dot_v), schlick(s.f0.y, n_dot_v), schlick(s.f0.z, n_dot_v)};
    color += environment(s, reflected) * fresnel * s.env_strength;
  }
  return color;
}

// `pixel_angle`: the angle one output pixel subtends (1 / focal length in pixels), to filter
// the mat's grid where it gets finer than the pixels (no moire).
V3 shade_background(const Scene& s, const ShadowMap& key_shadow, const ShadowMap& top_shadow, const V3& eye,
                    const V3& ray, float u01, float v01, float pixel_angle) {
  V3 backdrop;
  if (s.backdrop == Backdrop::kNoise) {
    const float t = fbm(V3{u01 * s.back_noise_scale, v01 * s.back_noise_scale, 0.5f}, s.noise_seed ^ 0xBAu, 4);
    backdrop = lerp(s.back_bottom, s.back_top, std::clamp(1.4f * (t - 0.5f) + 0.5f, 0.0f, 1.0f));
  } else {
    backdrop = lerp(s.back_top, s.back_bottom, v01);
  }
  for (const RoomPatch& p : s.room) {
    // Coverage with soft edges: out of focus, far behind the part.
    auto ramp = [&](float d) { return std::clamp(0.5f + d / (2.0f * p.edge), 0.0f, 1.0f); };
    const float w = ramp(u01 - p.u0) * ramp(p.u1 - u01) * ramp(v01 - p.v0) * ramp(p.v1 - v01);
    backdrop = lerp(backdrop, p.color, w);
  }
  if (!s.ground || ray.z >= -1e-4f) return backdrop;
  const float t = (s.ground_z - eye.z) / ray.z;
  if (t <= 0) return backdrop;
  const V3 hit = eye + ray * t;
  // Table: albedo with a grain texture, lit by the lights (with the part's shadow) and sky.
  const float ca = std::cos(s.wood_angle), sa = std::sin(s.wood_angle);
  const float along = ca * hit.x + sa * hit.y, across = -sa * hit.x + ca * hit.y;
  const float grain = fbm(V3{along * 3.0f, across * 12.0f, 0.0f}, s.noise_seed ^ 0x7Au, 3) - 0.5f;
  V3 albedo = s.table * (1.0f + 2.0f * s.table_grain * grain);
  if (s.backdrop == Backdrop::kMat) {
    // Grid lines, every fifth one heavier.
    const float cm = std::cos(s.mat_angle), sm = std::sin(s.mat_angle);
    const float gx = (cm * hit.x + sm * hit.y) / s.mat_pitch + s.mat_offset.x;
    const float gy = (-sm * hit.x + cm * hit.y) / s.mat_pitch + s.mat_offset.y;
    auto line = [&](float c) {
      const float d = std::fabs(c - std::round(c));
      const bool major = static_cast<long>(std::lround(c)) % 5 == 0;
      const float width = s.mat_line * (major ? 2.0f : 1.0f);
      return std::clamp(1.0f - (d - 0.5f * width) / (0.5f * width), 0.0f, 1.0f);
    };
    // Grid cells per pixel on the table (slanted views stretch the footprint): below ~3 pixels
    // a cell fades to the lines' mean coverage.
    const float footprint = t * pixel_angle / std::max(-ray.z, 0.15f);
    const float fade = std::clamp((s.mat_pitch / footprint - 3.0f) / 4.0f, 0.0f, 1.0f);
    const float mean = 2.0f * 1.6f * s.mat_line;
    const float cover = fade * std::max(line(gx), line(gy)) + (1.0f - fade) * mean;
    albedo = lerp(albedo, s.mat_line_color, 0.8f * cover);
  } else if (s.wood) {
    // Rings: a sine across the grain, warped by the grain noise.
    const float ring = 0.5f + 0.5f * std::sin(s.wood_freq * across + 6.0f * grain);
    albedo *= 0.8f + 0.35f * ring;
  }
  // Contact shadow: how much of the part lies straight above (a blurred top-down map).
  const float open_sky = top_shadow.visibility(hit, 6.0f, 2, 2.0f * top_shadow.texel);
  V3 light = s.sky * (0.35f + 0.65f * open_sky);
  for (size_t i = 0; i < s.lights.size(); ++i) {
    const float cos_l = s.lights[i].dir.z;
    if (cos_l <= 0) continue;
    const float vis = i == 0 ? key_shadow.visibility(hit, s.shadow_softness, 2, 2.0f * key_shadow.texel) : 1.0f;
    light += s.lights[i].color * (cos_l * vis);
  }
  V3 table = albedo * light;
  // The table fades into the backdrop with distance from the part (a finite table, a wall).
  const float r = std::sqrt(hit.x * hit.x + hit.y * hit.y);
  const float w = std::exp(-std::max(0.0f, r - 1.0f) / s.table_falloff);
  return lerp(backdrop, table, w);
}

// Separable Gaussian blur of a linear RGB image in place.
void gaussian_blur(std::vector<V3>& img, int w, int h, float sigma) {
  if (sigma < 0.3f) return;
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<float> k(static_cast<size_t>(2 * radius + 1));
  float sum = 0;
  for (int i = -radius; i <= radius; ++i) sum += k[static_cast<size_t>(i + radius)] = std::exp(-0.5f * i * i / (sigma * sigma));
  for (float& x : k) x /= sum;
  std::vector<V3> tmp(img.size());
  for (int pass = 0; pass < 2; ++pass) {
    const std::vector<V3>& src = pass == 0 ? img : tmp;
    std::vector<V3>& dst = pass == 0 ? tmp : img;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        V3 acc;
        for (int i = -radius; i <= radius; ++i) {
          const int sx = pass == 0 ? std::clamp(x + i, 0, w - 1) : x;
          const int sy = pass == 0 ? y : std::clamp(y + i, 0, h - 1);
          acc += src[static_cast<size_t>(sy) * w + sx] * k[static_cast<size_t>(i + radius)];
        }
        dst[static_cast<size_t>(y) * w + x] = acc;
      }
    }
  }
}

// A soft shoulder instead of a hard clip, so highlights roll off like a real sensor's.
float soft_clip(float c) {
  const float knee = 0.8f;
  return c < knee ? c : knee + (1.0f - knee) * (1.0f - std::exp(-(c - knee) / (1.0f - knee)));
}

}  // namespace

const std::vector<std::string>& photo_material_families() {
  static const std::vector<std::string> names(std::begin(kMaterialNames), std::end(kMaterialNames));
  return names;
}

const std::vector<std::string>& photo_background_families() {
  static const std::vector<std::string> names(std::begin(kBackdropNames), std::end(kBackdropNames));
  return names;
}

Status validate_photo_options(const PhotoOptions& o) {
  auto bad = [](const std::string& why) { return Status::fail(ErrorCode::kInvalidArgument, "photo options: " + why); };
  const auto& materials = photo_material_families();
  const auto& backgrounds = photo_background_families();
  int materials_left = static_cast<int>(materials.size()), backgrounds_left = static_cast<int>(backgrounds.size());
  std::vector<std::string> seen;
  for (const std::string& name : o.exclude) {
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    if (std::find(materials.begin(), materials.end(), name) != materials.end()) --materials_left;
    else if (std::find(backgrounds.begin(), backgrounds.end(), name) != backgrounds.end()) --backgrounds_left;
    else return bad("unknown style family '" + name + "' (materials: matte, glossy, metal, translucent; "
                    "backgrounds: gradient, noise, table, mat, room)");
  }
  if (materials_left == 0) return bad("every material family is excluded");
  if (backgrounds_left == 0) return bad("every background family is excluded");
  if (o.supersample < 1 || o.supersample > 4) return bad("supersample must be in 1..4");
  if (o.jpeg_quality_min < 1 || o.jpeg_quality_max > 100 || o.jpeg_quality_min > o.jpeg_quality_max)
    return bad("JPEG quality range must lie in 1..100");
  if (!(o.ground_probability >= 0 && o.ground_probability <= 1) ||
      !(o.colored_light_probability >= 0 && o.colored_light_probability <= 1))
    return bad("probabilities must lie in [0, 1]");
  return {};
}

nlohmann::json PhotoInfo::to_json() const {
  return {{"material", material},
          {"background", background},
          {"base_color_linear", {base_color[0], base_color[1], base_color[2]}},
          {"lights", lights},
          {"layer_lines", layer_lines},
          {"blur_sigma", blur_sigma},
          {"noise_sigma", noise_sigma},
          {"jpeg_quality", jpeg_quality}};
}

std::vector<uint8_t> render_photo(const Mesh& mesh, const Camera& camera, const PhotoOptions& o, uint64_t seed,
                                  PhotoInfo* info) {
  Rng rng(seed);
  float min_z = 1.0f;
  for (const auto& v : mesh.vertices) min_z = std::min(min_z, v[2]);
  const Scene s = draw_scene(rng, camera, o, min_z);

  Rasterizer raster;
  ShadowMap key_shadow, top_shadow;
  key_shadow.build(raster, mesh, s.lights[0].dir, o.shadow_map_size);
  if (s.ground) top_shadow.build(raster, mesh, V3{0, 0, 1}, 96);

  const int ss = std::max(1, o.supersample);
  const Camera big = camera.scaled(ss);
  GBuffer g;
  raster.draw(mesh, big, &g);
  std::vector<V3> normals;
  raster.normals(mesh, big, g, &normals);

  const int W = big.width;
  const int w = camera.width, h = camera.height;
  const M3 to_world = big.rotation.transposed();
  const V3 eye = big.position();
  // Shade each output pixel's sub-samples and average them (box filter = antialiasing). The
  // background is smooth, so it is shaded once per output pixel, and only if some sub-sample
  // misses the part: the outline gets supersampled, the backdrop costs one sample.
  std::vector<V3> img(static_cast<size_t>(w) * h);
  const float inv = 1.0f / static_cast<float>(ss * ss);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      V3 acc;
      int misses = 0;
      for (int dy = 0; dy < ss; ++dy) {
        for (int dx = 0; dx < ss; ++dx) {
          const int i = (y * ss + dy) * W + (x * ss + dx);
          if (!g.covered(i)) {
            ++misses;
            continue;
          }
          const V3 p = big.to_world(Rasterizer::surface_point(big, g, i));
          const V3 n = to_world * normals[static_cast<size_t>(i)];
          acc += shade_surface(s, key_shadow, p, n, normalize(eye - p));
        }
      }
      if (misses > 0) {
        const V3 ray_cam{(x + 0.5f - camera.cx) / camera.fx, (y + 0.5f - camera.cy) / camera.fy, 1.0f};
        acc += shade_background(s, key_shadow, top_shadow, eye, normalize(to_world * ray_cam), (x + 0.5f) / w,
                                (y + 0.5f) / h, 1.0f / camera.fx) * static_cast<float>(misses);
      }
      img[static_cast<size_t>(y) * w + x] = acc * inv;
    }
  }
  gaussian_blur(img, w, h, s.blur_sigma);

  Image8 out{w, h, 3, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      const float dx = (x + 0.5f) / w - 0.5f, dy = (y + 0.5f) / h - 0.5f;
      const float gain = s.exposure * (1.0f - s.vignette * 2.0f * (dx * dx + dy * dy));
      const V3 c = img[i] * s.white_balance * gain;
      const float luma_noise = static_cast<float>(rng.normal()) * s.noise_sigma;
      for (int ch = 0; ch < 3; ++ch) {
        float v = linear_to_srgb(soft_clip(c[ch]));
        v += luma_noise + 0.5f * s.noise_sigma * static_cast<float>(rng.normal());
        out.pixels[3 * i + ch] = static_cast<uint8_t>(std::clamp(std::lround(v * 255.0f), 0L, 255L));
      }
    }
  }
  auto jpeg = jpeg_round_trip(out, s.jpeg_quality);
  if (jpeg) out = std::move(jpeg.value());  // encoding our own valid image cannot fail in practice

  if (info) {
    info->material = kMaterialNames[static_cast<int>(s.material)];
    info->background = kBackdropNames[static_cast<int>(s.backdrop)];
    const V3 base = s.material == Material::kMetal ? s.f0 : s.albedo;
    info->base_color[0] = base.x;
    info->base_color[1] = base.y;
    info->base_color[2] = base.z;
    info->lights = static_cast<int>(s.lights.size());
    info->layer_lines = s.layer_lines;
    info->blur_sigma = s.blur_sigma;
    info->noise_sigma = s.noise_sigma;
    info->jpeg_quality = s.jpeg_quality;
  }
  return std::move(out.pixels);
}

}  // namespace cadcrafter
