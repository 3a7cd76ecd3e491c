// The code checker: does a CAD sequence build a sound solid? One verdict per model, with a
// reason a person can act on ("extrude 1: loop 0 is open (gap 0.02 between curve 4 end and
// curve 0 start)", "extrude 3: boolean cut failed", "result is empty", "non-manifold
// result", "BRepCheck: ..."), and the solid's measurements when it is valid.
//
// It never crashes and never hangs: the build runs on a worker thread under a time limit.
// OCCT's booleans poll a cancel flag; a build that ignores it past a grace period is
// abandoned (the thread is detached and its result dropped) and reported as a timeout.
#pragma once

#include <string>

#include "cad/cad_model.h"
#include "util/status.h"
#include "kernel/solid.h"

namespace cadcrafter {

struct CheckOptions {
  int timeout_ms = 2000;        // per model; 0 = no limit, build on the calling thread
  bool check_validity = true;   // BRepCheck_Analyzer + manifold edges on the result
  bool check_faces = true;      // BRepCheck on each profile face before sweeping it
  bool keep_solid = false;      // return the built solid in CheckResult::solid
};

struct CheckResult {
  bool valid = false;
  std::string reason;           // empty when valid
  ErrorCode code = ErrorCode::kInternal;  // meaningful only when !valid
  double volume = 0.0, area = 0.0;
  int n_solids = 0;
  BoundingBox bbox;
  double ms = 0.0;              // wall time of the whole check
  Solid solid;                  // only with keep_solid (and a built shape)
};

CheckResult check_model(const CadModel& model, const CheckOptions& options = {});

// How many builds were abandoned after their time limit and may still be running on a
// detached thread. A program that saw any should leave with std::_Exit after flushing its
// output, so that static destructors do not run under a live OCCT computation.
int abandoned_check_count();

}  // namespace cadcrafter
