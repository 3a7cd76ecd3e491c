// CadModel -> B-rep solid, with DeepCAD's construction semantics (cadlib/visualize.py,
// create_CAD): each extrude's profile becomes a planar face (first loop outer, the others
// holes), swept into a prism along the sketch normal, and combined with the body so far
// (NewBody and Join fuse, Cut subtracts, Intersect keeps the common part). The first
// extrude starts the body whatever its operation.
//
// Extents: OneSide covers [0, e1] along the normal (e1 may be negative), Symmetric
// [-e1, e1], TwoSides [-e2, e1]. DeepCAD fuses two prisms for the last two; the union of two
// collinear prisms from the same face is one prism over the union interval, which is what
// we build (same solid, no boolean, no seam face).
//
// Geometry problems are reported with their place, e.g.
//   "extrude 2, loop 1, curve 3: degenerate arc (start == end)".
#pragma once

#include <atomic>

#include "cad/cad_model.h"
#include "util/status.h"
#include "kernel/solid.h"

namespace cadcrafter {

struct CompileOptions {
  // Cooperative time limit for the whole build (0 = none). OCCT's booleans poll it through
  // their progress indicator; the result is ErrorCode::kTimeout.
  int timeout_ms = 0;
  // Optional external cancel flag, polled the same way (check_model uses it).
  const std::atomic<bool>* cancel = nullptr;
  // Run BRepCheck on each profile face before sweeping it: catches self-intersecting loops
  // early, with the extrude named, instead of as a broken boolean later.
  bool check_faces = true;
};

// Builds the solid. Never throws: OCCT exceptions become ErrorCode::kGeometry.
Result<Solid> compile_model(const CadModel& model, const CompileOptions& options = {});

// Only the 2D checks (degenerate curves, open loops, zero extents, bad planes), no OCCT
// work: cheap enough to run on every sample a network produces.
Status validate_model_geometry(const CadModel& model);

}  // namespace cadcrafter
