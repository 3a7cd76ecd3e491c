// Cameras for rendering a model normalised to the unit sphere.
//
// Conventions (the same everywhere in cadcrafter, and written into cameras.json):
// - World frame = the model's frame after normalize_to_unit_sphere: bounding-box centre at the
//   origin, every vertex within distance 1 of it. "Up" is +Z (elevation is measured from the
//   XY plane, azimuth counter-clockwise from +X).
// - Camera frame = OpenCV: x right, y down, z forward (into the scene). A point p in the world
//   is at R * p + t in the camera frame; its pixel is K * (R p + t) divided by z. Pixel (u, v)
//   has its centre at (u + 0.5, v + 0.5); v grows downwards, row 0 is the top of the image.
// - Depth = camera-space z of the surface (not the ray length), in normalised units.
//
// Sampling protocol (CADCrafter-style multi-view sets): `sets` sets of `views` views. Within a
// set the views go around the object at azimuths base + k * 360/views (90 degrees for 4 views),
// each perturbed by up to +-azimuth_jitter_deg; base is uniform in [0, 360) per set. Elevation is
// drawn per view, uniform in [elevation_min_deg, elevation_max_deg], except that with
// probability below_probability it is drawn in [below_min_deg, below_max_deg] (seen from below).
// All cameras look at the origin from a fixed distance (3) with a fixed vertical FOV (45
// degrees), so the unit sphere always fits in the frame (its image radius is 0.85 of the
// half-width) and the pixel scale is the same for every view and model.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "geom/mesh.h"
#include "render/vec.h"

namespace cadcrafter {

struct Camera {
  int width = 128, height = 128;
  bool orthographic = false;
  // Perspective: pixel = (fx * x / z + cx, fy * y / z + cy).
  // Orthographic (used for shadow maps): pixel = (fx * x + cx, fy * y + cy).
  float fx = 0, fy = 0, cx = 0, cy = 0;
  M3 rotation;      // world -> camera
  V3 translation;   // world -> camera
  // How the camera was made (informational; rotation/translation are authoritative).
  float azimuth_deg = 0, elevation_deg = 0, distance = 0, fov_deg = 0, roll_deg = 0;
  V3 target;        // look-at point in the world frame

  V3 to_camera(const V3& world) const { return rotation * world + translation; }
  V3 to_world(const V3& cam) const { return rotation.transposed() * (cam - translation); }
  V3 position() const { return rotation.transposed() * (-translation); }  // camera centre, world
  // Row-major 3x3 intrinsics and 3x4 [R | t].
  std::array<double, 9> intrinsics() const;
  std::array<double, 12> extrinsics() const;
  // The same camera for an image `factor` times larger (supersampling).
  Camera scaled(int factor) const;
};

struct CameraOptions {
  float distance = 3.0f;
  float fov_deg = 45.0f;
  float azimuth_jitter_deg = 15.0f;
  float elevation_min_deg = 15.0f, elevation_max_deg = 45.0f;
  float below_probability = 0.1f;
  float below_min_deg = -35.0f, below_max_deg = -10.0f;
  // Hand-held jitter (off by default; the photo-like renders turn it on): roll up to
  // +-roll_jitter_deg and a look-at point displaced by up to target_jitter in each axis.
  float roll_jitter_deg = 0.0f;
  float target_jitter = 0.0f;
  // Zoom variety (off when <= fov_deg): each view's field of view is drawn in
  // [fov_deg, fov_max_deg], so the part fills anywhere from most of the frame to a third of it
  // (the photo estimator's training data: parts small in a phone's frame).
  float fov_max_deg = 0.0f;
};

// A look-at camera on the sphere of radius `distance` around `target`. elevation is clamped to
// +-85 degrees so "up" stays defined.
Camera look_at_camera(float azimuth_deg, float elevation_deg, float distance, float fov_deg, int size,
                      float roll_deg = 0.0f, V3 target = V3{0, 0, 0});

// An orthographic camera looking at the origin from direction `toward_camera` (unit vector from
// the origin to the camera), covering [-half_extent, half_extent]^2 of the view plane.
Camera orthographic_camera(V3 toward_camera, float half_extent, int size);

// sets * views cameras, set-major (index = set * views + view). Deterministic for a seed.
std::vector<Camera> sample_cameras(const CameraOptions& options, int sets, int views, int size, uint64_t seed);

// The view frame rule for image -> CAD targets (issue 9 §1). Cameras see the model from an
// azimuth drawn uniformly in [0, 360), so the target sequence is turned to face the first
// conditioning view:
//     target = turn_about_z(model, -view_frame_quarter_turns(azimuth of the first view))
// (cad/turn.h). A camera at azimuth a sees turn_about_z(m, k) from a + 90k exactly as it sees m
// from a, so in the target's frame the first view lies at an azimuth in [-45, 45), and the
// turn, a multiple of 90 degrees, keeps axis-aligned sketch planes axis-aligned.
//
// The k in {0, 1, 2, 3} whose k * 90 degrees is nearest to azimuth_deg (taken mod 360; negative
// azimuths are fine). Ties (45, 135, 225, 315) go counter-clockwise, to the larger multiple:
// 45 -> 1, 315 -> 0. A non-finite azimuth gives 0.
int view_frame_quarter_turns(float azimuth_deg);
// The azimuth of the camera centre seen from the origin: atan2(y, x) in degrees, in [0, 360),
// counter-clockwise from +X (0 for a camera on the Z axis). Computed from rotation and
// translation (authoritative), not from the informational Camera::azimuth_deg.
float camera_azimuth_deg(const Camera& camera);
// The same from a row-major 3x4 world -> camera [R | t] (Camera::extrinsics(), the
// "world_to_camera" of cameras.json): the centre is -R^T t.
float camera_azimuth_deg(const std::array<double, 12>& world_to_camera);
float camera_azimuth_deg(const std::array<float, 12>& world_to_camera);  // as stored in dataset shards

// The similarity that maps a mesh into the unit sphere: normalised = (p - center) * scale.
struct Normalization {
  V3 center;
  float scale = 1.0f;
};
// Centre of the bounding box to the origin, farthest vertex at distance 1.
Normalization unit_sphere_normalization(const Mesh& mesh);
Mesh apply_normalization(const Mesh& mesh, const Normalization& n);

nlohmann::json camera_to_json(const Camera& camera);

}  // namespace cadcrafter
