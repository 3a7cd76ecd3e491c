#include "geom/mesh_measure.h"

#include <algorithm>
#include <cmath>

namespace cadcrafter {
namespace {
struct D3 {
  double x, y, z;
};
D3 at(const Mesh& m, uint32_t i) { return {m.vertices[i][0], m.vertices[i][1], m.vertices[i][2]}; }
D3 sub(D3 a, D3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
D3 cross(D3 a, D3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
double dot(D3 a, D3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
}  // namespace

double mesh_volume(const Mesh& mesh) {
  double six_v = 0.0;
  for (const auto& t : mesh.triangles) six_v += dot(at(mesh, t[0]), cross(at(mesh, t[1]), at(mesh, t[2])));
  return six_v / 6.0;
}

double mesh_area(const Mesh& mesh) {
  double area = 0.0;
  for (const auto& t : mesh.triangles) {
    const D3 n = cross(sub(at(mesh, t[1]), at(mesh, t[0])), sub(at(mesh, t[2]), at(mesh, t[0])));
    area += 0.5 * std::sqrt(dot(n, n));
  }
  return area;
}

BoundingBox mesh_bbox(const Mesh& mesh) {
  BoundingBox box;
  if (mesh.vertices.empty()) return box;
  box.min = box.max = {mesh.vertices[0][0], mesh.vertices[0][1], mesh.vertices[0][2]};
  for (const auto& v : mesh.vertices) {
    box.min = {std::min<double>(box.min.x, v[0]), std::min<double>(box.min.y, v[1]), std::min<double>(box.min.z, v[2])};
    box.max = {std::max<double>(box.max.x, v[0]), std::max<double>(box.max.y, v[1]), std::max<double>(box.max.z, v[2])};
  }
  return box;
}

}  // namespace cadcrafter
