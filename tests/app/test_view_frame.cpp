// The view frame at the product end: reconstruct turns each answer about +Z so that it faces the
// first photo the way training targets face their first view (render/camera.h). Here the "photo"
// is a render of an asymmetric L-shaped part from a known azimuth: the turn chosen from the
// candidate's best pose must be the one the camera's azimuth gives.
#include <gtest/gtest.h>

#include "app/agreement.h"
#include "app/facing.h"
#include "app/view_maps.h"
#include "cad/turn.h"
#include "kernel/check.h"
#include "geom/mesh_measure.h"
#include "kernel/tessellate.h"
#include "render/camera.h"
#include "render/render_views.h"
#include "../kernel/model_builders.h"

namespace cadcrafter {
namespace {

using namespace cadcrafter::testing;

// An L with legs 4 and 3 (width 1), 1.5 high: no quarter turn maps it onto itself.
CadModel l_part() {
  Loop l{{line(0, 0, 4, 0), line(4, 0, 4, 1), line(4, 1, 1, 1), line(1, 1, 1, 3), line(1, 3, 0, 3), line(0, 3, 0, 0)}};
  return model_of({extrude(Profile{{l}}, 1.5)}, "l_part");
}

Mesh mesh_of(const CadModel& m) {
  CheckOptions o;
  o.keep_solid = true;
  const CheckResult c = check_model(m, o);
  EXPECT_TRUE(c.valid) << c.reason;
  return tessellate(c.solid);
}

app::ViewMaps render_maps(const Mesh& mesh, float azimuth, float elevation) {
  const Mesh unit = apply_normalization(mesh, unit_sphere_normalization(mesh));
  const CameraOptions co;
  const Camera cam = look_at_camera(azimuth, elevation, co.distance, co.fov_deg, 128);
  ViewRenderer renderer;
  RenderOptions ro;
  ro.size = 128;
  const RenderedView r = renderer.render(unit, cam, ro);
  app::ViewMaps m;
  m.size = r.size;
  const size_t n = static_cast<size_t>(r.size) * r.size;
  m.depth.assign(n, 0.0f);
  m.mask.resize(n);
  m.normal.resize(n * 3);
  for (size_t i = 0; i < n; ++i) {
    m.mask[i] = r.mask[i] > 127 ? 1.0f : 0.0f;
    for (int k = 0; k < 3; ++k) m.normal[i * 3 + k] = r.normal[i * 3 + k] / 127.5f - 1.0f;
  }
  return m;
}

TEST(ReconstructViewFrame, AnswersTurnToFaceTheFirstPhoto) {
  const CadModel part = l_part();
  const Mesh mesh = mesh_of(part);
  ASSERT_FALSE(mesh.empty());
  for (float az : {10.0f, 100.0f, 190.0f, 280.0f, 335.0f}) {
    const app::ViewMaps photo = render_maps(mesh, az, 30.0f);
    const int k = app::facing_quarter_turns(mesh, photo);
    EXPECT_EQ(k, view_frame_quarter_turns(az)) << "azimuth " << az;
    // Turned that way, the part is seen from the photo's camera within +-45 degrees of the front:
    // its own best pose for the photo is then near azimuth 0.
    const Mesh turned = mesh_of(turn_about_z(part, -k));
    EXPECT_EQ(app::facing_quarter_turns(turned, photo), 0) << "azimuth " << az;
  }
}

// face_view: a DeepCAD vector of the part, seen from any azimuth, comes back turned by the quarter
// turn the camera's azimuth gives, and its turned mesh is the turned model's (same box, no second
// kernel build needed); a vector that does not build comes back as it was.
TEST(ReconstructViewFrame, FaceViewTurnsTheVectorModelAndMeshTogether) {
  CadModel part = l_part();
  const Mesh mesh = mesh_of(part);
  part.bbox = mesh_bbox(mesh);  // DeepCAD's normalisation needs the part's box
  auto vec = encode(part);
  ASSERT_TRUE(vec) << vec.error().message;
  for (float az : {100.0f, 190.0f, 280.0f, 10.0f}) {
    const app::FacedVec f = app::face_view(*vec, render_maps(mesh, az, 30.0f));
    ASSERT_TRUE(f.valid) << "azimuth " << az;
    EXPECT_EQ(f.turns, view_frame_quarter_turns(az)) << "azimuth " << az;
    auto expected = turn_vec(*vec, -f.turns);
    ASSERT_TRUE(expected);
    EXPECT_EQ(f.vec, *expected) << "azimuth " << az;
    const BoundingBox got = mesh_bbox(f.mesh), want = mesh_bbox(mesh_of(f.model));
    EXPECT_NEAR(got.min.x, want.min.x, 1e-3) << "azimuth " << az;
    EXPECT_NEAR(got.max.x, want.max.x, 1e-3) << "azimuth " << az;
    EXPECT_NEAR(got.min.y, want.min.y, 1e-3) << "azimuth " << az;
    EXPECT_NEAR(got.max.y, want.max.y, 1e-3) << "azimuth " << az;
  }
  CadVec broken = *vec;
  broken.resize(2);  // SOL + one line: not a model
  const app::FacedVec none = app::face_view(broken, render_maps(mesh, 100.0f, 30.0f));
  EXPECT_FALSE(none.valid);
  EXPECT_EQ(none.turns, 0);
  EXPECT_EQ(none.vec, broken);
}

// Turning a mesh k times is exact and four turns give it back.
TEST(ReconstructViewFrame, TurnMeshFourTimesIsIdentity) {
  const Mesh mesh = mesh_of(l_part());
  Mesh m = mesh;
  for (int i = 0; i < 4; ++i) m = app::turn_mesh_about_z(m, 1);
  EXPECT_EQ(m.vertices, mesh.vertices);
  EXPECT_EQ(m.normals, mesh.normals);
  const Mesh once = app::turn_mesh_about_z(mesh, -1);
  EXPECT_FLOAT_EQ(once.vertices[0][0], mesh.vertices[0][1]);
  EXPECT_FLOAT_EQ(once.vertices[0][1], -mesh.vertices[0][0]);
}

}  // namespace
}  // namespace cadcrafter
