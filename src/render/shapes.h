// Closed triangle meshes of simple solids built in code, with B-rep-style per-face normals
// (every planar face has its own vertices). Used by tests, benchmarks and `cadcrafter render
// --shape` when no CAD file is at hand; the real pipeline renders the kernel's tessellation.
#pragma once

#include "geom/mesh.h"
#include "render/vec.h"

namespace cadcrafter {

// Axis-aligned box [lo, hi]: 6 faces x 4 vertices, 12 triangles.
Mesh make_box_mesh(V3 lo, V3 hi);

// Cylinder along +Z from z0 to z1 around (cx, cy): smooth side (radial vertex normals) and two
// flat caps, `segments` facets around.
Mesh make_cylinder_mesh(float cx, float cy, float radius, float z0, float z1, int segments);

// Appends b to a (no boolean: overlapping parts are fine for a z-buffer).
void append_mesh(Mesh* a, const Mesh& b);

// A bracket-like part: a base plate, an upright wall and two cylindrical bosses; about
// 8 * segments + 24 triangles (segments = 256 gives ~2k, 625 gives ~5k).
Mesh make_demo_part_mesh(int segments = 256);

}  // namespace cadcrafter
