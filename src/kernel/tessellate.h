// B-rep -> triangle mesh for the renderer, point sampling and mesh exports.
// Each face is meshed on its own (sharp edges get duplicated vertices with their own
// normals); triangles wind counter-clockwise seen from outside and normals point outwards.
#pragma once

#include "geom/mesh.h"
#include "kernel/solid.h"

namespace cadcrafter {

struct MeshOptions {
  // Chordal deviation. With `relative`, a fraction of the bounding-box diagonal, so a part
  // meshes the same whatever its units.
  double linear_deflection = 0.001;
  bool relative = true;
  double angular_deflection = 0.3;  // radians between neighbouring facet normals on curves
};

// Empty mesh for an empty solid. Thread-safe (meshing one Solid from two threads takes turns).
Mesh tessellate(const Solid& solid, const MeshOptions& options = {});

}  // namespace cadcrafter
