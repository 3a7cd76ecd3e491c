// Rasteriser invariants: exact depth planes and single normals on flat faces, silhouette
// areas against analytic projections, depth against independent ray casting, and coverage.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "render/random.h"
#include "render/render_views.h"
#include "render/shapes.h"

namespace cadcrafter {
namespace {

// Rotates a mesh so its +Z axis becomes +X (x, y, z) -> (z, x, y).
Mesh z_to_x(Mesh m) {
  for (auto& v : m.vertices) v = {v[2], v[0], v[1]};
  for (auto& n : m.normals) n = {n[2], n[0], n[1]};
  return m;
}

int count_mask(const RenderedView& v) {
  int n = 0;
  for (uint8_t m : v.mask) n += m != 0;
  return n;
}

TEST(Rasterizer, BoxSeenAlongAnAxisIsOneDepthPlaneWithOneNormal) {
  for (bool with_vertex_normals : {true, false}) {
    Mesh box = make_box_mesh({-0.4f, -0.4f, -0.4f}, {0.4f, 0.4f, 0.4f});
    if (!with_vertex_normals) box.normals.clear();
    // Camera on +X looking at the origin: only the face x = 0.4 is visible, at depth 2.6.
    const Camera cam = look_at_camera(0.0f, 0.0f, 3.0f, 45.0f, 128);
    const RenderedView v = render_view(box, cam);
    const int covered = count_mask(v);
    // The face is 0.8 wide at depth 2.6: 0.8 * fx / 2.6 pixels on a side.
    const double side = 0.8 * cam.fx / 2.6;
    EXPECT_NEAR(covered, side * side, 4 * side);
    for (size_t i = 0; i < v.mask.size(); ++i) {
      if (!v.mask[i]) {
        EXPECT_EQ(v.depth[i], 0);
        continue;
      }
      ASSERT_EQ(v.depth[i], 26000) << "pixel " << i;
      // World +X seen from +X is the camera's -z: encoded (128, 128, 0).
      ASSERT_EQ(v.normal[3 * i + 0], 128);
      ASSERT_EQ(v.normal[3 * i + 1], 128);
      ASSERT_EQ(v.normal[3 * i + 2], 0);
    }
    // No holes along the quad's diagonal: the covered region is a full square.
    int min_x = 999, max_x = -1, min_y = 999, max_y = -1;
    for (int i = 0; i < 128 * 128; ++i) {
      if (!v.mask[static_cast<size_t>(i)]) continue;
      min_x = std::min(min_x, i % 128);
      max_x = std::max(max_x, i % 128);
      min_y = std::min(min_y, i / 128);
      max_y = std::max(max_y, i / 128);
    }
    EXPECT_EQ(covered, (max_x - min_x + 1) * (max_y - min_y + 1));
  }
}

TEST(Rasterizer, FlatFacesGiveExactlyOneNormalEach) {
  // A box from a generic direction shows three faces: exactly three distinct normal codes.
  const Mesh box = make_box_mesh({-0.5f, -0.3f, -0.4f}, {0.5f, 0.3f, 0.4f});
  const Camera cam = look_at_camera(37.0f, 28.0f, 3.0f, 45.0f, 224, 4.0f);
  const RenderedView v = render_view(box, cam);
  std::set<std::array<uint8_t, 3>> codes;
  for (size_t i = 0; i < v.mask.size(); ++i)
    if (v.mask[i]) codes.insert({v.normal[3 * i], v.normal[3 * i + 1], v.normal[3 * i + 2]});
  EXPECT_EQ(codes.size(), 3u);
}

TEST(Rasterizer, CylinderSilhouetteMatchesAnalyticProjection) {
  // Perspective along the axis: the near cap's circle, radius fx * r / depth.
  const float r = 0.5f, z0 = -0.6f, z1 = 0.6f;
  const Mesh cyl = z_to_x(make_cylinder_mesh(0, 0, r, z0, z1, 2048));
  for (int size : {128, 224}) {
    const Camera cam = look_at_camera(0.0f, 0.0f, 3.0f, 45.0f, size);
    const RenderedView v = render_view(cyl, cam);
    const double radius_px = cam.fx * r / (3.0 - z1);
    const double expected = kPi * radius_px * radius_px;
    EXPECT_NEAR(count_mask(v), expected, 0.01 * expected) << "size " << size;
  }
  // Orthographic from the side: a rectangle 2r x (z1 - z0).
  const Camera ortho = orthographic_camera(V3{0, 1, 0}, 1.0f, 200);
  Rasterizer raster;
  GBuffer g;
  raster.draw(make_cylinder_mesh(0, 0, r, z0, z1, 2048), ortho, &g);
  int covered = 0;
  for (int32_t t : g.triangle) covered += t >= 0;
  const double expected = (2 * r * ortho.fx) * ((z1 - z0) * ortho.fy);
  EXPECT_NEAR(covered, expected, 0.01 * expected);
}

// Möller-Trumbore: distance along `dir` from `origin` to the triangle, or -1.
double ray_triangle(const V3& origin, const V3& dir, const V3& a, const V3& b, const V3& c) {
  const double e1[3] = {b.x - a.x, b.y - a.y, b.z - a.z}, e2[3] = {c.x - a.x, c.y - a.y, c.z - a.z};
  const double d[3] = {dir.x, dir.y, dir.z};
  const double p[3] = {d[1] * e2[2] - d[2] * e2[1], d[2] * e2[0] - d[0] * e2[2], d[0] * e2[1] - d[1] * e2[0]};
  const double det = e1[0] * p[0] + e1[1] * p[1] + e1[2] * p[2];
  if (std::fabs(det) < 1e-14) return -1;
  const double s[3] = {origin.x - a.x, origin.y - a.y, origin.z - a.z};
  const double u = (s[0] * p[0] + s[1] * p[1] + s[2] * p[2]) / det;
  if (u < 0 || u > 1) return -1;
  const double q[3] = {s[1] * e1[2] - s[2] * e1[1], s[2] * e1[0] - s[0] * e1[2], s[0] * e1[1] - s[1] * e1[0]};
  const double v = (d[0] * q[0] + d[1] * q[1] + d[2] * q[2]) / det;
  if (v < 0 || u + v > 1) return -1;
  return (e2[0] * q[0] + e2[1] * q[1] + e2[2] * q[2]) / det;
}

TEST(Rasterizer, DepthAgreesWithRayCasting) {
  const Mesh part = apply_normalization(make_demo_part_mesh(48), unit_sphere_normalization(make_demo_part_mesh(48)));
  Rng pick(5);
  int checked = 0, coverage_mismatch = 0;
  for (const Camera& cam : sample_cameras(CameraOptions{}, 2, 4, 128, 11)) {
    const RenderedView v = render_view(part, cam);
    const V3 eye = cam.position();
    const M3 to_world = cam.rotation.transposed();
    for (int s = 0; s < 300; ++s) {
      const int px = pick.index(128), py = pick.index(128);
      // Ray through the pixel centre with camera-space direction (x, y, 1): t = depth.
      const V3 dir = to_world * V3{(px + 0.5f - cam.cx) / cam.fx, (py + 0.5f - cam.cy) / cam.fy, 1.0f};
      double best = 1e30;
      for (const auto& t : part.triangles) {
        const double h = ray_triangle(eye, dir, V3(part.vertices[t[0]]), V3(part.vertices[t[1]]), V3(part.vertices[t[2]]));
        if (h > 0 && h < best) best = h;
      }
      const uint16_t d = v.depth[static_cast<size_t>(py) * 128 + px];
      const bool hit = best < 1e30;
      if (hit != (d != 0)) {
        ++coverage_mismatch;  // only possible for a centre within float noise of an edge
        continue;
      }
      if (!hit) continue;
      ++checked;
      EXPECT_NEAR(d, best * kDepthUnitsPerLength, 1.0) << "pixel " << px << "," << py;
    }
  }
  EXPECT_GT(checked, 400);
  EXPECT_LE(coverage_mismatch, 2);
}

TEST(Rasterizer, NormalsMatchTheVisibleSurface) {
  // Cylinder side seen from the side: the decoded normal is radial, i.e. perpendicular to the
  // axis and pointing from the axis to the surface point, within quantisation.
  const Mesh cyl = make_cylinder_mesh(0, 0, 0.5f, -0.5f, 0.5f, 512);
  const Camera cam = look_at_camera(20.0f, 10.0f, 3.0f, 45.0f, 128);
  Rasterizer raster;
  GBuffer g;
  raster.draw(cyl, cam, &g);
  std::vector<V3> normals;
  raster.normals(cyl, cam, g, &normals);
  int side = 0;
  for (int i = 0; i < 128 * 128; ++i) {
    if (!g.covered(i)) continue;
    const V3 p = cam.to_world(Rasterizer::surface_point(cam, g, i));
    const V3 n = cam.rotation.transposed() * normals[static_cast<size_t>(i)];
    if (std::fabs(p.z) < 0.45f) {  // on the side
      ++side;
      const V3 radial = normalize(V3{p.x, p.y, 0});
      EXPECT_GT(dot(n, radial), 0.9999f);
    } else if (std::fabs(p.z) > 0.4999f && length(V3{p.x, p.y, 0}) < 0.48f) {  // on the top cap
      EXPECT_NEAR(n.z, 1.0f, 1e-6f);
    }
  }
  EXPECT_GT(side, 1000);
}

}  // namespace
}  // namespace cadcrafter
