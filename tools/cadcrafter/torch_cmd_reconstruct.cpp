// `cadcrafter reconstruct IMG [IMG...] -o OUT`: 1 to 4 photos of a part -> ranked CAD
// candidates (STEP, GLB, STL, build123d script, DeepCAD sequence, preview, report) in OUT,
// scaled so the part's longest side is --size (default 100 mm).
// A thin wrapper around app/reconstruct.h; progress goes to stderr.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app/reconstruct.h"
#include "cad/units.h"
#include "command.h"
#include "util/progress.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {

struct ReconstructCliOptions {
  app::ReconstructParams params;
  std::string inputs_kind = "photo";
  std::string size;
  bool no_refine = false;
  bool quiet = false;
};

int run_reconstruct(ReconstructCliOptions& o) {
  const char* name = "reconstruct";
  o.params.input_kind = o.inputs_kind == "depth-normal" ? app::InputKind::kDepthNormal : app::InputKind::kPhoto;
  o.params.run_info = make_run_info(saved_argc(), saved_argv());
  if (!o.size.empty()) {
    auto size = parse_length(o.size);
    if (!size) return fail(name, "--size " + size.error().message);
    o.params.size = *size;
  }
  if (o.no_refine) o.params.refine = false;
  if (auto s = app::validate_params(o.params); !s) return fail(name, s.error().message);
  std::unique_ptr<ProgressBar> bar;
  std::string stage;
  auto progress = [&](const std::string& s, int done, int total) {
    if (o.quiet) return;
    if (s != stage) {
      if (bar) bar->finish();
      bar = std::make_unique<ProgressBar>(s, total);
      stage = s;
    }
    bar->update(done);
  };
  auto result = app::reconstruct(o.params, progress);
  if (bar) bar->finish();
  if (!result) return fail(name, result.error().message);
  std::printf("%s: %d candidates from %d proposals (%d valid, source: %s) in %.2f s\n", result->output.c_str(),
              static_cast<int>(result->ranking.size()), result->proposals, result->valid_proposals,
              result->source.c_str(), result->timings.value("total", 0.0));
  for (const auto& c : result->ranking) {
    char refined[64] = "";
    if (c.refined) std::snprintf(refined, sizeof refined, ", refined from %.3f", c.score_before_refinement);
    std::printf("  %d. %s  %s  score %.3f (mask IoU %.3f, normals %.3f%s)  %s\n", c.rank, c.folder.c_str(),
                c.valid ? "valid" : ("invalid: " + c.reason).c_str(), c.score, c.mask_iou, c.normal_agreement, refined,
                c.origin.c_str());
  }
  return 0;
}

CommandRegistration reg("reconstruct", "Photos of a part (1-4) -> ranked, editable CAD candidates", [](CLI::App& app) {
  auto o = std::make_shared<ReconstructCliOptions>();
  app.add_option("images", o->params.inputs, "1 to 4 photos (PNG/JPEG), or depth PNGs with --inputs depth-normal")
      ->required();
  app.add_option("-o,--output", o->params.output, "Output folder (refused if it exists, unless --force)")->required();
  app.add_option("--size", o->size,
                 "Real size of the part: its longest side, e.g. 40mm, 4cm, 1.5in (photos carry no scale). Files are "
                 "written in mm (STEP, STL) and m (GLB)")
      ->default_str(format_length(app::default_part_size()));
  app.add_option("--samples", o->params.samples, "Candidates to write")->capture_default_str();
  app.add_option("--seed", o->params.seed, "Seed: the same seed gives the same candidates")->capture_default_str();
  app.add_option("--steps", o->params.steps, "Sampler steps (learned candidate sources)")->capture_default_str();
  app.add_option("--device", o->params.device, "cpu")->capture_default_str();
  app.add_option("--threads", o->params.threads, "CPU threads")->capture_default_str();
  app.add_option("--inputs", o->inputs_kind, "photo, or depth-normal (depth PNG + the normal PNG beside it)")
      ->check(CLI::IsMember({"photo", "depth-normal"}))
      ->capture_default_str();
  app.add_option("--weights", o->params.weights_dir,
                 "Folder with estimator.pt, retrieval/ and diffusion/ (default: the shipped models/)");
  app.add_option("--candidates", o->params.candidates,
                 "Candidate source: retrieval (nearest known parts), diffusion (learned generator), procedural (part "
                 "search), auto (retrieval + diffusion pooled, each when shipped)")
      ->capture_default_str();
  app.add_option("--estimator", o->params.estimator,
                 "Estimator model file: our weights or a TorchScript module [1,3,S,S] -> [1,5,S,S]");
  app.add_option("--refine-seconds", o->params.refine_seconds,
                 "Wall time for fitting the best candidates' parameters (proportions, extents, offsets) to the photos")
      ->capture_default_str();
  app.add_option("--prior-weight", o->params.prior_weight,
                 "Ranking: agreement score + this x the retrieval similarity (0: the agreement alone)")
      ->capture_default_str();
  app.add_flag("--no-refine", o->no_refine, "Skip the parameter refinement (write the candidates as proposed)");
  app.add_flag("!--no-repair", o->params.repair,
               "Leave out proposals that do not build instead of repairing them (removing the fewest loops or extrudes "
               "until the kernel accepts them; repaired candidates say so in report.json)");
  app.add_flag("--force", o->params.force, "Replace an existing output folder");
  app.add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  return [o]() { return run_reconstruct(*o); };
});

}  // namespace
}  // namespace cadcrafter::cli
