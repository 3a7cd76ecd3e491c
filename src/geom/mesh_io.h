// Writing (and, for tests and tools, reading) triangle meshes: Wavefront OBJ and binary STL.
// Writers go through write_atomically, so a failure never leaves a partial file.
#pragma once

#include <string>

#include "util/status.h"
#include "geom/mesh.h"

namespace cadcrafter {

// OBJ with `v`, `vn` (when the mesh has normals) and 1-based `f` records; a non-empty `note`
// (e.g. "units: mm") becomes a comment line at the top.
Status write_obj(const Mesh& mesh, const std::string& path, const std::string& note = {});

// Binary STL: 80-byte header, triangle count, per triangle a facet normal (from the winding)
// and three vertices, little-endian float32. A non-empty `note` is appended to the header text
// (cut at 80 bytes).
Status write_stl(const Mesh& mesh, const std::string& path, const std::string& note = {});

// Reads a binary STL back (vertices are not merged: three per triangle, no normals).
Result<Mesh> read_stl(const std::string& path);

}  // namespace cadcrafter
