// The optimisation loop the fine-tuning stages (DPO, staged distillation) share: learning-rate
// schedule (checkpoint.h learning_rate_at), log.csv, a progress bar on stderr, checkpoint.pt every
// `checkpoint_every` steps and at the end (resumable after any kill with ctx.resume), model.pt
// when the run is complete. An empty ctx.run_dir runs in memory (tests): no files at all.
//
// It mirrors condition_trainer.cpp's loop (kept there unchanged: that file is being extended for
// distributed training) with an extra validation column set chosen by the stage.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "learn/training/ae_trainer.h"
#include "util/status.h"

namespace cadcrafter::learn {

struct FineTuneHooks {
  // One optimiser step at `step` (0-based); returns the loss and sets the samples used.
  std::function<double(int64_t step, int64_t* samples)> train_step;
  // Validation figures (named by FineTuneLoop::val_columns), or empty; run at val_every and at the end.
  std::function<std::vector<double>()> validate;
  std::vector<std::string> val_columns;
};

struct FineTuneSummary {
  int64_t steps = 0;
  double seconds = 0.0;
  double final_loss = 0.0;
  std::vector<double> last_val;  // the last validation figures (empty when none ran)
  bool complete = false;         // reached max_steps (model.pt written)
};

Result<FineTuneSummary> run_fine_tune_loop(const std::string& label, const TrainOptions& options, const RunContext& ctx,
                                           torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                                           const FineTuneHooks& hooks);

}  // namespace cadcrafter::learn
