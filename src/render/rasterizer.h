// A plain z-buffer triangle rasteriser (no GPU, no Embree: on CAD meshes a z-buffer matches ray
// casting pixel for pixel and runs faster). It produces a G-buffer - camera-space depth and the
// id of the visible triangle per pixel - from which normals, masks and shading are derived in a
// second, "deferred" pass that only touches covered pixels.
//
// Coverage follows a consistent tie rule (a pixel centre exactly on an edge shared by two
// triangles belongs to exactly one of them) and edge functions are evaluated in a canonical
// vertex order, so closed meshes render without cracks or double hits.
// By default triangles are drawn whichever way they face. With set_cull_back_faces(true),
// triangles whose outward side (counter-clockwise winding, as the kernel's tessellation
// guarantees) faces away from the camera are skipped: on a closed mesh they are hidden anyway,
// and skipping them halves the work. Triangles with a vertex closer than `near_plane` to the
// camera plane are skipped (our cameras keep the unit sphere at depth >= 2).
#pragma once

#include <cstdint>
#include <vector>

#include "geom/mesh.h"
#include "render/camera.h"
#include "render/vec.h"

namespace cadcrafter {

struct GBuffer {
  int width = 0, height = 0;
  std::vector<float> depth;        // camera-space z of the visible surface; 0 where empty
  std::vector<int32_t> triangle;   // index of the visible triangle; -1 where empty
  bool covered(int pixel) const { return triangle[static_cast<size_t>(pixel)] >= 0; }
};

class Rasterizer {
 public:
  static constexpr float near_plane = 1e-3f;

  // Rasterises `mesh` seen by `camera` into `out` (resized to the camera's image size).
  // Reusing one Rasterizer and one GBuffer across views avoids reallocating.
  void draw(const Mesh& mesh, const Camera& camera, GBuffer* out);

  void set_cull_back_faces(bool cull) { cull_back_faces_ = cull; }

  // Unit normals in the camera frame for every pixel (zero vector where empty), flipped if
  // needed to face the camera. Per-vertex normals are interpolated when the mesh has them,
  // except on triangles whose three vertex normals agree (flat faces), which get that common
  // normal, so a planar face has one constant normal. Call right after draw() with the same
  // mesh and camera (it reuses the transformed vertices).
  void normals(const Mesh& mesh, const Camera& camera, const GBuffer& g, std::vector<V3>* out);

  // Camera-frame point of the surface seen at `pixel` (requires g.covered(pixel)).
  static V3 surface_point(const Camera& camera, const GBuffer& g, int pixel);

 private:
  template <bool kOrthographic>
  void draw_impl(const Mesh& mesh, const Camera& camera, GBuffer* out);
  std::vector<V3> cam_;     // vertices in the camera frame
  std::vector<V3> screen_;  // (pixel x, pixel y, interpolated depth key)
  std::vector<V3> cam_normals_;  // vertex normals in the camera frame
  const Mesh* drawn_mesh_ = nullptr;  // what cam_ holds
  Camera drawn_camera_;
  bool cull_back_faces_ = false;
};

}  // namespace cadcrafter
