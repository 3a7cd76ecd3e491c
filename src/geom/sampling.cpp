#include "geom/sampling.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace cadcrafter {

PointCloud sample_surface(const Mesh& mesh, int n, uint64_t seed) {
  PointCloud points;
  if (mesh.triangles.empty() || n <= 0) return points;
  // Cumulative triangle areas: a uniform draw in [0, total) picks a triangle with
  // probability proportional to its area.
  std::vector<double> cumulative(mesh.triangles.size());
  double total = 0.0;
  for (size_t t = 0; t < mesh.triangles.size(); ++t) {
    const auto &a = mesh.vertices[mesh.triangles[t][0]], &b = mesh.vertices[mesh.triangles[t][1]],
               &c = mesh.vertices[mesh.triangles[t][2]];
    const double ux = b[0] - a[0], uy = b[1] - a[1], uz = b[2] - a[2];
    const double vx = c[0] - a[0], vy = c[1] - a[1], vz = c[2] - a[2];
    const double cx = uy * vz - uz * vy, cy = uz * vx - ux * vz, cz = ux * vy - uy * vx;
    total += 0.5 * std::sqrt(cx * cx + cy * cy + cz * cz);
    cumulative[t] = total;
  }
  if (!(total > 0.0)) return points;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  points.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const double pick = unit(rng) * total;
    const size_t t = std::min<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), pick) - cumulative.begin(),
                                      cumulative.size() - 1);
    // Uniform in the triangle: fold the unit square onto it.
    double r1 = unit(rng), r2 = unit(rng);
    if (r1 + r2 > 1.0) r1 = 1.0 - r1, r2 = 1.0 - r2;
    const auto &a = mesh.vertices[mesh.triangles[t][0]], &b = mesh.vertices[mesh.triangles[t][1]],
               &c = mesh.vertices[mesh.triangles[t][2]];
    Point3 p;
    for (int k = 0; k < 3; ++k) p[k] = static_cast<float>(a[k] + r1 * (b[k] - a[k]) + r2 * (c[k] - a[k]));
    points.push_back(p);
  }
  return points;
}

}  // namespace cadcrafter
