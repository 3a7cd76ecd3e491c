// A part turned to face a view: the view frame of the training targets (render/camera.h,
// cad/turn.h) applied to a DeepCAD vector that came from elsewhere (a retrieved part, a generated
// sample, an answer being scored). The vector is decoded and built by the kernel, its tessellation
// gives the quarter turn about +Z that faces the view (agreement.h facing_quarter_turns), and the
// vector, the model and the mesh are all turned by it. reconstruct's own answers are turned from
// their refined poses instead (reconstruct.cpp, face_first_view).
#pragma once

#include "app/view_maps.h"
#include "cad/cad_model.h"
#include "cad/cad_vec.h"
#include "geom/mesh.h"

namespace cadcrafter::app {

struct FacedVec {
  bool valid = false;  // the vector decoded and built a solid with a surface
  CadVec vec;          // turned; the input as it came when !valid
  CadModel model;      // decoded and turned (empty when it does not decode)
  Mesh mesh;           // the solid's tessellation, turned (the turn is exact: coordinates swap)
  int turns = 0;       // k: vec = turn_vec(input, -k)
};

FacedVec face_view(const CadVec& vec, const ViewMaps& view);

// `mesh` turned by quarter_turns * 90 degrees about +Z, as turn_about_z turns a model.
Mesh turn_mesh_about_z(const Mesh& mesh, int quarter_turns);

}  // namespace cadcrafter::app
