// Triangle mesh shared by the kernel (tessellation), the renderer and point sampling.
// Plain data: the kernel fills it, everyone else only reads it.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace cadcrafter {

struct Mesh {
  std::vector<std::array<float, 3>> vertices;
  std::vector<std::array<uint32_t, 3>> triangles;  // counter-clockwise seen from outside
  // Optional per-vertex normals (same size as vertices when present). Faces of a B-rep are
  // tessellated separately, so a sharp edge has duplicated vertices with different normals.
  std::vector<std::array<float, 3>> normals;

  bool empty() const { return triangles.empty(); }
};

}  // namespace cadcrafter
