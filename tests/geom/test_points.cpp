// Surface sampling and Chamfer distance invariants, mesh measures and mesh files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

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
