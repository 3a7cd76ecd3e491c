// CADCrafter's multi-view -> single-view distillation as its own training stage
// (`cadcrafter train-distill`), after a multi-view model has been trained (`train diffusion`).
//
// mode "distill" (the paper's): the teacher is the multi-view run's geometry encoder, frozen. The
// student is a copy of the whole multi-view prior (geometry encoder + denoiser; student_init
// "random" starts it from scratch instead). Each step draws a training part, a rendering set and
// an order of its views; the student sees the first view alone, the teacher that same view first
// and then the other views of the set (max_views in all, so both conditions are in the frame of
// the same first view). Loss, per batch:
//
//   L = distill_weight * mean_b (1 - cos(c_student_b, c_teacher_b))      (the paper's cosine loss)
//     + diffusion_weight * || z0 - f_student(z_t, t, 1 view) ||^2         (the denoiser fine-tuned alongside)
//
// with the teacher's condition detached (geometry_encoder.h cosine_distillation_loss), t ~ U{0..T-1}
// and z0 the autoencoder latent of the part in the target frame of the run (model or view frame).
// mode "scratch" (Table 3's "single view from scratch"): the same single-view batches, a randomly
// initialised prior, the diffusion term only, no teacher involved beyond its configuration,
// autoencoder and backbone.
//
// The output folder is a diffusion run (config.json = the teacher's, with absolute paths to its
// autoencoder and backbone; model.pt; features.pt laid out as train diffusion's), so eval,
// reconstruct and serve load it like any other; distill.json records the stage's settings.
// Validation columns in log.csv: the cosine loss on validation parts between the student's
// 1-view condition and the teacher's all-view one (reported in scratch mode too, as a diagnostic:
// nothing trains it there) and the squared error of DDIM-sampled single-view latents.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

#include "learn/training/ae_trainer.h"
#include "learn/training/condition_trainer.h"
#include "learn/training/fine_tune_loop.h"
#include "util/status.h"

namespace cadcrafter::learn {

struct DistillOptions {
  std::string mode = "distill";          // "distill" or "scratch"
  std::string student_init = "teacher";  // distill mode: "teacher" or "random"
  double distill_weight = 1.0;
  double diffusion_weight = 1.0;
  int64_t val_samples = 32;              // validation parts for the log's figures (0 = none)
  int64_t max_samples = 0;               // training parts used (0 = the whole train split), drawn with the seed
  TrainOptions train;
};
TrainOptions default_distill_train_options();
Status validate_distill_options(const DistillOptions& o);
nlohmann::json distill_options_to_json(const DistillOptions& o);

// One batch: the student's single-view condition, the teacher's multi-view one, the targets.
struct DistillBatch {
  torch::Tensor student_features, student_present;  // [B, V, 2, F], [B, V] bool
  torch::Tensor teacher_features, teacher_present;
  torch::Tensor z0;                                 // [B, z]
};
struct DistillLosses {
  torch::Tensor total, cosine, diffusion;  // scalars; cosine is 0 without a teacher, diffusion 0 at weight 0
};
// The stage's loss (file comment). `teacher` may be null (scratch mode). t and the noise are drawn
// from the global torch generator.
DistillLosses distill_losses(ConditionalPrior& student, GeometryEncoder* teacher, const NoiseSchedule& schedule,
                             const DistillBatch& batch, double distill_weight, double diffusion_weight);

// Trains the single-view model from the multi-view diffusion run `teacher_run` on the train split
// of `dataset_dir` into ctx.run_dir.
Result<FineTuneSummary> train_distill(const std::string& dataset_dir, const std::string& teacher_run,
                                      const DistillOptions& options, const RunContext& ctx);

}  // namespace cadcrafter::learn
