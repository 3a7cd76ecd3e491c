// Photos in, ranked CAD candidates out: the pipeline behind `cadcrafter reconstruct` and the
// web page.
//
//   1-4 photos -> checks (photo_input.h) -> estimator: whole photo to find the object, then a
//   crop around it -> relative depth, normals, mask per view (view_maps.h)
//   [or depth/normal PNGs directly: InputKind::kDepthNormal]
//   -> a candidate source proposes a pool of CAD sequences (candidates.h): the latent diffusion
//   model (shipped in models/diffusion) or, without it, a procedural-part search
//   -> kernel check of each (valid solid or a reason) -> agreement of each valid candidate's
//   renders with the input maps over a pose search (agreement.h)
//   -> rank: valid first, then agreement score, then proposal order
//   -> the best `samples` candidates are written.
//
// Output folder (written into "<out>.partial.<pid>" and renamed at the end, so a failed run
// never leaves a partial result; an existing folder is replaced only with `force`):
//   run.json     inputs, options, seed, weights (path + sha256), versions, timings
//   index.json   the ranking (no timings: the same seed gives the same file)
//   index.md     the ranking for people
//   inputs/      per view: the framed photo, estimated normals and mask (PNG)
//   candidate_NN/  (NN = rank, from 01)
//     model.step model.glb model.stl  (valid candidates only)
//     model.py (build123d), sequence.json (cad_json), sequence.h5 (DeepCAD vector)
//     preview.png: per input view, the framed input | its estimated normals | the candidate's
//       normals from its best-matching pose
//     report.json: valid, reason, volume, score, per-view IoU / normal agreement / pose
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/photo_input.h"
#include "util/status.h"

namespace cadcrafter::app {

enum class InputKind { kPhoto, kDepthNormal };

struct ReconstructParams {
  std::vector<std::string> inputs;  // 1 to 4 files
  std::string output;
  int samples = 4;                  // candidates written
  uint64_t seed = 0;
  int steps = 25;                   // DDIM steps of the learned source (25: half the time of 50 for a
                                    // 1-candidate run to stay under a second; recorded otherwise)
  std::string device = "cpu";
  int threads = 2;
  InputKind input_kind = InputKind::kPhoto;
  bool force = false;
  std::string weights_dir;          // "" = default_weights_dir()
  // Where candidates come from: "retrieval" (<weights>/retrieval, nearest known parts by image
  // features), "diffusion" (<weights>/diffusion, the learned generator), "procedural"
  // (procedural-part search, no learning), or "auto" (retrieval and diffusion pooled, each when
  // present; the procedural search without either).
  std::string candidates = "auto";
  std::string estimator;            // "" = <weights_dir>/estimator.pt; may be a TorchScript file
  PhotoLimits limits;
  nlohmann::json run_info = nlohmann::json::object();  // extra fields for run.json (command line, ...)
};

// stage: "load", "estimate", "propose", "check", "write"; done/total within the stage.
using ReconstructProgress = std::function<void(const std::string& stage, int done, int total)>;

struct CandidateSummary {
  int rank = 0;               // 1-based
  std::string folder;         // "candidate_01"
  std::string origin;
  bool valid = false;
  std::string reason;         // why not valid
  double volume = 0, score = 0, mask_iou = 0, normal_agreement = 0;
};

struct ReconstructSummary {
  std::string output;
  std::string source;         // candidate source name
  int proposals = 0, valid_proposals = 0;
  int fallback_proposals = 0;  // procedural-search proposals added because the learned ones fell short
  std::vector<CandidateSummary> ranking;
  nlohmann::json timings;     // seconds per stage
};

// Checks the parameters without touching any file (the message names the bad option).
Status validate_params(const ReconstructParams& params);

Result<ReconstructSummary> reconstruct(const ReconstructParams& params, const ReconstructProgress& progress = {});

// Where the shipped weights are: $CADCRAFTER_MODELS, else "models" next to the executable or
// one level up (build/cadcrafter -> models/), else the source tree's models/.
std::string default_weights_dir();

}  // namespace cadcrafter::app
