#include "render/camera.h"

#include <algorithm>
#include <cmath>

#include "render/random.h"

namespace cadcrafter {
namespace {

float radians(float deg) { return static_cast<float>(deg * kPi / 180.0); }

// Rotation whose rows are the camera axes (right, down, forward) in world coordinates.
M3 rotation_from_axes(const V3& right, const V3& down, const V3& forward) {
  M3 r;
  r.m[0] = {right.x, right.y, right.z};
  r.m[1] = {down.x, down.y, down.z};
  r.m[2] = {forward.x, forward.y, forward.z};
  return r;
}

// Camera axes looking along `forward` with world +Z as up (or +Y when looking straight up/down).
void look_axes(const V3& forward, V3* right, V3* down) {
  V3 up{0, 0, 1};
  if (std::fabs(dot(forward, up)) > 0.999f) up = V3{0, 1, 0};
  *right = normalize(cross(forward, up));
  *down = cross(forward, *right);  // right x down = forward: a right-handed frame
}

}  // namespace

std::array<double, 9> Camera::intrinsics() const {
  return {fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0};
}

std::array<double, 12> Camera::extrinsics() const {
  std::array<double, 12> e{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) e[r * 4 + c] = rotation.m[r][c];
    e[r * 4 + 3] = translation[r];
  }
  return e;
}

Camera Camera::scaled(int factor) const {
  Camera c = *this;
  c.width *= factor;
  c.height *= factor;
  c.fx *= factor;
  c.fy *= factor;
  c.cx *= factor;
  c.cy *= factor;
  return c;
}

Camera look_at_camera(float azimuth_deg, float elevation_deg, float distance, float fov_deg, int size,
                      float roll_deg, V3 target) {
  const float el = radians(std::clamp(elevation_deg, -85.0f, 85.0f));
  const float az = radians(azimuth_deg);
  const V3 eye = target + V3{std::cos(el) * std::cos(az), std::cos(el) * std::sin(az), std::sin(el)} * distance;
  const V3 forward = normalize(target - eye);
  V3 right, down;
  look_axes(forward, &right, &down);
  if (roll_deg != 0.0f) {  // rotate the image axes about the optical axis
    const float a = radians(roll_deg), c = std::cos(a), s = std::sin(a);
    const V3 r2 = right * c + down * s;
    down = down * c - right * s;
    right = r2;
  }
  Camera cam;
  cam.width = cam.height = size;
  cam.fx = cam.fy = static_cast<float>(0.5 * size / std::tan(0.5 * radians(fov_deg)));
  cam.cx = cam.cy = 0.5f * size;
  cam.rotation = rotation_from_axes(right, down, forward);
  cam.translation = -(cam.rotation * eye);
  cam.azimuth_deg = azimuth_deg;
  cam.elevation_deg = elevation_deg;
  cam.distance = distance;
  cam.fov_deg = fov_deg;
  cam.roll_deg = roll_deg;
  cam.target = target;
  return cam;
}

Camera orthographic_camera(V3 toward_camera, float half_extent, int size) {
  const V3 forward = -normalize(toward_camera);
  V3 right, down;
  look_axes(forward, &right, &down);
  Camera cam;
  cam.orthographic = true;
  cam.width = cam.height = size;
  cam.fx = cam.fy = 0.5f * size / half_extent;
  cam.cx = cam.cy = 0.5f * size;
  cam.rotation = rotation_from_axes(right, down, forward);
  // Centre 3 units back along the direction, so every point of the unit sphere has z in [2, 4].
  cam.translation = -(cam.rotation * (normalize(toward_camera) * 3.0f));
  cam.distance = 3.0f;
  return cam;
}

std::vector<Camera> sample_cameras(const CameraOptions& o, int sets, int views, int size, uint64_t seed) {
  std::vector<Camera> cams;
  cams.reserve(static_cast<size_t>(std::max(0, sets * views)));
  for (int s = 0; s < sets; ++s) {
    Rng rng(derive_seed(seed, 0xCA3E5A, static_cast<uint64_t>(s)));
    Rng zoom(derive_seed(seed, 0x200F, static_cast<uint64_t>(s)));  // apart, so zoom leaves the rest unchanged
    const double base = rng.uniform(0.0, 360.0);
    for (int k = 0; k < views; ++k) {
      const double az = base + k * 360.0 / views + rng.uniform(-o.azimuth_jitter_deg, o.azimuth_jitter_deg);
      const bool below = rng.chance(o.below_probability);
      const double el = below ? rng.uniform(o.below_min_deg, o.below_max_deg)
                              : rng.uniform(o.elevation_min_deg, o.elevation_max_deg);
      // Always draw the jitter numbers, so turning jitter on or off leaves az/el unchanged.
      const double roll = rng.uniform(-1.0, 1.0) * o.roll_jitter_deg;
      V3 target;
      target.x = static_cast<float>(rng.uniform(-1.0, 1.0) * o.target_jitter);
      target.y = static_cast<float>(rng.uniform(-1.0, 1.0) * o.target_jitter);
      target.z = static_cast<float>(rng.uniform(-1.0, 1.0) * o.target_jitter);
      const double fov = o.fov_max_deg > o.fov_deg ? zoom.uniform(o.fov_deg, o.fov_max_deg) : o.fov_deg;
      cams.push_back(look_at_camera(static_cast<float>(std::fmod(az, 360.0)), static_cast<float>(el), o.distance,
                                    static_cast<float>(fov), size, static_cast<float>(roll), target));
    }
  }
  return cams;
}

int view_frame_quarter_turns(float azimuth_deg) {
  if (!std::isfinite(azimuth_deg)) return 0;
  double a = std::fmod(static_cast<double>(azimuth_deg), 360.0);
  if (a < 0) a += 360.0;
  return static_cast<int>(std::floor(a / 90.0 + 0.5)) % 4;
}

float camera_azimuth_deg(const std::array<double, 12>& e) {
  // centre = -R^T t; only its x and y matter.
  const double x = -(e[0] * e[3] + e[4] * e[7] + e[8] * e[11]);
  const double y = -(e[1] * e[3] + e[5] * e[7] + e[9] * e[11]);
  double deg = std::atan2(y, x) * 180.0 / kPi;
  if (deg < 0) deg += 360.0;
  const auto out = static_cast<float>(deg);
  return out >= 360.0f ? 0.0f : out;
}

float camera_azimuth_deg(const std::array<float, 12>& e) {
  std::array<double, 12> d{};
  std::copy(e.begin(), e.end(), d.begin());
  return camera_azimuth_deg(d);
}

float camera_azimuth_deg(const Camera& camera) { return camera_azimuth_deg(camera.extrinsics()); }

Normalization unit_sphere_normalization(const Mesh& mesh) {
  Normalization n;
  if (mesh.vertices.empty()) return n;
  V3 lo(mesh.vertices[0]), hi(mesh.vertices[0]);
  for (const auto& v : mesh.vertices) {
    lo = V3{std::min(lo.x, v[0]), std::min(lo.y, v[1]), std::min(lo.z, v[2])};
    hi = V3{std::max(hi.x, v[0]), std::max(hi.y, v[1]), std::max(hi.z, v[2])};
  }
  n.center = (lo + hi) * 0.5f;
  // Radius about the box centre in double: the farthest vertex must land at distance <= 1.
  double r2 = 0.0;
  for (const auto& v : mesh.vertices) {
    const double dx = v[0] - n.center.x, dy = v[1] - n.center.y, dz = v[2] - n.center.z;
    r2 = std::max(r2, dx * dx + dy * dy + dz * dz);
  }
  n.scale = r2 > 0.0 ? static_cast<float>(1.0 / std::sqrt(r2)) : 1.0f;
  return n;
}

Mesh apply_normalization(const Mesh& mesh, const Normalization& n) {
  Mesh out = mesh;
  for (auto& v : out.vertices) {
    v = {(v[0] - n.center.x) * n.scale, (v[1] - n.center.y) * n.scale, (v[2] - n.center.z) * n.scale};
  }
  return out;  // normals are unchanged by a uniform scale and a translation
}

nlohmann::json camera_to_json(const Camera& c) {
  nlohmann::json j;
  j["width"] = c.width;
  j["height"] = c.height;
  j["projection"] = c.orthographic ? "orthographic" : "perspective";
  const auto k = c.intrinsics();
  const auto e = c.extrinsics();
  j["K"] = {{k[0], k[1], k[2]}, {k[3], k[4], k[5]}, {k[6], k[7], k[8]}};
  j["world_to_camera"] = {{e[0], e[1], e[2], e[3]}, {e[4], e[5], e[6], e[7]}, {e[8], e[9], e[10], e[11]}};
  const V3 p = c.position();
  j["position"] = {p.x, p.y, p.z};
  j["target"] = {c.target.x, c.target.y, c.target.z};
  j["azimuth_deg"] = c.azimuth_deg;
  j["elevation_deg"] = c.elevation_deg;
  j["roll_deg"] = c.roll_deg;
  j["distance"] = c.distance;
  j["fov_deg"] = c.fov_deg;
  return j;
}

}  // namespace cadcrafter
