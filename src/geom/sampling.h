// Uniform random points on a mesh surface (area-weighted triangle choice, uniform inside the
// triangle), as trimesh.sample.sample_surface does for DeepCAD's point clouds.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "geom/mesh.h"

namespace cadcrafter {

using Point3 = std::array<float, 3>;
using PointCloud = std::vector<Point3>;

// `n` points; the same mesh, n and seed always give the same points. Empty for an empty mesh
// or one with zero area.
PointCloud sample_surface(const Mesh& mesh, int n, uint64_t seed);

}  // namespace cadcrafter
