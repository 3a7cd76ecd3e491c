#include "render/rasterizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cadcrafter {
namespace {

// Edge function of (a, b) evaluated at p: w(p) = A * p.x + B * p.y + C, positive on one side.
// The coefficients are computed from the endpoints in a canonical (lexicographic) order and the
// sign flipped afterwards, so the two triangles sharing an edge get bit-identical values.
// Double precision: C is a difference of products of pixel coordinates, and in float its
// rounding (~1e-3 px^2) would show up as depth error on thin triangles.
struct Edge {
  double a = 0, b = 0, c = 0;
  double inv_a = 0;  // 1 / a (0 when a == 0), for the per-row span
  bool owns_ties = false;  // whether a pixel centre exactly on this edge belongs to the triangle

  Edge(V3 p, V3 q, float sign) {
    bool swapped = false;
    if (q.x < p.x || (q.x == p.x && q.y < p.y)) {
      std::swap(p, q);
      swapped = true;
    }
    a = static_cast<double>(p.y) - q.y;
    b = static_cast<double>(q.x) - p.x;
    c = static_cast<double>(p.x) * q.y - static_cast<double>(p.y) * q.x;
    if (swapped != (sign < 0)) {
      a = -a;
      b = -b;
      c = -c;
    }
    // Of two triangles sharing this edge the gradients are opposite, so exactly one owns ties.
    owns_ties = a > 0 || (a == 0 && b > 0);
    inv_a = a != 0 ? 1.0 / a : 0.0;
  }
  double at(double x, double y) const { return a * x + b * y + c; }
  bool inside(double w) const { return w > 0 || (w == 0 && owns_ties); }
};

// Float to int for pixel bounds, saturating far outside any image (casting an out-of-range
// value is undefined behaviour).
int to_pixel(double v) { return static_cast<int>(std::clamp(v, -1e8, 1e8)); }

}  // namespace

template <bool kOrthographic>
void Rasterizer::draw_impl(const Mesh& mesh, const Camera& cam, GBuffer* g) {
  const int W = cam.width, H = cam.height;
  const size_t nv = mesh.vertices.size();
  drawn_mesh_ = &mesh;
  drawn_camera_ = cam;
  cam_.resize(nv);
  screen_.resize(nv);
  for (size_t i = 0; i < nv; ++i) {
    const V3 c = cam.to_camera(V3(mesh.vertices[i]));
    cam_[i] = c;
    if (kOrthographic) {
      screen_[i] = V3{cam.fx * c.x + cam.cx, cam.fy * c.y + cam.cy, -c.z};
    } else {
      const float iz = c.z > near_plane ? 1.0f / c.z : 0.0f;
      screen_[i] = V3{cam.fx * c.x * iz + cam.cx, cam.fy * c.y * iz + cam.cy, iz};
    }
  }
  // Depth key: larger is nearer. Perspective interpolates 1/z (linear in screen space),
  // orthographic interpolates -z.
  float* key = g->depth.data();
  int32_t* tri_id = g->triangle.data();
  const int32_t nt = static_cast<int32_t>(mesh.triangles.size());
  for (int32_t t = 0; t < nt; ++t) {
    const auto& tri = mesh.triangles[static_cast<size_t>(t)];
    if (!kOrthographic &&
        (cam_[tri[0]].z <= near_plane || cam_[tri[1]].z <= near_plane || cam_[tri[2]].z <= near_plane))
      continue;
    if (cull_back_faces_) {
      // Outward normal (counter-clockwise winding) against the direction to the camera.
      const V3 c0 = cam_[tri[0]];
      const V3 outward = cross(cam_[tri[1]] - c0, cam_[tri[2]] - c0);
      if ((kOrthographic ? outward.z : dot(outward, c0)) >= 0) continue;
    }
    const V3 p0 = screen_[tri[0]], p1 = screen_[tri[1]], p2 = screen_[tri[2]];
    const double area = (static_cast<double>(p1.x) - p0.x) * (static_cast<double>(p2.y) - p0.y) -
                        (static_cast<double>(p1.y) - p0.y) * (static_cast<double>(p2.x) - p0.x);
    if (!(std::fabs(area) > 0.0)) continue;  // degenerate (or NaN) in screen space
    const float sign = area > 0 ? 1.0f : -1.0f;
    // Pixel centres (x + 0.5, y + 0.5) inside the triangle's bounding box.
    const int x0 = std::max(0, to_pixel(std::ceil(std::min({p0.x, p1.x, p2.x}) - 0.5f)));
    const int x1 = std::min(W - 1, to_pixel(std::floor(std::max({p0.x, p1.x, p2.x}) - 0.5f)));
    const int y0 = std::max(0, to_pixel(std::ceil(std::min({p0.y, p1.y, p2.y}) - 0.5f)));
    const int y1 = std::min(H - 1, to_pixel(std::floor(std::max({p0.y, p1.y, p2.y}) - 0.5f)));
    if (x0 > x1 || y0 > y1) continue;
    // w0 is opposite vertex 0 (edge 1-2), etc.; all three are positive inside.
    const Edge e0(p1, p2, sign), e1(p2, p0, sign), e2(p0, p1, sign);
    const double inv_area = 1.0 / std::fabs(area);
    for (int y = y0; y <= y1; ++y) {
      const double py = y + 0.5;
      // Narrow the row to the span where all three edge functions can be >= 0 (solving
      // a * (x + 0.5) + r >= 0 per edge, widened by a pixel against rounding); thin
      // triangles have bounding boxes far larger than their area. The exact test below
      // still decides every pixel.
      int xs = x0, xe = x1;
      bool empty_row = false;
      for (const Edge* e : {&e0, &e1, &e2}) {
        const double r = e->b * py + e->c;
        if (e->a > 0) {
          xs = std::max(xs, to_pixel(std::ceil(-r * e->inv_a - 0.5)) - 1);
        } else if (e->a < 0) {
          xe = std::min(xe, to_pixel(std::floor(-r * e->inv_a - 0.5)) + 1);
        } else if (!e->inside(r)) {
          empty_row = true;
        }
      }
      if (empty_row) continue;
      float* key_row = key + static_cast<size_t>(y) * W;
      int32_t* id_row = tri_id + static_cast<size_t>(y) * W;
      for (int x = xs; x <= xe; ++x) {
        const double px = x + 0.5;
        const double w0 = e0.at(px, py), w1 = e1.at(px, py), w2 = e2.at(px, py);
        if (!(e0.inside(w0) && e1.inside(w1) && e2.inside(w2))) continue;
        const auto k = static_cast<float>((w0 * p0.z + w1 * p1.z + w2 * p2.z) * inv_area);
        if (k > key_row[x]) {
          key_row[x] = k;
          id_row[x] = t;
        }
      }
    }
  }
  // Keys back to camera-space depth; empty pixels get 0.
  const size_t n = static_cast<size_t>(W) * H;
  for (size_t i = 0; i < n; ++i) {
    if (tri_id[i] < 0) {
      key[i] = 0.0f;
    } else {
      key[i] = kOrthographic ? -key[i] : 1.0f / key[i];
    }
  }
}

void Rasterizer::draw(const Mesh& mesh, const Camera& camera, GBuffer* g) {
  g->width = camera.width;
  g->height = camera.height;
  const size_t n = static_cast<size_t>(camera.width) * camera.height;
  g->depth.assign(n, -std::numeric_limits<float>::infinity());
  g->triangle.assign(n, -1);
  if (camera.orthographic) {
    draw_impl<true>(mesh, camera, g);
  } else {
    draw_impl<false>(mesh, camera, g);
  }
}

V3 Rasterizer::surface_point(const Camera& cam, const GBuffer& g, int pixel) {
  const float u = (pixel % g.width) + 0.5f, v = (pixel / g.width) + 0.5f;
  const float z = g.depth[static_cast<size_t>(pixel)];
  const float x = (u - cam.cx) / cam.fx, y = (v - cam.cy) / cam.fy;
  return cam.orthographic ? V3{x, y, z} : V3{x * z, y * z, z};
}

void Rasterizer::normals(const Mesh& mesh, const Camera& cam, const GBuffer& g, std::vector<V3>* out) {
  const size_t n = static_cast<size_t>(g.width) * g.height;
  out->assign(n, V3{0, 0, 0});
  const bool have_vertex_normals = mesh.normals.size() == mesh.vertices.size();
  const bool same_view = drawn_mesh_ == &mesh && cam_.size() == mesh.vertices.size() &&
                         drawn_camera_.rotation.m == cam.rotation.m && drawn_camera_.translation.x == cam.translation.x &&
                         drawn_camera_.translation.y == cam.translation.y && drawn_camera_.translation.z == cam.translation.z;
  if (!same_view) {  // not right after draw() of this mesh and camera: transform here
    cam_.resize(mesh.vertices.size());
    for (size_t i = 0; i < cam_.size(); ++i) cam_[i] = cam.to_camera(V3(mesh.vertices[i]));
  }
  if (have_vertex_normals) {
    cam_normals_.resize(mesh.normals.size());
    for (size_t i = 0; i < cam_normals_.size(); ++i) cam_normals_[i] = cam.rotation * V3(mesh.normals[i]);
  }
  for (size_t i = 0; i < n; ++i) {
    const int32_t t = g.triangle[i];
    if (t < 0) continue;
    const auto& tri = mesh.triangles[static_cast<size_t>(t)];
    const V3 a = cam_[tri[0]], b = cam_[tri[1]], c = cam_[tri[2]];
    // The visible side of a triangle faces the camera: the view ray to the point is p
    // (perspective) or +z (orthographic).
    const V3 p = surface_point(cam, g, static_cast<int>(i));
    const V3 view = cam.orthographic ? V3{0, 0, 1} : p;
    V3 face = normalize(cross(b - a, c - a));
    if (dot(face, view) > 0) face = -face;
    V3 normal = face;
    if (have_vertex_normals) {
      const V3 na = cam_normals_[tri[0]], nb = cam_normals_[tri[1]], nc = cam_normals_[tri[2]];
      V3 shading;
      if (dot(na, nb) > 0.99999f && dot(na, nc) > 0.99999f) {
        // Flat face: the B-rep gives every vertex of a plane the same normal, so using it
        // (rather than each triangle's cross product) makes the whole face one exact value.
        shading = normalize(na);
      } else {
        // Barycentric coordinates of the visible point, from sub-triangle areas.
        const V3 full = cross(b - a, c - a);
        const float inv = 1.0f / dot(full, full);
        const float wa = dot(cross(c - b, p - b), full) * inv;
        const float wb = dot(cross(a - c, p - c), full) * inv;
        const float wc = 1.0f - wa - wb;
        shading = normalize(na * wa + nb * wb + nc * wc);
      }
      // Vertex normals on the wrong side (an inverted face) are flipped to the visible side.
      if (dot(shading, shading) > 0.5f) normal = dot(shading, face) < 0 ? -shading : shading;
    }
    (*out)[i] = normal;
  }
}

}  // namespace cadcrafter
