// Cameras: conventions (look-at, intrinsics, frame handedness), the sampling protocol and
// unit-sphere normalisation.
#include <gtest/gtest.h>

#include <cmath>

#include "render/camera.h"
#include "render/shapes.h"

namespace cadcrafter {
namespace {

V3 project(const Camera& c, const V3& world) {
  const V3 p = c.to_camera(world);
  return {c.fx * p.x / p.z + c.cx, c.fy * p.y / p.z + c.cy, p.z};
}

TEST(Camera, LookAtPutsTargetAtImageCentreAndUpIsUp) {
  const Camera c = look_at_camera(30.0f, 20.0f, 3.0f, 45.0f, 128);
  const V3 centre = project(c, V3{0, 0, 0});
  EXPECT_NEAR(centre.x, 64.0f, 1e-4f);
  EXPECT_NEAR(centre.y, 64.0f, 1e-4f);
  EXPECT_NEAR(centre.z, 3.0f, 1e-5f);
  EXPECT_NEAR(length(c.position()), 3.0f, 1e-5f);
  EXPECT_NEAR(c.position().z, 3.0f * std::sin(20.0f * kPi / 180.0f), 1e-5f);
  // A point above the origin appears above the centre (smaller row index).
  EXPECT_LT(project(c, V3{0, 0, 0.5f}).y, 64.0f);
  // Rotation is orthonormal and right-handed (det +1).
  const M3& R = c.rotation;
  EXPECT_NEAR(dot(cross(R.row(0), R.row(1)), R.row(2)), 1.0f, 1e-5f);
  EXPECT_NEAR(dot(R.row(0), R.row(1)), 0.0f, 1e-6f);
}

TEST(Camera, FovFramesTheUnitSphere) {
  // Every point of the unit sphere projects inside the image for every sampled camera,
  // with target and roll jitter on.
  CameraOptions o;
  o.roll_jitter_deg = 5;
  o.target_jitter = 0.05f;
  for (const Camera& c : sample_cameras(o, 8, 4, 128, 7)) {
    for (int i = 0; i < 200; ++i) {
      const double a = 2 * kPi * i / 200, b = kPi * ((i * 37) % 200) / 200.0 - kPi / 2;
      const V3 p{static_cast<float>(std::cos(b) * std::cos(a)), static_cast<float>(std::cos(b) * std::sin(a)),
                 static_cast<float>(std::sin(b))};
      const V3 q = project(c, p);
      EXPECT_GT(q.x, 2.0f);
      EXPECT_LT(q.x, 126.0f);
      EXPECT_GT(q.y, 2.0f);
      EXPECT_LT(q.y, 126.0f);
    }
  }
}

TEST(Camera, IntrinsicsAndExtrinsicsAgreeWithProjection) {
  const Camera c = look_at_camera(123.0f, -20.0f, 3.0f, 45.0f, 224, 3.0f, V3{0.02f, -0.01f, 0.03f});
  const auto K = c.intrinsics();
  const auto E = c.extrinsics();
  const double p[3] = {0.3, -0.2, 0.5};
  double cam[3];
  for (int r = 0; r < 3; ++r) cam[r] = E[r * 4] * p[0] + E[r * 4 + 1] * p[1] + E[r * 4 + 2] * p[2] + E[r * 4 + 3];
  const double u = (K[0] * cam[0] + K[1] * cam[1] + K[2] * cam[2]) / cam[2];
  const double v = (K[3] * cam[0] + K[4] * cam[1] + K[5] * cam[2]) / cam[2];
  const V3 q = project(c, V3{0.3f, -0.2f, 0.5f});
  EXPECT_NEAR(u, q.x, 1e-3);
  EXPECT_NEAR(v, q.y, 1e-3);
  // 45 degree FOV: the image edge is at tan(22.5 deg) of the depth.
  EXPECT_NEAR(K[0], 112.0 / std::tan(22.5 * kPi / 180.0), 1e-3);
}

TEST(Camera, SetsFollowTheProtocolAndAreDeterministic) {
  CameraOptions o;
  const auto a = sample_cameras(o, 8, 4, 128, 42);
  const auto b = sample_cameras(o, 8, 4, 128, 42);
  const auto other = sample_cameras(o, 8, 4, 128, 43);
  ASSERT_EQ(a.size(), 32u);
  int below = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].azimuth_deg, b[i].azimuth_deg);
    EXPECT_EQ(a[i].elevation_deg, b[i].elevation_deg);
    EXPECT_EQ(a[i].translation.x, b[i].translation.x);
    EXPECT_NEAR(a[i].distance, 3.0f, 0.0f);
    const float el = a[i].elevation_deg;
    const bool above = el >= o.elevation_min_deg && el <= o.elevation_max_deg;
    const bool under = el >= o.below_min_deg && el <= o.below_max_deg;
    EXPECT_TRUE(above || under) << el;
    below += under;
  }
  EXPECT_LT(below, 16);  // 10% expected
  // Within a set, views are ~90 degrees apart (up to twice the jitter).
  for (int s = 0; s < 8; ++s) {
    for (int k = 1; k < 4; ++k) {
      double d = std::fmod(a[s * 4 + k].azimuth_deg - a[s * 4].azimuth_deg + 720.0, 360.0);
      EXPECT_NEAR(d, 90.0 * k, 2 * o.azimuth_jitter_deg + 1e-3) << "set " << s << " view " << k;
    }
  }
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i].azimuth_deg == other[i].azimuth_deg;
  EXPECT_EQ(same, 0);
}

TEST(Camera, NormalizationPutsFarthestVertexOnTheUnitSphere) {
  const Mesh part = make_demo_part_mesh(64);
  const Normalization n = unit_sphere_normalization(part);
  const Mesh unit = apply_normalization(part, n);
  float max_r = 0, lo[3] = {1e9f, 1e9f, 1e9f}, hi[3] = {-1e9f, -1e9f, -1e9f};
  for (const auto& v : unit.vertices) {
    max_r = std::max(max_r, length(V3(v)));
    for (int k = 0; k < 3; ++k) {
      lo[k] = std::min(lo[k], v[k]);
      hi[k] = std::max(hi[k], v[k]);
    }
  }
  EXPECT_NEAR(max_r, 1.0f, 1e-5f);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(lo[k] + hi[k], 0.0f, 1e-5f);  // box centred
}

}  // namespace
}  // namespace cadcrafter
