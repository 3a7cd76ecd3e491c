// Checker-guided repair of a DeepCAD vector that does not build: the smallest edits of its
// structure that make the kernel accept it. A generated sequence that fails usually fails in one
// sketch (a loop that crosses another or itself, or encloses no area); the rest of it is often
// right, and a valid part that lacks one hole is a better answer than none.
//
// The edits remove whole loops or whole extrudes, nothing else: the remaining rows keep their
// quantised values, so every kept curve, plane and extent is exactly where the vector put it
// (the loops of an extrude are quantised in its sketch's own frame, which the Ext row carries).
// Extrudes are taken in order; the first one whose prefix does not build is repaired by removing
// one of its loops (the last one first: holes before the outer boundary) and, if no single removal
// builds, dropped. The result builds by construction (each accepted prefix was checked), or
// `valid` is false when nothing was left or the budget (builds or seconds) ran out.
#pragma once

#include <string>
#include <vector>

#include "cad/cad_vec.h"
#include "kernel/check.h"

namespace cadcrafter {

struct RepairOptions {
  int max_checks = 40;     // kernel builds at most (a prefix each); the input's own check included
  double max_seconds = 0;  // wall-clock budget for the whole repair (0: none); no build starts past it
  CheckOptions check;      // per build
};

struct RepairResult {
  bool valid = false;              // `vec` builds
  bool changed = false;            // something was removed
  CadVec vec;                      // the repaired vector (the input when it built as it came)
  std::string reason;              // the input's checker reason (empty when it built)
  std::vector<std::string> edits;  // "extrude 2: removed loop 1 (3 curves)", "removed extrude 3 (...)"
  int checks = 0;                  // kernel builds used
  CheckResult check;               // the kernel's verdict on `vec` (its solid with options.check.keep_solid)
};

RepairResult repair_vec(const CadVec& vec, const RepairOptions& options = {});

// The edits in one line, e.g. "removed loop 1 of extrude 2 (3 curves)"; "" when there were none.
std::string describe_edits(const RepairResult& r);

}  // namespace cadcrafter
