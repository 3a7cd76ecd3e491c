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
//   -> pose refinement of the best `samples`: each view's grid pose refined continuously
//   (agreement.h), then re-ranked
//   -> parameter refinement (refine.h) of the best `refine_candidates` valid ones within
//   `refine_seconds`: their continuous parameters (proportions, extents, plane offsets, profile
//   scales) fitted to the inputs with the commands kept, every step a kernel-checked solid; a
//   candidate is replaced only by a strictly better-scoring one; re-ranked
//   -> the best `samples` candidates, turned to face the first photo and scaled to `size`
//   (photos carry no scale: the longest side of each candidate's bounding box is made `size`,
//   100 mm unless given), are written in millimetres.
//
// Units of the files: model.step declares millimetres, model.stl is in millimetres, model.glb
// in metres (glTF), sequence.json says "length_unit": "mm"; sequence.h5 is DeepCAD's
// normalised vector (no unit).
//
// Output folder (written into "<out>.partial.<pid>" and renamed at the end, so a failed run
// never leaves a partial result; an existing folder is replaced only with `force`):
//   run.json     inputs, options (with the size), seed, weights (path + sha256), versions, timings
//   index.json   the ranking (no timings: the same seed gives the same file)
//   index.md     the ranking for people, and the scale used
//   inputs/      per view: the framed photo, estimated normals and mask (PNG)
//   candidate_NN/  (NN = rank, from 01)
//     model.step model.glb model.stl  (valid candidates only)
//     model.py (build123d), sequence.json (cad_json), sequence.h5 (DeepCAD vector)
//     preview.png: per input view, the framed input | its estimated normals | the candidate's
//       normals from its best-matching pose
//     report.json: valid, reason, volume, score, per-view IoU / normal / depth agreement / pose,
//       and what the parameter refinement did (score before/after, evaluations, changes, seconds)
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/agreement.h"
#include "app/candidates.h"
#include "app/photo_input.h"
#include "app/refine.h"
#include "app/view_maps.h"
#include "cad/cad_vec.h"
#include "cad/units.h"
#include "geom/mesh.h"
#include "kernel/check.h"
#include "util/status.h"

namespace cadcrafter::app {

enum class InputKind { kPhoto, kDepthNormal };

// 100 mm: the longest side of a reconstructed part when no --size is given.
inline Length default_part_size() { return Length{100.0, LengthUnit::kMillimetre}; }
inline constexpr double kMinPartSizeMm = 0.01, kMaxPartSizeMm = 100000.0;  // --size range: 0.01 mm .. 100 m
// --refine-seconds: the default wall time of the parameter refinement, and the largest accepted.
inline constexpr double kDefaultRefineSeconds = 2.0, kMaxRefineSeconds = 3600.0;
inline constexpr double kDefaultPriorWeight = 1.0;
// Kernel evaluations per second per thread the refinement plans for (measured here: 20-40 with 4
// photos on the 2 shared cores under load, more with fewer photos; planned low so that the
// evaluation budget, not the clock, ends the search and the result stays reproducible).
inline constexpr double kRefineEvaluationsPerSecond = 15.0;

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
  // The real size of the part: its longest bounding-box side (`--size 40mm`, `4cm`, `1.5in`).
  Length size = default_part_size();
  bool force = false;
  std::string weights_dir;          // "" = default_weights_dir()
  // Where candidates come from: "retrieval" (<weights>/retrieval, nearest known parts by image
  // features), "diffusion" (<weights>/diffusion, the learned generator), "procedural"
  // (procedural-part search, no learning), or "auto" (retrieval and diffusion pooled, each when
  // present; the procedural search without either).
  std::string candidates = "auto";
  std::string estimator;            // "" = <weights_dir>/estimator.pt; may be a TorchScript file
  PhotoLimits limits;
  // Wall-time limit in seconds (0 = none), checked between stages and before each proposal's
  // check: past it reconstruct stops and fails with ErrorCode::kTimeout, leaving no output
  // (the web server's per-job limit). `stop_requested`, polled at the same points, stops it the
  // same way (a server shutting down).
  double time_limit_s = 0;
  std::function<bool()> stop_requested;
  // Parameter refinement (refine.h) after ranking: `refine` = false is --no-refine. The best
  // `refine_candidates` valid candidates are refined in parallel (`threads`) within
  // `refine_seconds` of wall time for the whole stage (--refine-seconds; 0 skips it too). The
  // seconds become a budget of kernel evaluations per candidate, kRefineEvaluationsPerSecond x
  // seconds x min(threads, candidates) / candidates (`refine_evaluations` > 0 sets it instead),
  // and the clock cuts the stage at `refine_seconds`. So the same seed gives the same result on
  // any machine fast enough to spend the evaluations in time; when the clock cuts a search,
  // report.json says stopped_by "time" (and the result may then depend on the machine's load).
  bool refine = true;
  double refine_seconds = kDefaultRefineSeconds;
  // A proposal whose DeepCAD vector does not build is repaired (kernel/repair.h: the fewest loops
  // or extrudes removed until the kernel accepts it) and enters the pool labelled "repaired";
  // false is --no-repair.
  bool repair = true;
  // Ranking key: agreement score + prior_weight x the proposal's prior (retrieval: its feature
  // similarity to the inputs; proposals without one count with the median prior of the pool, so
  // the weight moves retrieval candidates against each other, not against other sources). The
  // agreement alone judges silhouettes and normals at the best pose, which a plate can match as
  // well as the L bracket the features recognise (--prior-weight; 0 = agreement alone).
  double prior_weight = kDefaultPriorWeight;
  int refine_candidates = 2;
  int refine_evaluations = 0;
  nlohmann::json run_info = nlohmann::json::object();  // extra fields for run.json (command line, ...)
};

// stage: "load", "estimate", "propose", "check", "refine", "write"; done/total within the stage
// ("refine": candidates refined so far).
using ReconstructProgress = std::function<void(const std::string& stage, int done, int total)>;

struct CandidateSummary {
  int rank = 0;               // 1-based
  std::string folder;         // "candidate_01"
  std::string origin;
  bool valid = false;
  std::string reason;         // why not valid
  double volume = 0, score = 0, mask_iou = 0, normal_agreement = 0;  // volume in mm^3 (after scaling)
  double scale = 0;           // model units -> mm factor applied to reach the size (0: not scaled)
  bool refined = false;       // the parameter refinement replaced the candidate by a better one
  double score_before_refinement = 0;
};

struct ReconstructSummary {
  std::string output;
  std::string source;         // candidate source name
  int proposals = 0, valid_proposals = 0;
  int repaired_proposals = 0;  // of the valid ones: built after the checker-guided repair (kernel/repair.h)
  int fallback_proposals = 0;  // procedural-search proposals added because the learned ones fell short
  std::vector<CandidateSummary> ranking;
  nlohmann::json timings;     // seconds per stage
  nlohmann::json refinement = nlohmann::json::array();  // per refined candidate: folder + RefineReport
};

// One ranked candidate of the pipeline, as reconstruct writes it.
struct PipelineCandidate {
  int index = 0;              // position in the checked pool (proposal order; fallback proposals last)
  Proposal proposal;          // model: refined, turned to face the first view and scaled to `size` (mm) when valid
  std::string source;         // "retrieval", "diffusion" or "procedural" (proposal_source)
  CheckResult check;          // of `proposal.model` (solid kept when valid)
  Mesh mesh;                  // tessellation of the candidate before scaling (previews; scale-free)
  Agreement agreement;        // with the inputs, after pose (and parameter) refinement
  RefineReport refinement;    // what the parameter refinement did
  double score_before_refinement = 0;  // the agreement score before the parameter refinement
  double rank_prior = 0;      // the prior the ranking counted (ReconstructParams::prior_weight)
  int turns = 0;              // quarter turns applied to face the first view (face_first_view)
  std::string repaired;       // the checker-guided repair's edits when the proposal did not build as proposed
  double scale = 0;           // model units -> mm factor applied to reach `size` (0: not scaled)
  // DeepCAD's normalised vector of the candidate, what sequence.h5 holds: the generated or indexed
  // vector turned into the first view's frame when the candidate still is that vector, else
  // encode_candidate of the (refined, turned) model, i.e. in the centred frame of the targets
  // (DeepCAD's encoding normalises the model, so the scale to `size` does not change it). Empty
  // when the encoder rejects the model (vec_error says why).
  CadVec vec;
  std::string vec_error;
};

// What reconstruct_views found: the ranking (the best `samples`, best first) and how it got there.
struct PipelineResult {
  std::string source;                                      // candidate source name
  nlohmann::json source_json = nlohmann::json::object();   // its describe()
  int proposals = 0, valid_proposals = 0, fallback_proposals = 0;
  int repaired_proposals = 0;  // of the valid ones: built after the checker-guided repair
  std::vector<PipelineCandidate> ranking;
  double prior_weight = 0;  // the ranking key's weight of the retrieval similarity (ReconstructParams)
  nlohmann::json timings = nlohmann::json::object();       // seconds per stage (propose .. scale_to_size)
};

// DeepCAD's vector of a candidate `model` in the frame of the image -> CAD targets (docs/models.md
// §5): encoded like the datasets' centred vectors (data/dataset.cpp: cuts reaching past the part
// clipped to its box, one-sided extrudes too long for DeepCAD's extent range made symmetric, the
// part centred on `solid_box`), with the sketch planes that DeepCAD's encoder would mirror
// re-expressed first (cad/turn.h with_encodable_planes: a model turned to face the first view has
// such planes). The vector decodes into the same solid, centred and normalised. `solid_box`: the
// bounding box of the model's tessellated solid, in model units.
Result<CadVec> encode_candidate(const CadModel& model, const BoundingBox& solid_box);

// Checks the options that do not name files (samples, steps, threads, candidates, size,
// refinement, device); validate_params adds the inputs and the output folder.
Status validate_pipeline_params(const ReconstructParams& params);

// Checks the parameters without touching any file (the message names the bad option).
Status validate_params(const ReconstructParams& params);

// The candidate source reconstruct uses for `params.candidates` with the weights in `weights_dir`
// ("" = default_weights_dir()): to load it once for many reconstruct_views calls.
Result<std::unique_ptr<CandidateSource>> make_candidate_source(const ReconstructParams& params,
                                                               const std::string& weights_dir = "");

// The pipeline's stages on input maps already made (estimated from photos, or rendered), in
// memory, nothing written: propose -> check + score -> rank -> pose refinement -> parameter
// refinement -> face the first view -> scale to `size` -> DeepCAD vectors. `params.inputs` and
// `params.output` are not used. `source` = nullptr makes the source from params (make_candidate_source);
// a given one is used as is (not thread-safe: one per thread). Deterministic for (views, params)
// as long as the refinement ends by its evaluation budget (reconstruct.h, refine_seconds).
// The time limit and stop_requested of params fail it with kTimeout, counted from the call.
Result<PipelineResult> reconstruct_views(const std::vector<ViewMaps>& views, const ReconstructParams& params,
                                         const ReconstructProgress& progress = {}, CandidateSource* source = nullptr);

// load the inputs -> estimate -> reconstruct_views -> write the output folder.
Result<ReconstructSummary> reconstruct(const ReconstructParams& params, const ReconstructProgress& progress = {});

// Where the shipped weights are: $CADCRAFTER_MODELS, else "models" next to the executable or
// one level up (build/cadcrafter -> models/), else the source tree's models/.
std::string default_weights_dir();

}  // namespace cadcrafter::app
