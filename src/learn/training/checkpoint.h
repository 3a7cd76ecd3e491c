// Training-run plumbing shared by the trainers: checkpoints that survive kill -9, the CSV log,
// the learning-rate schedule and device selection.
//
// A checkpoint is one torch archive holding the model ("model/..."), the optimizer state
// ("optimizer/..."), the step, the CPU RNG state and a JSON string of trainer extras. It is
// written to "<path>.tmp.<pid>" and renamed, so a kill at any moment leaves either the old or
// the new checkpoint, never a torn one. Data order is a pure function of (seed, epoch), so
// step + RNG + optimizer is everything a resumed run needs to continue identically.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/status.h"

namespace cadcrafter::learn {

struct CheckpointState {
  int64_t step = 0;
  nlohmann::json extra = nlohmann::json::object();
};

Status save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                       const CheckpointState& state);
// optimizer may be null (weights only); restores the CPU RNG when the checkpoint has one.
Result<CheckpointState> load_checkpoint(const std::string& path, torch::nn::Module& model,
                                        torch::optim::Optimizer* optimizer);

Status save_weights(const std::string& path, torch::nn::Module& model);
Status load_weights(const std::string& path, torch::nn::Module& model);

// "cpu", "cuda" or "cuda:N"; fails clearly when CUDA is asked for but not available.
Result<torch::Device> parse_device(const std::string& name);

// Linear warm-up from 0 to `base` over `warmup` steps, then constant ("constant") or cosine
// decay to 10% of base at `total` ("cosine").
double learning_rate_at(int64_t step, double base, int64_t warmup, int64_t total, const std::string& schedule);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// Append-only CSV log. Opening for a resumed run drops rows with step > resume_step (written
// after the checkpoint the run resumes from), so the log matches the model exactly.
class CsvLog {
 public:
  CsvLog(std::string path, std::vector<std::string> columns, int64_t resume_step);
  void row(const std::vector<std::string>& values);

 private:
  std::string path_;
};

// Seeds torch, and makes CPU runs use `threads` intra-op threads.
void seed_everything(uint64_t seed);

// Restarts the process with OMP_PROC_BIND=true when it is unset: OpenMP reads it when the
// runtime loads, and without it training on this machine ran 3-20x slower at random.
// Returns only when the variable was already set (or the exec failed).
void ensure_omp_proc_bind(int argc, const char* const* argv);

}  // namespace cadcrafter::learn
