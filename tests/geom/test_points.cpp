// Surface sampling and Chamfer distance invariants, mesh measures and mesh files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "geom/chamfer.h"
#include "geom/mesh_io.h"
#include "geom/mesh_measure.h"
#include "geom/sampling.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

// Axis-aligned box [0,sx]x[0,sy]x[0,sz], 12 triangles wound counter-clockwise from outside.
Mesh box_mesh(float sx, float sy, float sz) {
  Mesh m;
  for (int i = 0; i < 8; ++i) m.vertices.push_back({(i & 1) ? sx : 0.f, (i & 2) ? sy : 0.f, (i & 4) ? sz : 0.f});
  const uint32_t quads[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
  for (const auto& q : quads) {
    m.triangles.push_back({q[0], q[1], q[2]});
    m.triangles.push_back({q[0], q[2], q[3]});
  }
  return m;
}

TEST(MeshMeasure, BoxVolumeAreaAndOrientation) {
  Mesh m = box_mesh(2, 3, 4);
  EXPECT_NEAR(mesh_volume(m), 24.0, 1e-9);
  EXPECT_NEAR(mesh_area(m), 52.0, 1e-9);
  for (auto& t : m.triangles) std::swap(t[1], t[2]);
  EXPECT_NEAR(mesh_volume(m), -24.0, 1e-9);  // inside-out shows as negative
  const BoundingBox b = mesh_bbox(m);
  EXPECT_EQ(b.max.z, 4.0);
  EXPECT_EQ(b.min.x, 0.0);
}

TEST(Sampling, DeterministicOnSurfaceAndAreaWeighted) {
  const Mesh m = box_mesh(1, 1, 10);  // the four long sides hold 40 of the 42 area units
  const PointCloud a = sample_surface(m, 4000, 7), b = sample_surface(m, 4000, 7), c = sample_surface(m, 4000, 8);
  ASSERT_EQ(a.size(), 4000u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  int on_caps = 0;
  for (const Point3& p : a) {
    // Every point lies on the boundary of the box.
    const float d = std::min({p[0], 1 - p[0], p[1], 1 - p[1], p[2], 10 - p[2]});
    EXPECT_NEAR(d, 0.f, 1e-5f);
    EXPECT_GE(std::min({p[0], p[1], p[2]}), -1e-6f);
    if (p[2] < 1e-5f || p[2] > 10 - 1e-4f) ++on_caps;
  }
  // Expected 4000 * 2/42 = 190; binomial sd ~ 13.
  EXPECT_NEAR(on_caps, 190, 60);
  EXPECT_TRUE(sample_surface(Mesh{}, 10, 1).empty());
}

TEST(Chamfer, InvariantsAndKnownValues) {
  const Mesh m = box_mesh(1, 2, 0.5f);
  const PointCloud a = sample_surface(m, kChamferPoints, 1);
  const PointCloud b = sample_surface(m, kChamferPoints, 2);
  EXPECT_EQ(chamfer_distance(a, a), 0.0);
  EXPECT_DOUBLE_EQ(chamfer_distance(a, b), chamfer_distance(b, a));
  EXPECT_GT(chamfer_distance(a, b), 0.0);
  EXPECT_LT(chamfer_distance(a, b), 1e-2);  // two samplings of one surface are close

  // Points 1 apart on a line, shifted by d = 0.1 across the line: every nearest neighbour is
  // the shifted twin, so each direction gives d^2.
  PointCloud line, shifted;
  for (int i = 0; i < 100; ++i) {
    line.push_back({static_cast<float>(i), 0.f, 0.f});
    shifted.push_back({static_cast<float>(i), 0.1f, 0.f});
  }
  EXPECT_NEAR(chamfer_distance(line, shifted), 2 * 0.01, 1e-7);
  // A cloud against a subset of itself: only the subset->cloud direction is zero.
  PointCloud half(line.begin(), line.begin() + 50);
  // Points 50..99 have nearest neighbour 49: mean of (k)^2 for k = 1..50 over 100 points.
  double expected = 0;
  for (int k = 1; k <= 50; ++k) expected += k * k;
  EXPECT_NEAR(chamfer_distance(line, half), expected / 100.0, 1e-6);
  EXPECT_TRUE(std::isinf(chamfer_distance(line, PointCloud{})));
}

TEST(Chamfer, DeepcadNormalisesOnlyOutOfFrameClouds) {
  PointCloud gt = {{1, 0, 0}, {0, 1, 0}};
  PointCloud inside = {{1.5f, 0, 0}, {0, 1.5f, 0}};
  EXPECT_DOUBLE_EQ(deepcad_chamfer(gt, inside), chamfer_distance(gt, inside));
  PointCloud far = {{4, 0, 0}, {0, 4, 0}};  // normalised to gt exactly
  EXPECT_EQ(deepcad_chamfer(gt, far), 0.0);
  const PointCloud n = normalize_max_abs({{2, -8, 1}});
  EXPECT_FLOAT_EQ(n[0][1], -1.f);
  EXPECT_FLOAT_EQ(n[0][0], 0.25f);
}

// Closed cylinder of radius r and height h along z (side + two cap fans), `segments` sides.
Mesh cylinder_mesh(float r, float h, int segments) {
  Mesh m;
  const uint32_t n = static_cast<uint32_t>(segments);
  for (uint32_t i = 0; i < n; ++i) {
    const double a = 2 * 3.14159265358979323846 * i / n;
    const float x = r * static_cast<float>(std::cos(a)), y = r * static_cast<float>(std::sin(a));
    m.vertices.push_back({x, y, 0.f});
    m.vertices.push_back({x, y, h});
  }
  m.vertices.push_back({0.f, 0.f, 0.f});  // 2n: bottom centre
  m.vertices.push_back({0.f, 0.f, h});    // 2n + 1: top centre
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t j = (i + 1) % n;
    m.triangles.push_back({2 * i, 2 * j, 2 * j + 1});
    m.triangles.push_back({2 * i, 2 * j + 1, 2 * i + 1});
    m.triangles.push_back({2 * n, 2 * j, 2 * i});
    m.triangles.push_back({2 * n + 1, 2 * i + 1, 2 * j + 1});
  }
  return m;
}

// Rotates 90 degrees about `axis` (0 = x, 2 = z), then scales by `s` and shifts by `t`.
PointCloud turn_shift_scale(const PointCloud& in, int axis, float s, const Point3& t) {
  PointCloud out;
  for (const Point3& p : in) {
    Point3 q = p;
    if (axis == 2) q = {-p[1], p[0], p[2]};  // about z: x -> y
    if (axis == 0) q = {p[0], -p[2], p[1]};  // about x: y -> z
    out.push_back({q[0] * s + t[0], q[1] * s + t[1], q[2] * s + t[2]});
  }
  return out;
}

TEST(RotationFreeChamfer, CubeRotationsAreThe24ProperOnes) {
  const auto& rotations = cube_rotations();
  std::set<IntMatrix3> distinct(rotations.begin(), rotations.end());
  EXPECT_EQ(distinct.size(), 24u);
  EXPECT_EQ(rotations[0], (IntMatrix3{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}}));
  for (const IntMatrix3& r : rotations) {
    const int det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0]) +
                    r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    EXPECT_EQ(det, 1);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(std::abs(r[i][0]) + std::abs(r[i][1]) + std::abs(r[i][2]), 1);
  }
}

TEST(RotationFreeChamfer, NormalizeCenteredFillsTheUnitBox) {
  const PointCloud n = normalize_centered({{1, 2, 3}, {5, 3, 4}, {3, 2.5f, 3.5f}});
  // Bounding box [1,5]x[2,3]x[3,4]: centre (3, 2.5, 3.5), half extent 2.
  EXPECT_FLOAT_EQ(n[0][0], -1.f);
  EXPECT_FLOAT_EQ(n[1][0], 1.f);
  EXPECT_FLOAT_EQ(n[0][1], -0.25f);
  EXPECT_FLOAT_EQ(n[1][2], 0.25f);
  EXPECT_EQ(n[2], (Point3{0.f, 0.f, 0.f}));
  EXPECT_EQ(normalize_centered({{2, 2, 2}})[0], (Point3{0.f, 0.f, 0.f}));
  EXPECT_TRUE(normalize_centered({}).empty());
}

TEST(RotationFreeChamfer, IgnoresAxisTurnsShiftAndScale) {
  const PointCloud a = sample_surface(box_mesh(1, 2, 0.5f), kChamferPoints, 1);
  EXPECT_EQ(rotation_free_chamfer(a, a), 0.0);
  for (int axis : {2, 0}) {
    SCOPED_TRACE(axis);
    const PointCloud b = turn_shift_scale(a, axis, 1.7f, {0.3f, -0.7f, 1.1f});
    EXPECT_GT(chamfer_distance(a, b), 0.1);
    EXPECT_LT(rotation_free_chamfer(a, b), 1e-9);
    EXPECT_LT(rotation_free_chamfer(b, a), 1e-9);
  }
  // Both turns at once, on an independent sampling: as close as two samplings get.
  const PointCloud c =
      turn_shift_scale(turn_shift_scale(sample_surface(box_mesh(1, 2, 0.5f), kChamferPoints, 2), 0, 1, {}), 2, 0.2f, {5, 5, 5});
  EXPECT_GT(chamfer_distance(a, c), 1.0);
  EXPECT_LT(rotation_free_chamfer(a, c), 1e-2);
  EXPECT_TRUE(std::isinf(rotation_free_chamfer(a, PointCloud{})));
}

TEST(RotationFreeChamfer, DifferentShapesStayApartAndSymmetric) {
  const PointCloud box = sample_surface(box_mesh(1, 1, 1), kChamferPoints, 3);
  const PointCloud cylinder = sample_surface(cylinder_mesh(0.5f, 1, 64), kChamferPoints, 4);
  const PointCloud plate = sample_surface(box_mesh(1, 1, 0.1f), kChamferPoints, 5);
  const PointCloud box2 = sample_surface(box_mesh(1, 1, 1), kChamferPoints, 6);
  const double same = rotation_free_chamfer(box, box2);
  const double box_cyl = rotation_free_chamfer(box, cylinder), box_plate = rotation_free_chamfer(box, plate);
  EXPECT_GT(box_cyl, 1e-3);
  EXPECT_GT(box_plate, 1e-2);
  EXPECT_GT(box_cyl, 5 * same);
  EXPECT_NEAR(rotation_free_chamfer(cylinder, box), box_cyl, 1e-6 * box_cyl);
  EXPECT_NEAR(rotation_free_chamfer(plate, box), box_plate, 1e-6 * box_plate);
  // The identity is one of the 24 rotations: never above the plain distance of the
  // normalised clouds.
  EXPECT_LE(box_cyl, chamfer_distance(normalize_centered(box), normalize_centered(cylinder)));
  // A plate standing on its edge is the same plate.
  EXPECT_LT(rotation_free_chamfer(plate, turn_shift_scale(plate, 0, 3, {1, 2, 3})), 1e-9);
}

// The two in-between distances that tell placement from orientation: centred_chamfer ignores
// shift and scale only; z_turn_free_chamfer also the four quarter turns about +Z, not others.
TEST(CentredChamfer, IgnoresShiftAndScaleButNotTurns) {
  const PointCloud a = sample_surface(box_mesh(1, 2, 0.5f), kChamferPoints, 1);
  const PointCloud shifted = turn_shift_scale(a, -1, 2.5f, {3.0f, -1.0f, 0.5f});
  EXPECT_GT(chamfer_distance(a, shifted), 1.0);
  EXPECT_LT(centred_chamfer(a, shifted), 1e-9);
  EXPECT_LT(z_turn_free_chamfer(a, shifted), 1e-9);
  // A quarter turn about +Z: only the turn-free distances forgive it.
  const PointCloud turned_z = turn_shift_scale(a, 2, 0.5f, {1, 1, 1});
  EXPECT_GT(centred_chamfer(a, turned_z), 0.05);
  EXPECT_LT(z_turn_free_chamfer(a, turned_z), 1e-9);
  EXPECT_LT(z_turn_free_chamfer(turned_z, a), 1e-9);
  // A quarter turn about +X is not a turn about Z.
  const PointCloud turned_x = turn_shift_scale(a, 0, 1.0f, {});
  EXPECT_GT(z_turn_free_chamfer(a, turned_x), 0.05);
  EXPECT_LT(rotation_free_chamfer(a, turned_x), 1e-9);
  // Ordered: rotation-free <= z-turn-free <= centred (each a minimum over more rotations).
  const PointCloud cyl = sample_surface(cylinder_mesh(0.5f, 1, 64), kChamferPoints, 4);
  EXPECT_LE(rotation_free_chamfer(a, cyl), z_turn_free_chamfer(a, cyl));
  EXPECT_LE(z_turn_free_chamfer(a, cyl), centred_chamfer(a, cyl));
  EXPECT_TRUE(std::isinf(centred_chamfer(a, PointCloud{})));
  EXPECT_TRUE(std::isinf(z_turn_free_chamfer(PointCloud{}, a)));
}

TEST(MeshIo, StlRoundTripAndNoPartialFiles) {
  testing::TempDir dir;
  const Mesh m = box_mesh(2, 3, 4);
  ASSERT_TRUE(write_stl(m, dir / "box.stl").ok());
  EXPECT_EQ(std::filesystem::file_size(dir / "box.stl"), 84u + 50u * 12u);
  auto back = read_stl(dir / "box.stl");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->triangles.size(), 12u);
  EXPECT_NEAR(mesh_volume(*back), 24.0, 1e-5);
  ASSERT_TRUE(write_obj(m, dir / "box.obj").ok());
  EXPECT_FALSE(write_obj(m, dir / "missing/box.obj").ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "missing"));
  std::ofstream(dir / "short.stl") << "solid ascii";
  auto bad = read_stl(dir / "short.stl");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("short.stl"), std::string::npos);
}

}  // namespace
}  // namespace cadcrafter
