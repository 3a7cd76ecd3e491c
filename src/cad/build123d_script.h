// A CadModel as a readable build123d Python script (pure text, no kernel): one function per
// sketch (Plane(origin, x_dir, z_dir), loops drawn with Line / ThreePointArc / Circle,
// make_face, holes subtracted), then one extrude per Extrude with the DeepCAD operation
// (Mode.ADD / SUBTRACT / INTERSECT) and extent (amount, both=True for Symmetric).
//
// The script builds the same solid as the kernel: the first extrude starts the body, later
// NewBody/Join add to it; a TwoSides extrude is written as one prism from a plane shifted to
// the far end, as the kernel builds it.
#pragma once

#include <string>

#include "cad/cad_model.h"

namespace cadcrafter {

std::string to_build123d_script(const CadModel& model);

}  // namespace cadcrafter
