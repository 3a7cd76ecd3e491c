// Measures of a closed triangle mesh, used to sanity-check tessellations and exports.
#pragma once

#include "cad/cad_model.h"
#include "geom/mesh.h"

namespace cadcrafter {

// Signed volume (divergence theorem): positive when triangles wind counter-clockwise seen
// from outside, which is what the kernel's tessellation promises.
double mesh_volume(const Mesh& mesh);

double mesh_area(const Mesh& mesh);

// Axis-aligned box of the vertices (zero box for an empty mesh).
BoundingBox mesh_bbox(const Mesh& mesh);

}  // namespace cadcrafter
