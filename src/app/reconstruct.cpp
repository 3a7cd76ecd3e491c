#include "app/reconstruct.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "app/agreement.h"
#include "app/candidates.h"
#include "app/refine.h"
#include "app/sha256.h"
#include "app/view_maps.h"
#include "cad/build123d_script.h"
#include "cad/cad_h5.h"
#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "cad/turn.h"
#include "geom/mesh_measure.h"
#include "kernel/batch_check.h"
#include "kernel/check.h"
#include "kernel/repair.h"
#include "kernel/export.h"
#include "kernel/tessellate.h"
#include "learn/inference/photo_estimator.h"
#include "render/camera.h"
#include "util/atomic_file.h"
#include "util/parallel.h"
#include "util/run_info.h"

#ifndef CADCRAFTER_SOURCE_DIR
#define CADCRAFTER_SOURCE_DIR ""
#endif

namespace cadcrafter::app {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Status invalid(const std::string& message) { return Status::fail(ErrorCode::kInvalidArgument, message); }

// One checked and scored proposal: what the stages hand each other (reconstruct.h).
using Evaluated = PipelineCandidate;

std::string two_digits(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", n);
  return buf;
}

// Side by side: input | estimated normals | candidate normals, one row per view.
Image8 make_preview(const std::vector<ViewMaps>& views, const Evaluated& e, int cell) {
  const int columns = 3;
  Image8 sheet{cell * columns, cell * static_cast<int>(views.size()), 3, {}};
  sheet.pixels.assign(static_cast<size_t>(sheet.width) * sheet.height * 3, 255);
  auto paste = [&](const Image8& im, int col, int row) {
    if (im.width != cell || im.height != cell || im.channels != 3) return;
    for (int y = 0; y < cell; ++y)
      std::copy_n(&im.pixels[static_cast<size_t>(y) * cell * 3], static_cast<size_t>(cell) * 3,
                  &sheet.pixels[(static_cast<size_t>(row * cell + y) * sheet.width + col * cell) * 3]);
  };
  for (size_t r = 0; r < views.size(); ++r) {
    const ViewMaps& v = views[r];
    const int row = static_cast<int>(r);
    paste(v.image.width == cell ? v.image : crop_resize(v.image, FrameBox{0, 0, static_cast<float>(v.size)}, cell), 0, row);
    const Image8 normals = normals_to_image(v.normal, v.mask, v.size);
    paste(v.size == cell ? normals : crop_resize(normals, FrameBox{0, 0, static_cast<float>(v.size)}, cell), 1, row);
    if (e.check.valid && !e.mesh.empty() && r < e.agreement.views.size())
      paste(candidate_normal_image(e.mesh, e.agreement.views[r].pose, cell), 2, row);
  }
  return sheet;
}

double longest_side(const BoundingBox& b) {
  return std::max({b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z});
}

nlohmann::json report_json(const Evaluated& e, int rank) {
  nlohmann::json views = nlohmann::json::array();
  for (const auto& v : e.agreement.views)
    views.push_back({{"score", v.score},
                     {"mask_iou", v.mask_iou},
                     {"normal_agreement", v.normal_agreement},
                     {"depth_agreement", v.depth_agreement >= 0 ? nlohmann::json(v.depth_agreement) : nlohmann::json()},
                     {"best_azimuth_deg", v.pose.azimuth_deg},
                     {"best_elevation_deg", v.pose.elevation_deg},
                     {"best_roll_deg", v.pose.roll_deg},
                     {"framing_shift", {v.pose.shift_x, v.pose.shift_y}},
                     {"framing_zoom", v.pose.zoom}});
  return {{"rank", rank},
          {"origin", e.proposal.origin},
          {"valid", e.check.valid},
          {"reason", e.check.reason},
          {"volume", e.check.volume},
          {"area", e.check.area},
          {"length_unit", unit_symbol(e.proposal.model.unit)},
          {"scale", e.scale},
          {"longest_side", longest_side(e.check.bbox)},
          {"score", e.agreement.score},
          {"rank_prior", e.rank_prior},
          {"grid_score", e.agreement.grid_score},
          {"views", views},
          {"refinement", e.refinement.to_json()},
          {"repaired", e.repaired.empty() ? nlohmann::json() : nlohmann::json(e.repaired)},
          {"check_ms", e.check.ms}};
}

Status write_candidate(const std::string& dir, const std::vector<ViewMaps>& views, const Evaluated& e, int rank) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::fail(ErrorCode::kIo, dir + ": cannot create: " + ec.message());
  nlohmann::json report = report_json(e, rank);
  nlohmann::json files = nlohmann::json::array();
  auto step = [&](Status s, const std::string& file) -> Status {
    if (s) files.push_back(file);
    return s;
  };
  Status s;
  if (e.proposal.decode_error.empty()) {
    if (!(s = step(write_cad_json(e.proposal.model, dir + "/sequence.json"), "sequence.json"))) return s;
    if (!(s = step(write_file_atomically(dir + "/model.py", to_build123d_script(e.proposal.model)), "model.py"))) return s;
  }
  // The generated vector as it came out of the model when there is one (even one that does not
  // decode), else the DeepCAD encoding of the model (candidate_vec).
  if (!e.vec.empty()) {
    if (!(s = step(write_cad_vec_h5(dir + "/sequence.h5", e.vec), "sequence.h5"))) return s;
  } else {
    report["sequence_h5"] = "not written: the DeepCAD encoder rejects this sequence (" + e.vec_error + ")";
  }
  if (e.check.valid && !e.check.solid.empty()) {
    if (!(s = step(export_step(e.check.solid, dir + "/model.step"), "model.step"))) return s;
    if (!(s = step(export_glb(e.check.solid, dir + "/model.glb"), "model.glb"))) return s;
    if (!(s = step(export_stl(e.check.solid, dir + "/model.stl"), "model.stl"))) return s;
  }
  if (!(s = step(write_png(dir + "/preview.png", make_preview(views, e, 128)), "preview.png"))) return s;
  report["files"] = files;
  return write_file_atomically(dir + "/report.json", report.dump(2) + "\n");
}

std::string index_markdown(const ReconstructSummary& summary, const nlohmann::json& source, const Length& size,
                           double prior_weight) {
  std::ostringstream md;
  md << "# Reconstruction\n\n";
  char scale[512];
  std::snprintf(scale, sizeof scale,
                "Scale: photos carry no scale, so each candidate is scaled until the longest side of its bounding box "
                "is **%s** (%.6g mm; `--size` sets it). model.step and model.stl are in millimetres, model.glb in "
                "metres; volumes below are in mm\u00b3.\n\n",
                format_length(size).c_str(), size.millimetres());
  md << scale;
  md << "Candidate source: **" << summary.source << "**";
  if (source.contains("note")) md << " - " << source["note"].get<std::string>();
  md << "\n\n" << summary.valid_proposals << " of " << summary.proposals << " proposals built a valid solid";
  if (summary.repaired_proposals > 0)
    md << " (" << summary.repaired_proposals << " of them after the checker-guided repair removed a loop or an extrude)";
  md << "; the best " << summary.ranking.size() << " are listed.\n\n";
  if (summary.fallback_proposals > 0)
    md << "The learned model gave fewer valid solids than asked for, so " << summary.fallback_proposals
       << " proposals of the procedural-part search were added (origin \"fallback\").\n\n";
  if (prior_weight > 0) {
    char key[256];
    std::snprintf(key, sizeof key,
                  "Ranked by the score (agreement with the photos) + %g x the retrieval similarity (`--prior-weight`).\n\n",
                  prior_weight);
    md << key;
  }
  md << "| rank | folder | valid | score | mask IoU | normal agreement | volume (mm\u00b3) | origin |\n";
  md << "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& c : summary.ranking) {
    char line[512];
    std::snprintf(line, sizeof line, "| %d | [%s](%s/) | %s | %.3f | %.3f | %.3f | %.4g | %s |\n", c.rank,
                  c.folder.c_str(), c.folder.c_str(), c.valid ? "yes" : ("no: " + c.reason).c_str(), c.score,
                  c.mask_iou, c.normal_agreement, c.volume, c.origin.c_str());
    md << line;
  }
  return md.str();
}

Status write_inputs(const std::string& dir, const std::vector<ViewMaps>& views) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::fail(ErrorCode::kIo, dir + ": cannot create: " + ec.message());
  for (size_t i = 0; i < views.size(); ++i) {
    const ViewMaps& v = views[i];
    const std::string stem = dir + "/view_" + std::to_string(i);
    Image8 mask{v.size, v.size, 1, std::vector<uint8_t>(v.mask.size())};
    for (size_t k = 0; k < v.mask.size(); ++k) mask.pixels[k] = v.mask[k] > 0.5f ? 255 : 0;
    Status s;
    if (!(s = write_png(stem + "_input.png", v.image))) return s;
    if (!(s = write_png(stem + "_normal.png", normals_to_image(v.normal, v.mask, v.size)))) return s;
    if (!(s = write_png(stem + "_mask.png", mask))) return s;
  }
  return {};
}

}  // namespace

std::string default_weights_dir() {
  if (const char* env = std::getenv("CADCRAFTER_MODELS"); env && *env) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& dir : {exe.parent_path() / "models", exe.parent_path().parent_path() / "models"})
      if (fs::is_directory(dir, ec)) return dir.string();
  }
  const std::string source = CADCRAFTER_SOURCE_DIR;
  if (!source.empty() && fs::is_directory(source + "/models", ec)) return source + "/models";
  return "models";
}

Status validate_pipeline_params(const ReconstructParams& p) {
  if (p.samples < 1 || p.samples > 64) return invalid("--samples must be in 1..64");
  if (p.steps < 1 || p.steps > 1000) return invalid("--steps must be in 1..1000");
  if (p.threads < 1 || p.threads > 256) return invalid("--threads must be in 1..256");
  if (p.candidates != "auto" && p.candidates != "retrieval" && p.candidates != "diffusion" && p.candidates != "procedural")
    return invalid("--candidates " + p.candidates + ": use auto, retrieval, diffusion or procedural");
  const double size_mm = p.size.millimetres();
  if (!(size_mm >= kMinPartSizeMm && size_mm <= kMaxPartSizeMm))
    return invalid("--size " + format_length(p.size) + ": give the part's longest side between 0.01 mm and 100 m");
  if (!(p.refine_seconds >= 0 && p.refine_seconds <= kMaxRefineSeconds)) {
    char what[160];
    std::snprintf(what, sizeof what, "--refine-seconds %g: give the refinement's time in seconds, from 0 to %g",
                  p.refine_seconds, kMaxRefineSeconds);
    return invalid(what);
  }
  if (!(p.prior_weight >= 0 && p.prior_weight <= 10))
    return invalid("--prior-weight: give the weight of the retrieval similarity in the ranking, from 0 to 10");
  if (p.refine_candidates < 0 || p.refine_candidates > 64) return invalid("refine_candidates must be in 0..64");
  if (p.refine_evaluations < 0 || p.refine_evaluations > 100000) return invalid("refine_evaluations must be in 0..100000");
  if (p.device != "cpu")
    return invalid("--device " + p.device + ": this pipeline's learned parts (the estimator) run on the CPU only; use --device cpu");
  return {};
}

Status validate_params(const ReconstructParams& p) {
  if (p.inputs.empty() || p.inputs.size() > 4) return invalid("give 1 to 4 input images (got " + std::to_string(p.inputs.size()) + ")");
  if (p.output.empty()) return invalid("no output folder (-o)");
  if (auto s = validate_pipeline_params(p); !s) return s;
  std::error_code ec;
  if (fs::exists(p.output, ec) && !p.force)
    return Status::fail(ErrorCode::kIo, p.output + ": already exists (use --force to replace it)");
  return {};
}

namespace {

// What the stages hand each other.
struct Inputs {
  std::vector<ViewMaps> views;
  nlohmann::json files = nlohmann::json::array();    // per input: file, size, notes
  nlohmann::json weights = nlohmann::json::object();  // estimator path + sha256
};

using Report = std::function<void(const std::string&, int, int)>;

// Stage 1 (load + estimate): input files -> per-view maps.
Result<Inputs> load_inputs(const ReconstructParams& params, const std::string& weights_dir, const Report& report,
                           nlohmann::json& timings) {
  Inputs in;
  auto t = Clock::now();
  if (params.input_kind == InputKind::kDepthNormal) {
    for (size_t i = 0; i < params.inputs.size(); ++i) {
      report("load", static_cast<int>(i), static_cast<int>(params.inputs.size()));
      auto view = load_depth_normal_view(params.inputs[i], 128);
      if (!view) return view.error();
      in.files.push_back({{"file", params.inputs[i]}, {"object_fraction", view->object_fraction()}});
      in.views.push_back(std::move(*view));
    }
    timings["load"] = seconds_since(t);
    return in;
  }
  std::vector<InputPhoto> photos;
  for (size_t i = 0; i < params.inputs.size(); ++i) {
    report("load", static_cast<int>(i), static_cast<int>(params.inputs.size()));
    auto photo = load_photo(params.inputs[i], params.limits);
    if (!photo) return photo.error();
    photos.push_back(std::move(*photo));
  }
  timings["load"] = seconds_since(t);
  t = Clock::now();
  const std::string estimator_path = params.estimator.empty() ? weights_dir + "/estimator.pt" : params.estimator;
  auto estimator = learn::PhotoEstimator::load(estimator_path);
  if (!estimator)
    return Result<Inputs>::fail(estimator.error().code, estimator.error().message +
                                                            " (the default is models/estimator.pt; train one with `cadcrafter "
                                                            "train-estimator` or pass --weights DIR)");
  auto sha = sha256_file(estimator_path);
  in.weights["estimator"] = {{"path", estimator_path}, {"kind", estimator->kind()}, {"sha256", sha ? *sha : std::string("unreadable")}};
  timings["load_estimator"] = seconds_since(t);
  t = Clock::now();
  for (size_t i = 0; i < photos.size(); ++i) {
    report("estimate", static_cast<int>(i), static_cast<int>(photos.size()));
    auto view = estimate_view(photos[i], *estimator);
    if (!view) return view.error();
    in.files.push_back({{"file", params.inputs[i]},
                        {"width", photos[i].rgb.width},
                        {"height", photos[i].rgb.height},
                        {"notes", photos[i].notes},
                        {"object_fraction", view->object_fraction()}});
    in.views.push_back(std::move(*view));
  }
  timings["estimate"] = seconds_since(t);
  return in;
}

// Stage 2a: the candidate source for --candidates. auto = every learned source that is shipped
// (retrieval from <weights>/retrieval, latent diffusion from <weights>/diffusion) pooled, else the
// procedural search.
Result<std::unique_ptr<CandidateSource>> make_source(const ReconstructParams& params, const std::string& weights_dir) {
  using R = Result<std::unique_ptr<CandidateSource>>;
  const std::string diffusion_dir = weights_dir + "/diffusion", retrieval_dir = weights_dir + "/retrieval";
  const bool want_auto = params.candidates == "auto";
  std::vector<std::unique_ptr<CandidateSource>> sources;
  if (params.candidates == "retrieval" || (want_auto && fs::is_regular_file(retrieval_dir + "/config.json"))) {
    RetrievalSourceOptions options;
    options.index_dir = retrieval_dir;
    auto made = make_retrieval_source(options);
    if (!made)
      return R::fail(made.error().code, made.error().message + " (the part index lives in <weights>/retrieval; build one with "
                                                               "`cadcrafter index build`)");
    sources.push_back(std::move(*made));
  }
  if (params.candidates == "diffusion" || (want_auto && fs::is_regular_file(diffusion_dir + "/config.json"))) {
    LatentDiffusionOptions options;
    options.run_dir = diffusion_dir;
    options.steps = params.steps;
    if (fs::is_regular_file(retrieval_dir + "/config.json")) options.index_dir = retrieval_dir;
    auto made = make_latent_diffusion(options);
    if (!made)
      return R::fail(made.error().code, made.error().message +
                                            " (the learned model lives in <weights>/diffusion; --candidates procedural works without it)");
    sources.push_back(std::move(*made));
  }
  if (sources.empty()) return make_procedural_search();
  if (sources.size() == 1) return std::move(sources.front());
  return make_pooled_source(std::move(sources));
}

// The agreement of reconstruct (agreement.h): depth included, grid poses for the whole pool, then
// kPoseEvaluations renders per view of continuous pose refinement for the candidates written.
constexpr int kPoseEvaluations = 48;
AgreementOptions scoring_options() {
  AgreementOptions o;
  o.pose_evaluations = 0;
  return o;
}

// Thread seconds spent checking (kernel build + tessellation) and scoring, summed over threads.
struct CheckScoreTime {
  std::atomic<int64_t> check_us{0}, score_us{0};
};

int64_t microseconds_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

// Stage 3a (repair): a proposal with a DeepCAD vector that does not build is given to the
// checker-guided repair (kernel/repair.h: loops or extrudes removed, every kept row as it came).
// When the repaired vector builds it replaces the proposal, whose origin says so and what went;
// `check` is then the repair's verdict on it (solid kept). False when there is nothing to repair with.
// Per proposal: a bound on what the repair may add to the check stage (builds of generated parts
// take milliseconds; the limits only cut pathological ones).
constexpr int kRepairBuildMs = 1000;
constexpr double kRepairSeconds = 2.0;
bool repair_proposal(Evaluated& e) {
  if (e.proposal.vec.empty()) return false;
  RepairOptions options;
  options.check.timeout_ms = kRepairBuildMs;
  options.check.keep_solid = true;
  options.max_seconds = kRepairSeconds;
  RepairResult r = repair_vec(e.proposal.vec, options);
  if (!r.valid || !r.changed) return false;
  auto model = decode(r.vec);
  if (!model) return false;
  model->id = e.proposal.model.id;
  e.repaired = describe_edits(r) + " (as proposed: " + (e.check.reason.empty() ? e.proposal.decode_error : e.check.reason) + ")";
  e.proposal.model = std::move(*model);
  e.proposal.vec = r.vec;
  e.proposal.decode_error.clear();
  e.proposal.origin += ", repaired";
  e.check = std::move(r.check);  // the repair's own build of this vector, solid kept
  return true;
}

// Stage 3 (check + score): every proposal built by the kernel (and, with `repair`, repaired when it
// does not build) and, when valid, compared with the inputs over the pose grid; in parallel,
// results by index so they do not depend on threads.
void check_and_score(const std::vector<Proposal>& batch, const std::vector<ViewMaps>& views, int threads, bool repair,
                     const Report& report, std::vector<Evaluated>& evaluated, CheckScoreTime& time,
                     const std::function<bool()>& stop = {}) {
  const size_t first = evaluated.size();
  evaluated.resize(first + batch.size());
  std::atomic<int> done{0};
  const int total = static_cast<int>(batch.size());
  report("check", 0, total);
  parallel_for(total, threads, [&](int64_t i, int) {
    Evaluated& e = evaluated[first + static_cast<size_t>(i)];
    e.index = static_cast<int>(first + static_cast<size_t>(i));
    e.proposal = batch[static_cast<size_t>(i)];
    if (stop && stop()) {  // past the time limit: the caller fails the run, skip the work
      e.check.valid = false;
      e.check.reason = "not checked: stopped";
      return;
    }
    CheckOptions check;
    check.keep_solid = true;
    auto t = Clock::now();
    if (!e.proposal.decode_error.empty()) {
      e.check.valid = false;
      e.check.reason = e.proposal.decode_error;
    } else {
      e.check = check_model(e.proposal.model, check);
    }
    if (!e.check.valid && repair) repair_proposal(e);
    if (e.check.valid) {
      e.mesh = tessellate(e.check.solid);
      time.check_us += microseconds_since(t);
      if (e.mesh.empty()) {
        e.check.valid = false;
        e.check.reason = "the solid tessellates to an empty mesh";
      } else {
        t = Clock::now();
        e.agreement = measure_agreement(e.mesh, views, scoring_options());
        time.score_us += microseconds_since(t);
      }
    } else {
      time.check_us += microseconds_since(t);
    }
    report("check", ++done, total);
  });
}

// Stage 6 (write): inputs/, candidate_NN/ and index.json/md into `scratch`; fills summary.ranking.
// How the part size is recorded in index.json and run.json.
nlohmann::json size_json(const Length& size) {
  return {{"text", format_length(size)},
          {"mm", size.millimetres()},
          {"meaning", "longest side of each candidate's bounding box"},
          {"file_units", {{"model.step", "mm"}, {"model.stl", "mm"}, {"model.glb", "m"}, {"sequence.json", "mm"}}}};
}

Status write_result(const std::string& scratch, const std::vector<ViewMaps>& views, const PipelineResult& result,
                    uint64_t seed, const Length& size, const Report& report, ReconstructSummary& summary) {
  std::error_code ec;
  fs::remove_all(scratch, ec);
  fs::create_directories(scratch, ec);
  if (ec) return Status::fail(ErrorCode::kIo, summary.output + ": cannot create the output folder: " + ec.message());
  if (auto s = write_inputs(scratch + "/inputs", views); !s) return s;
  nlohmann::json ranking = nlohmann::json::array();
  const auto& ranked = result.ranking;
  for (size_t r = 0; r < ranked.size(); ++r) {
    report("write", static_cast<int>(r), static_cast<int>(ranked.size()));
    const Evaluated& e = ranked[r];
    CandidateSummary c;
    c.rank = static_cast<int>(r) + 1;
    c.folder = "candidate_" + two_digits(c.rank);
    c.origin = e.proposal.origin;
    c.valid = e.check.valid;
    c.reason = e.check.reason;
    c.volume = e.check.volume;
    c.scale = e.scale;
    c.score = e.agreement.score;
    c.refined = e.refinement.improved;
    c.score_before_refinement = e.score_before_refinement;
    for (const auto& v : e.agreement.views) {
      c.mask_iou += v.mask_iou / static_cast<double>(e.agreement.views.size());
      c.normal_agreement += v.normal_agreement / static_cast<double>(e.agreement.views.size());
    }
    if (auto s = write_candidate(scratch + "/" + c.folder, views, e, c.rank); !s) return s;
    ranking.push_back({{"rank", c.rank},
                       {"folder", c.folder},
                       {"origin", c.origin},
                       {"source", e.source},
                       {"quarter_turns_to_view_frame", e.turns},
                       {"valid", c.valid},
                       {"reason", c.reason},
                       {"score", c.score},
                       {"rank_prior", e.rank_prior},
                       {"mask_iou", c.mask_iou},
                       {"normal_agreement", c.normal_agreement},
                       {"volume", c.volume},
                       {"scale", c.scale},
                       {"refined", c.refined},
                       {"score_before_refinement", c.score_before_refinement}});
    if (e.refinement.attempted) {
      nlohmann::json refined = e.refinement.to_json();
      refined["folder"] = c.folder;
      summary.refinement.push_back(refined);
    }
    summary.ranking.push_back(c);
  }
  nlohmann::json index = {{"source", result.source_json},
                          {"procedural_fallback_proposals", summary.fallback_proposals},
                          {"proposals", summary.proposals},
                          {"valid_proposals", summary.valid_proposals},
                          {"repaired_proposals", summary.repaired_proposals},
                          {"top_source", ranked.empty() ? "" : ranked.front().source},
                          {"seed", seed},
                          {"size", size_json(size)},
                          {"ranking_key", "valid first, then score + prior_weight x rank_prior"},
                          {"prior_weight", result.prior_weight},
                          {"ranking", ranking}};
  if (auto s = write_file_atomically(scratch + "/index.json", index.dump(2) + "\n"); !s) return s;
  return write_file_atomically(scratch + "/index.md", index_markdown(summary, result.source_json, size, result.prior_weight));
}

Status write_run_json(const std::string& scratch, const ReconstructParams& params, const std::string& weights_dir,
                      const Inputs& inputs, const nlohmann::json& source_json, const ReconstructSummary& summary) {
  nlohmann::json run = params.run_info.is_object() ? params.run_info : nlohmann::json::object();
  if (!run.contains("version")) run["version"] = cadcrafter_version();
  run["inputs"] = inputs.files;
  run["options"] = {{"samples", params.samples},
                    {"seed", params.seed},
                    {"steps", params.steps},
                    {"steps_used", summary.source.find("latent-diffusion") != std::string::npos},
                    {"candidates", params.candidates},
                    {"device", params.device},
                    {"threads", params.threads},
                    {"inputs", params.input_kind == InputKind::kPhoto ? "photo" : "depth-normal"},
                    {"size", size_json(params.size)},
                    {"refine", params.refine},
                    {"repair", params.repair},
                    {"refine_seconds", params.refine_seconds},
                    {"refine_candidates", params.refine_candidates},
                    {"refine_evaluations", params.refine_evaluations},
                    {"prior_weight", params.prior_weight},
                    {"weights_dir", weights_dir}};
  run["refinement"] = summary.refinement;
  run["repaired_proposals"] = summary.repaired_proposals;
  run["weights"] = inputs.weights;
  run["candidate_source"] = source_json;
  run["timings_s"] = summary.timings;
  return write_file_atomically(scratch + "/run.json", run.dump(2) + "\n");
}

// The finished scratch folder replaces the output (only with --force when it exists).
Status move_into_place(const std::string& scratch, const ReconstructParams& params) {
  std::error_code ec;
  if (fs::exists(params.output, ec)) {
    if (!params.force) return Status::fail(ErrorCode::kIo, params.output + ": already exists (use --force to replace it)");
    fs::remove_all(params.output, ec);
    if (ec) return Status::fail(ErrorCode::kIo, params.output + ": cannot replace: " + ec.message());
  }
  fs::rename(scratch, params.output, ec);
  if (ec) return Status::fail(ErrorCode::kIo, params.output + ": cannot move the result into place: " + ec.message());
  return {};
}

int count_valid(const std::vector<Evaluated>& evaluated) {
  int n = 0;
  for (const auto& e : evaluated) n += e.check.valid ? 1 : 0;
  return n;
}

// Valid first, then the ranking key (agreement score + prior_weight x prior), then the order
// given (proposal order at first).
void sort_by_score(const std::vector<Evaluated>& evaluated, std::vector<size_t>& order, double prior_weight) {
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Evaluated &x = evaluated[a], &y = evaluated[b];
    if (x.check.valid != y.check.valid) return x.check.valid;
    return x.agreement.score + prior_weight * x.rank_prior > y.agreement.score + prior_weight * y.rank_prior;
  });
}

// The prior each candidate is ranked with: its own, or the median of the pool's when it has none.
void assign_rank_priors(std::vector<Evaluated>& evaluated) {
  std::vector<double> priors;
  for (const auto& e : evaluated)
    if (e.proposal.has_prior) priors.push_back(e.proposal.prior);
  double median = 0;
  if (!priors.empty()) {
    std::nth_element(priors.begin(), priors.begin() + static_cast<std::ptrdiff_t>(priors.size() / 2), priors.end());
    median = priors[priors.size() / 2];
  }
  for (auto& e : evaluated) e.rank_prior = e.proposal.has_prior ? e.proposal.prior : median;
}

// Stage 4 (rank): valid first, then the ranking key, then proposal order; the best `samples`.
std::vector<size_t> rank_candidates(std::vector<Evaluated>& evaluated, int samples, double prior_weight) {
  assign_rank_priors(evaluated);
  std::vector<size_t> order(evaluated.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  sort_by_score(evaluated, order, prior_weight);
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(samples)));
  return order;
}

// Stage 4b (pose refinement): each ranked candidate's grid poses refined continuously per view
// (agreement.h; the score can only rise), then the ranking re-sorted.
void refine_poses(std::vector<Evaluated>& evaluated, std::vector<size_t>& order, const std::vector<ViewMaps>& views,
                  int threads, double prior_weight) {
  parallel_for(static_cast<int64_t>(order.size()), threads, [&](int64_t r, int) {
    Evaluated& e = evaluated[order[static_cast<size_t>(r)]];
    if (!e.check.valid || e.mesh.empty()) return;
    AgreementScorer scorer(views, scoring_options());
    const double grid = e.agreement.score;
    e.agreement = scorer.refine_poses(e.mesh, e.agreement, kPoseEvaluations);
    e.agreement.grid_score = grid;
  });
  sort_by_score(evaluated, order, prior_weight);
}

// Stage 4c (parameter refinement, refine.h): the best `refine_candidates` valid candidates of the
// ranking, in parallel over `threads`, within `refine_seconds` for the whole stage: each gets an
// equal slice (refine_seconds * lanes / candidates, lanes = min(threads, candidates)), started when
// a thread takes it up and cut at the stage's end, and an evaluation budget planned for that slice
// (reconstruct.h, kRefineEvaluationsPerSecond). An improved candidate replaces the original (its
// DeepCAD vector is re-encoded from the refined model when written); then the ranking is re-sorted.
void refine_parameters(std::vector<Evaluated>& evaluated, std::vector<size_t>& order, const std::vector<ViewMaps>& views,
                       const ReconstructParams& params, const Report& report, const std::function<bool()>& stop) {
  std::vector<size_t> chosen;
  for (size_t i : order)
    if (evaluated[i].check.valid && static_cast<int>(chosen.size()) < params.refine_candidates) chosen.push_back(i);
  const int total = static_cast<int>(chosen.size());
  if (total == 0) return;
  const auto stage_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(params.refine_seconds));
  const int lanes = std::max(1, std::min(params.threads, total));
  const double slice_seconds = params.refine_seconds * lanes / total;
  const auto slice = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(slice_seconds));
  const int evaluations = params.refine_evaluations > 0
                              ? params.refine_evaluations
                              : std::max(4, static_cast<int>(std::lround(kRefineEvaluationsPerSecond * slice_seconds)));
  std::atomic<int> done{0};
  report("refine", 0, total);
  parallel_for(total, params.threads, [&](int64_t k, int) {
    Evaluated& e = evaluated[chosen[static_cast<size_t>(k)]];
    RefineOptions options;
    options.agreement = scoring_options();
    options.max_evaluations = evaluations;
    options.pose_evaluations = kPoseEvaluations / 2;
    options.deadline = std::min(stage_end, Clock::now() + slice);
    options.stop = stop;
    FittedCandidate fitted{std::move(e.proposal.model), std::move(e.check), std::move(e.mesh), std::move(e.agreement)};
    e.refinement = refine_candidate(fitted, views, options);
    e.proposal.model = std::move(fitted.model);
    e.check = std::move(fitted.check);
    e.mesh = std::move(fitted.mesh);
    e.agreement = std::move(fitted.agreement);
    if (e.refinement.improved) e.proposal.vec.clear();  // the generated vector no longer matches
    report("refine", ++done, total);
  });
  sort_by_score(evaluated, order, params.prior_weight);
}

// Stage 5 (face the first photo): the view frame of the training targets (render/camera.h): the
// candidate is turned about +Z by the quarter turn nearest to the azimuth its best pose puts the
// first photo's camera at, so the model faces that photo the way the training targets face their
// first view. The turned model is checked again (its solid is what gets exported).
void face_first_view(Evaluated& e) {
  if (!e.check.valid || e.agreement.views.empty()) return;
  const int k = view_frame_quarter_turns(e.agreement.views.front().pose.azimuth_deg);
  e.turns = k;
  if (k == 0) return;
  CadModel turned = turn_about_z(e.proposal.model, -k);
  CheckOptions check;
  check.keep_solid = true;
  CheckResult again = check_model(turned, check);
  if (!again.valid) return;  // keep the unturned, valid solid
  e.proposal.model = std::move(turned);
  if (!e.proposal.vec.empty()) {
    auto v = turn_vec(e.proposal.vec, -k);
    e.proposal.vec = v ? *v : CadVec{};
  }
  e.check = std::move(again);
  e.mesh = tessellate(e.check.solid);
  for (auto& v : e.agreement.views)
    v.pose.azimuth_deg = std::fmod(v.pose.azimuth_deg - 90.0f * static_cast<float>(k) + 720.0f, 360.0f);
}

// Stage 5b (real size): photos carry no scale, so the model (in the generator's normalised
// units) is scaled until its bounding box's longest side is `size_mm` and written in millimetres.
// The scaled model is checked again: its solid is what gets exported, and sequence.json and
// model.py carry the same numbers. The mesh (previews only) is scale-free and kept.
void scale_to_size(Evaluated& e, double size_mm) {
  if (!e.check.valid) return;
  const double side = longest_side(e.check.bbox) * millimetres_per_unit(e.proposal.model.unit);
  if (!(side > 0)) return;
  const double factor = size_mm / side * millimetres_per_unit(e.proposal.model.unit);
  CadModel scaled = scale_model(e.proposal.model, factor, LengthUnit::kMillimetre);
  CheckOptions check;
  check.keep_solid = true;
  CheckResult again = check_model(scaled, check);
  if (!again.valid) {
    char what[96];
    std::snprintf(what, sizeof what, "scaled to a longest side of %g mm: ", size_mm);
    again.reason = what + again.reason;
  }
  e.proposal.model = std::move(scaled);
  e.check = std::move(again);
  e.scale = factor;
}

// Stage 5c (the DeepCAD vector, sequence.h5): the model encoded in the targets' centred frame
// (encode_candidate; the box of the mesh, which is the tessellation of the model before
// scale_to_size: the encoder normalises, so the scale does not matter). An indexed vector is kept as
// it came (turned with the model: the index is centred already), and so is a generated one that does
// not build (even one that does not decode) or whose re-encoding fails or, quantised again, no
// longer builds; a generated one that builds is re-encoded, since nothing centres a sampled
// sequence's part on its origin.
void candidate_vec(Evaluated& e, const CadModel& unscaled) {
  const bool generated = proposal_source(e.proposal) == "diffusion";
  const bool encodable = e.check.valid && !e.mesh.empty();
  if (!e.proposal.vec.empty() && !(generated && encodable)) {
    e.vec = e.proposal.vec;
    return;
  }
  auto vec = encodable ? encode_candidate(unscaled, mesh_bbox(e.mesh)) : encode(unscaled);
  if (!e.proposal.vec.empty()) {
    CheckOptions check;
    check.timeout_ms = 4000;
    if (!vec || !check_vec(*vec, check).valid) {
      e.vec = e.proposal.vec;
      return;
    }
  }
  if (vec)
    e.vec = std::move(*vec);
  else
    e.vec_error = vec.error().message;
}

// When a run must stop: past params.time_limit_s counted from `start`, or when asked.
struct StopRule {
  const ReconstructParams& params;
  Clock::time_point start;
  bool timed_out() const { return params.time_limit_s > 0 && seconds_since(start) > params.time_limit_s; }
  bool operator()() const { return timed_out() || (params.stop_requested && params.stop_requested()); }
  Error stopped(const char* stage) const {
    char what[160];
    if (timed_out())
      std::snprintf(what, sizeof what, "the reconstruction took longer than its time limit of %g s (stopped after %s)",
                    params.time_limit_s, stage);
    else
      std::snprintf(what, sizeof what, "the reconstruction was stopped (after %s)", stage);
    return Error{ErrorCode::kTimeout, what};
  }
};

// Stages 2-5 (reconstruct_views): propose, check + score, rank, refine, face the first view,
// scale to size, DeepCAD vectors.
Result<PipelineResult> run_pipeline(const std::vector<ViewMaps>& views, const ReconstructParams& params,
                                    const std::string& weights_dir, const Report& report, const StopRule& stop_rule,
                                    CandidateSource* given) {
  const std::function<bool()> stop = [&]() { return stop_rule(); };
  PipelineResult result;
  result.prior_weight = params.prior_weight;
  nlohmann::json& timings = result.timings;

  // 2. Propose.
  auto t = Clock::now();
  std::unique_ptr<CandidateSource> owned;
  CandidateSource* source = given;
  if (source == nullptr) {
    auto made = make_source(params, weights_dir);
    if (!made) return made.error();
    owned = std::move(*made);
    source = owned.get();
    timings["load_generator"] = seconds_since(t);
  }
  t = Clock::now();
  result.source = source->name();
  result.source_json = source->describe();
  const int pool = source->pool_size(params.samples);
  report("propose", 0, pool);
  auto proposals = source->propose(views, pool, params.seed);
  if (!proposals) return proposals.error();
  timings["propose"] = seconds_since(t);
  if (stop()) return stop_rule.stopped("proposing candidates");

  // 3. Check + score. With `auto`, a learned pool that builds fewer valid solids than asked for is
  // topped up from the procedural-part search, so a user always gets CAD models; their origin says so.
  t = Clock::now();
  std::vector<Evaluated> evaluated;
  CheckScoreTime check_time;
  check_and_score(*proposals, views, params.threads, params.repair, report, evaluated, check_time, stop);
  int fallback = 0;
  if (params.candidates == "auto" && result.source != "procedural-search" && count_valid(evaluated) < params.samples) {
    ProceduralSearchOptions fill;
    fill.min_pool = 8;
    auto procedural = make_procedural_search(fill);
    auto extra = procedural->propose(views, procedural->pool_size(params.samples - count_valid(evaluated)), params.seed);
    if (!extra) return extra.error();
    for (auto& p : *extra) p.origin = "fallback: " + p.origin;
    fallback = static_cast<int>(extra->size());
    check_and_score(*extra, views, params.threads, params.repair, report, evaluated, check_time, stop);
  }
  if (stop()) return stop_rule.stopped("checking candidates");
  timings["check_and_score"] = seconds_since(t);
  timings["check_thread_s"] = static_cast<double>(check_time.check_us.load()) * 1e-6;  // summed over threads
  timings["score_thread_s"] = static_cast<double>(check_time.score_us.load()) * 1e-6;
  result.valid_proposals = count_valid(evaluated);
  for (const auto& e : evaluated) result.repaired_proposals += e.repaired.empty() ? 0 : 1;
  result.fallback_proposals = fallback;
  result.proposals = static_cast<int>(evaluated.size());

  // 4. Rank, refine the poses, then the parameters.
  t = Clock::now();
  std::vector<size_t> order = rank_candidates(evaluated, params.samples, params.prior_weight);
  refine_poses(evaluated, order, views, params.threads, params.prior_weight);
  timings["refine_poses"] = seconds_since(t);
  if (stop()) return stop_rule.stopped("refining the poses");
  if (params.refine && params.refine_seconds > 0 && params.refine_candidates > 0) {
    t = Clock::now();
    refine_parameters(evaluated, order, views, params, report, stop);
    timings["refine"] = seconds_since(t);
    if (stop()) return stop_rule.stopped("refining the candidates");
  }

  // 5. Face the first photo, scale to the real size, the DeepCAD vectors.
  t = Clock::now();
  parallel_for(static_cast<int64_t>(order.size()), params.threads,
               [&](int64_t r, int) { face_first_view(evaluated[order[static_cast<size_t>(r)]]); });
  timings["face_first_view"] = seconds_since(t);
  t = Clock::now();
  parallel_for(static_cast<int64_t>(order.size()), params.threads, [&](int64_t r, int) {
    Evaluated& e = evaluated[order[static_cast<size_t>(r)]];
    candidate_vec(e, e.proposal.model);
  });
  timings["encode"] = seconds_since(t);
  t = Clock::now();
  const double size_mm = params.size.millimetres();
  parallel_for(static_cast<int64_t>(order.size()), params.threads,
               [&](int64_t r, int) { scale_to_size(evaluated[order[static_cast<size_t>(r)]], size_mm); });
  timings["scale_to_size"] = seconds_since(t);
  for (size_t i : order) {
    Evaluated e = std::move(evaluated[i]);
    e.source = proposal_source(e.proposal);
    e.score_before_refinement = e.refinement.attempted ? e.refinement.score_before : e.agreement.score;
    result.ranking.push_back(std::move(e));
  }
  return result;
}

}  // namespace

Result<CadVec> encode_candidate(const CadModel& model, const BoundingBox& solid_box) {
  // As the dataset builder encodes its centred vectors (data/dataset.cpp make_sample): centred,
  // the longest half-extent becomes kNormFactor, so a one-sided extrude over 0.99 of DeepCAD's
  // extent range turns symmetric.
  double half_max = 0;
  for (double d : {solid_box.max.x - solid_box.min.x, solid_box.max.y - solid_box.min.y, solid_box.max.z - solid_box.min.z})
    half_max = std::max(half_max, 0.5 * d);
  if (!(half_max > 0)) return encode(with_encodable_planes(model));
  const double limit = 0.99 * half_max / kNormFactor;
  const CadModel centred =
      centred_on(with_representable_extents(clip_extents_to_box(model, solid_box), limit), solid_box);
  return encode(with_encodable_planes(centred));
}

Result<std::unique_ptr<CandidateSource>> make_candidate_source(const ReconstructParams& params, const std::string& weights_dir) {
  if (auto s = validate_pipeline_params(params); !s) return s.error();
  return make_source(params, weights_dir.empty() ? default_weights_dir() : weights_dir);
}

Result<PipelineResult> reconstruct_views(const std::vector<ViewMaps>& views, const ReconstructParams& params,
                                         const ReconstructProgress& progress, CandidateSource* source) {
  const StopRule stop{params, Clock::now()};
  if (auto s = validate_pipeline_params(params); !s) return s.error();
  if (views.empty() || views.size() > 4)
    return invalid("give 1 to 4 input views (got " + std::to_string(views.size()) + ")").error();
  const Report report = [&](const std::string& stage, int done, int total) {
    if (progress) progress(stage, done, total);
  };
  learn::set_torch_threads(params.threads);
  const std::string weights_dir = params.weights_dir.empty() ? default_weights_dir() : params.weights_dir;
  return run_pipeline(views, params, weights_dir, report, stop, source);
}

Result<ReconstructSummary> reconstruct(const ReconstructParams& params, const ReconstructProgress& progress) {
  const Report report = [&](const std::string& stage, int done, int total) {
    if (progress) progress(stage, done, total);
  };
  const StopRule stop{params, Clock::now()};
  if (auto s = validate_params(params); !s) return s.error();
  learn::set_torch_threads(params.threads);
  ReconstructSummary summary;
  summary.output = params.output;
  nlohmann::json timings;
  const std::string weights_dir = params.weights_dir.empty() ? default_weights_dir() : params.weights_dir;

  // 1. Load + estimate.
  auto inputs = load_inputs(params, weights_dir, report, timings);
  if (!inputs) return inputs.error();
  const std::vector<ViewMaps>& views = inputs->views;
  if (stop()) return stop.stopped("estimating the views");

  // 2-5. Propose, check + score, rank, refine, face the first photo, scale to size.
  auto result = run_pipeline(views, params, weights_dir, report, stop, nullptr);
  if (!result) return result.error();
  timings.update(result->timings);
  summary.source = result->source;
  summary.proposals = result->proposals;
  summary.valid_proposals = result->valid_proposals;
  summary.repaired_proposals = result->repaired_proposals;
  summary.fallback_proposals = result->fallback_proposals;

  // 6. Write into a scratch folder, then move it into place.
  auto t = Clock::now();
  const std::string scratch = params.output + ".partial." + std::to_string(::getpid());
  auto abandon = [&](const Error& error) {
    std::error_code ignored;
    fs::remove_all(scratch, ignored);
    return Result<ReconstructSummary>(error);
  };
  if (auto s = write_result(scratch, views, *result, params.seed, params.size, report, summary); !s) return abandon(s.error());
  timings["write"] = seconds_since(t);
  timings["total"] = seconds_since(stop.start);
  summary.timings = timings;
  if (auto s = write_run_json(scratch, params, weights_dir, *inputs, result->source_json, summary); !s)
    return abandon(s.error());
  if (auto s = move_into_place(scratch, params); !s) return abandon(s.error());
  return summary;
}

}  // namespace cadcrafter::app
