#include "render/shapes.h"

#include <cmath>

namespace cadcrafter {
namespace {

void add_quad(Mesh* m, V3 a, V3 b, V3 c, V3 d, V3 n) {  // a b c d counter-clockwise from outside
  const auto base = static_cast<uint32_t>(m->vertices.size());
  for (const V3& p : {a, b, c, d}) {
    m->vertices.push_back({p.x, p.y, p.z});
    m->normals.push_back({n.x, n.y, n.z});
  }
  m->triangles.push_back({base, base + 1, base + 2});
  m->triangles.push_back({base, base + 2, base + 3});
}

}  // namespace

Mesh make_box_mesh(V3 lo, V3 hi) {
  Mesh m;
  const V3 p000{lo.x, lo.y, lo.z}, p100{hi.x, lo.y, lo.z}, p010{lo.x, hi.y, lo.z}, p110{hi.x, hi.y, lo.z};
  const V3 p001{lo.x, lo.y, hi.z}, p101{hi.x, lo.y, hi.z}, p011{lo.x, hi.y, hi.z}, p111{hi.x, hi.y, hi.z};
  add_quad(&m, p000, p010, p110, p100, {0, 0, -1});  // bottom
  add_quad(&m, p001, p101, p111, p011, {0, 0, 1});   // top
  add_quad(&m, p000, p100, p101, p001, {0, -1, 0});  // front (y = lo)
  add_quad(&m, p010, p011, p111, p110, {0, 1, 0});   // back
  add_quad(&m, p000, p001, p011, p010, {-1, 0, 0});  // left
  add_quad(&m, p100, p110, p111, p101, {1, 0, 0});   // right
  return m;
}

Mesh make_cylinder_mesh(float cx, float cy, float radius, float z0, float z1, int segments) {
  Mesh m;
  const uint32_t n = static_cast<uint32_t>(segments);
  // Side: a ring of vertex pairs with radial normals.
  for (uint32_t i = 0; i < n; ++i) {
    const double a = 2.0 * kPi * i / n;
    const float c = static_cast<float>(std::cos(a)), s = static_cast<float>(std::sin(a));
    m.vertices.push_back({cx + radius * c, cy + radius * s, z0});
    m.vertices.push_back({cx + radius * c, cy + radius * s, z1});
    m.normals.push_back({c, s, 0});
    m.normals.push_back({c, s, 0});
  }
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t j = (i + 1) % n;
    m.triangles.push_back({2 * i, 2 * j, 2 * j + 1});
    m.triangles.push_back({2 * i, 2 * j + 1, 2 * i + 1});
  }
  // Caps: a centre vertex and their own ring, so the cap normals stay flat.
  for (int cap = 0; cap < 2; ++cap) {
    const float z = cap == 0 ? z0 : z1;
    const float nz = cap == 0 ? -1.0f : 1.0f;
    const auto centre = static_cast<uint32_t>(m.vertices.size());
    m.vertices.push_back({cx, cy, z});
    m.normals.push_back({0, 0, nz});
    for (uint32_t i = 0; i < n; ++i) {
      const double a = 2.0 * kPi * i / n;
      m.vertices.push_back({cx + radius * static_cast<float>(std::cos(a)), cy + radius * static_cast<float>(std::sin(a)), z});
      m.normals.push_back({0, 0, nz});
    }
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t a = centre + 1 + i, b = centre + 1 + (i + 1) % n;
      if (cap == 0) {
        m.triangles.push_back({centre, b, a});  // bottom seen from below: clockwise from above
      } else {
        m.triangles.push_back({centre, a, b});
      }
    }
  }
  return m;
}

void append_mesh(Mesh* a, const Mesh& b) {
  const auto base = static_cast<uint32_t>(a->vertices.size());
  const bool normals = a->normals.size() == a->vertices.size() && b.normals.size() == b.vertices.size();
  a->vertices.insert(a->vertices.end(), b.vertices.begin(), b.vertices.end());
  if (normals) {
    a->normals.insert(a->normals.end(), b.normals.begin(), b.normals.end());
  } else {
    a->normals.clear();
  }
  for (const auto& t : b.triangles) a->triangles.push_back({t[0] + base, t[1] + base, t[2] + base});
}

Mesh make_demo_part_mesh(int segments) {
  Mesh m = make_box_mesh({-4, -2.5f, 0}, {4, 2.5f, 0.8f});                        // base plate
  append_mesh(&m, make_box_mesh({-4, 1.7f, 0.8f}, {0.5f, 2.5f, 4.0f}));           // upright wall
  append_mesh(&m, make_cylinder_mesh(2.2f, -0.4f, 1.3f, 0.8f, 2.6f, segments));   // boss
  append_mesh(&m, make_cylinder_mesh(-2.0f, -0.8f, 0.6f, 0.8f, 3.2f, segments));  // pin
  return m;
}

}  // namespace cadcrafter
