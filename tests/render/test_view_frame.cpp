// The view frame rule (render/camera.h, cad/turn.h): camera azimuths, the nearest quarter turn,
// and renders: turn_about_z(m, k) seen from azimuth a + 90k is m seen from a.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cad/cad_json.h"
#include "cad/turn.h"
#include "cad/turn_support.h"
#include "kernel/compile.h"
#include "kernel/tessellate.h"
#include "render/camera.h"
#include "render/rasterizer.h"
#include "test_support.h"

namespace cadcrafter::testing {
namespace {

TEST(ViewFrame, NearestQuarterTurn) {
  EXPECT_EQ(view_frame_quarter_turns(0.0f), 0);
  EXPECT_EQ(view_frame_quarter_turns(44.0f), 0);
  EXPECT_EQ(view_frame_quarter_turns(46.0f), 1);
  EXPECT_EQ(view_frame_quarter_turns(90.0f), 1);
  EXPECT_EQ(view_frame_quarter_turns(134.0f), 1);
  EXPECT_EQ(view_frame_quarter_turns(181.0f), 2);
  EXPECT_EQ(view_frame_quarter_turns(270.0f), 3);
  EXPECT_EQ(view_frame_quarter_turns(314.0f), 3);
  EXPECT_EQ(view_frame_quarter_turns(359.0f), 0);
  EXPECT_EQ(view_frame_quarter_turns(360.0f), 0);
  EXPECT_EQ(view_frame_quarter_turns(451.0f), 1);
  // Ties go counter-clockwise, to the larger multiple of 90.
  EXPECT_EQ(view_frame_quarter_turns(45.0f), 1);
  EXPECT_EQ(view_frame_quarter_turns(135.0f), 2);
  EXPECT_EQ(view_frame_quarter_turns(225.0f), 3);
  EXPECT_EQ(view_frame_quarter_turns(315.0f), 0);
  // Negative azimuths are taken mod 360.
  EXPECT_EQ(view_frame_quarter_turns(-1.0f), 0);
  EXPECT_EQ(view_frame_quarter_turns(-44.0f), 0);
  EXPECT_EQ(view_frame_quarter_turns(-46.0f), 3);
  EXPECT_EQ(view_frame_quarter_turns(-90.0f), 3);
  EXPECT_EQ(view_frame_quarter_turns(-181.0f), 2);
  EXPECT_EQ(view_frame_quarter_turns(-1e-6f), 0);
  EXPECT_EQ(view_frame_quarter_turns(-720.0f), 0);
  EXPECT_EQ(view_frame_quarter_turns(NAN), 0);
  // In the turned frame the view lies in [-45, 45).
  for (float az = -400.0f; az < 400.0f; az += 3.7f) {
    const float rel = std::remainder(az - 90.0f * static_cast<float>(view_frame_quarter_turns(az)), 360.0f);
    EXPECT_GE(rel, -45.0f - 1e-3f) << az;
    EXPECT_LE(rel, 45.0f + 1e-3f) << az;
  }
}

TEST(ViewFrame, CameraAzimuthFromPoseAndExtrinsics) {
  for (float az : {0.0f, 10.0f, 89.5f, 135.0f, 180.0f, 200.0f, 271.0f, 359.5f}) {
    for (float el : {-30.0f, 0.0f, 20.0f, 80.0f}) {
      const Camera c = look_at_camera(az, el, 3.0f, 45.0f, 64, 7.0f);  // roll does not move the centre
      EXPECT_NEAR(camera_azimuth_deg(c), az, 1e-3f) << az << " " << el;
      EXPECT_NEAR(camera_azimuth_deg(c.extrinsics()), az, 1e-3f) << az << " " << el;
    }
  }
  EXPECT_NEAR(camera_azimuth_deg(look_at_camera(-90.0f, 20.0f, 3.0f, 45.0f, 64)), 270.0f, 1e-3f);
  EXPECT_NEAR(camera_azimuth_deg(look_at_camera(400.0f, 20.0f, 3.0f, 45.0f, 64)), 40.0f, 1e-3f);
  const float tiny = camera_azimuth_deg(look_at_camera(-1e-4f, 20.0f, 3.0f, 45.0f, 64));
  EXPECT_TRUE(tiny >= 0.0f && tiny < 360.0f) << tiny;
  // The sampled cameras (no target jitter) carry their azimuth in the pose.
  for (const Camera& c : sample_cameras(CameraOptions{}, 4, 4, 64, 3))
    EXPECT_NEAR(std::remainder(camera_azimuth_deg(c) - c.azimuth_deg, 360.0f), 0.0f, 1e-3f);
}

// Depth (camera-space z) of the unit-sphere-normalised solid of `m` from a look-at camera.
std::vector<float> depth_map(const CadModel& m, float azimuth, float elevation, int size) {
  auto solid = compile_model(m);
  EXPECT_TRUE(solid.ok()) << m.id << ": " << (solid.ok() ? "" : solid.error().message);
  if (!solid.ok()) return {};
  const Mesh mesh = tessellate(*solid);
  const Mesh unit = apply_normalization(mesh, unit_sphere_normalization(mesh));
  Rasterizer raster;
  raster.set_cull_back_faces(true);
  GBuffer g;
  raster.draw(unit, look_at_camera(azimuth, elevation, 3.0f, 45.0f, size), &g);
  return g.depth;
}

// Compares two depth maps pixel by pixel: coverage may differ on silhouette pixels (the
// rasteriser's tie rule sees float-different vertices), depths on common pixels must agree.
void expect_same_depth(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  int covered = 0, coverage_differs = 0, depth_differs = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool ca = a[i] > 0, cb = b[i] > 0;
    covered += ca;
    if (ca != cb) {
      ++coverage_differs;
      continue;
    }
    if (!ca) continue;
    const double d = std::fabs(a[i] - b[i]);
    worst = std::max(worst, d);
    depth_differs += d > 1e-3;
  }
  EXPECT_GT(covered, 200) << what;
  EXPECT_LE(coverage_differs, covered / 200 + 2) << what;  // <= 0.5% of the silhouette area
  EXPECT_LE(depth_differs, covered / 200 + 2) << what << " worst " << worst;
}

// What a camera at azimuth a sees of m, a camera at a + 90k sees of turn_about_z(m, k). With
// k = -view_frame_quarter_turns(a) that is the rule: the target seen from its canonical view.
TEST(ViewFrame, TurnedModelSeenFromTurnedCameraLooksTheSame) {
  std::vector<CadModel> models = {turn_models::bracket()};
  if (!shared_data_dir().empty()) {
    const auto ids = f360_val_ids(4);
    for (size_t i = 0; i < ids.size() && models.size() < 3; i += 7) {
      auto m = read_cad_json(shared_data_dir() + "/f360/json/" + ids[i] + ".json");
      ASSERT_TRUE(m.ok()) << m.error().message;
      if (compile_model(*m).ok()) models.push_back(*m);
    }
  }
  const int size = 96;
  int compared = 0;
  for (const CadModel& m : models) {
    for (float az : {17.0f, 133.0f, 250.0f}) {
      const float el = az < 200.0f ? 25.0f : -20.0f;
      const std::vector<float> photo = depth_map(m, az, el, size);
      for (int k : {1, 2, 3}) {
        expect_same_depth(photo, depth_map(turn_about_z(m, k), az + 90.0f * static_cast<float>(k), el, size),
                          m.id + " az " + std::to_string(az) + " k " + std::to_string(k));
        ++compared;
      }
      const int q = view_frame_quarter_turns(az);
      expect_same_depth(photo, depth_map(turn_about_z(m, -q), az - 90.0f * static_cast<float>(q), el, size),
                        m.id + " target frame, az " + std::to_string(az));
    }
  }
  EXPECT_GE(compared, 9);
}

}  // namespace
}  // namespace cadcrafter::testing
