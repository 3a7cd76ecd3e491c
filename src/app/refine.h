// Parameter refinement: analysis by synthesis for a candidate whose kind of part is right but
// whose proportions are not. The commands of the CAD sequence (its topology) stay fixed; its
// continuous parameters move to maximise the agreement with the input views (agreement.h):
//
//   proportions   y/x and z/x of the whole part (log factors; only with 2+ extrudes: with one,
//                 the extrude's own parameters span them). Each extrude's plane origin is scaled,
//                 its profile scaled along the sketch axes by how much the axes stretch, its
//                 extents by how much the normal stretches (exact for axis-aligned planes, which
//                 DeepCAD's and the generator's parts mostly have; a smooth approximation else).
//   per extrude   extent_one (and extent_two for two-sided extrudes) (log factors); the sketch
//                 plane's offset along its normal (share of the part's longest side; only with
//                 2+ extrudes); the profile's scale along the sketch u and v axes about the
//                 profile's bounding-box centre (log factors).
//   Lines and arcs keep their end points joined (arcs are re-fitted through their moved start,
//   mid and end points); a circle stays a circle (radius times sqrt(su * sv)).
//
// Every evaluated point is built by the kernel (check_model, the solid kept) and tessellated;
// points that do not build a valid, non-empty solid are rejected. The score is measured at the
// views' current poses (one render per view), and the poses are re-fitted (pose refinement)
// after each search pass that improved the parameters. The search is a compass search
// (pattern_search.h). A candidate is replaced only when the refined one scores strictly higher,
// so refinement never lowers a score nor makes a valid candidate invalid.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/agreement.h"
#include "app/view_maps.h"
#include "cad/cad_model.h"
#include "geom/mesh.h"
#include "kernel/check.h"

namespace cadcrafter::app {

struct RefineOptions {
  int max_evaluations = 200;       // kernel builds per candidate
  int pose_evaluations = 12;       // renders per view when the poses are re-fitted after a pass
  int follow_evaluations = 8;      // renders per view of the fine pose search at every evaluated point (0: fixed poses)
  AgreementOptions agreement;      // the objective; must be the options the start agreement was measured with
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<bool()> stop;      // cancellation (the run's time limit)
};

// One continuous parameter of a model: its search coordinate and what it means.
struct ModelParameter {
  enum class Kind { kProportionY, kProportionZ, kExtentOne, kExtentTwo, kOffset, kProfileU, kProfileV };
  Kind kind = Kind::kExtentOne;
  int extrude = -1;  // -1 for the whole part
  std::string name;  // "proportion z/x", "extrude 2 extent_one", ...
  bool log_factor = true;  // coordinate x means a factor exp(x); else an offset x * the part's size
};

// The parameters refinement moves for `model` (see the header comment for which and why).
std::vector<ModelParameter> model_parameters(const CadModel& model);

// `model` with coordinates x (x = 0: unchanged) applied; `size` is the part's longest side (offsets
// are shares of it).
CadModel apply_parameters(const CadModel& model, const std::vector<ModelParameter>& parameters,
                          const std::vector<double>& x, double size);

struct ParameterChange {
  std::string name;
  double value = 0;   // the factor, or the offset in model units
  bool factor = true;
};

struct RefineReport {
  bool attempted = false, improved = false;
  double score_before = 0, score_after = 0;
  int parameters = 0, evaluations = 0, rejected = 0, improvements = 0;
  double seconds = 0;
  std::string stopped_by = "not refined";  // "converged", "evaluations", "time", "stopped", or why not attempted
  std::vector<ParameterChange> changes;  // of the kept result (empty when not improved)
  nlohmann::json to_json(bool with_time = true) const;
};

// A checked candidate as reconstruct holds it.
struct FittedCandidate {
  CadModel model;
  CheckResult check;  // valid, with the solid
  Mesh mesh;
  Agreement agreement;  // measured with options.agreement on `mesh`
};

// Refines `candidate` in place (unchanged unless the score strictly improved). Never throws.
RefineReport refine_candidate(FittedCandidate& candidate, const std::vector<ViewMaps>& views, const RefineOptions& options);

}  // namespace cadcrafter::app
