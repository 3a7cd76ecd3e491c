// Data-parallel training over LibTorch's own distributed engine (c10d): a TCPStore for the
// rendezvous and ProcessGroupGloo on CPU (ProcessGroupNCCL for CUDA runs when the torch this is
// built against has it). No home-made all-reduce and no launcher protocol of our own: the
// processes find each other the way torch.distributed does (WORLD_SIZE, RANK, MASTER_ADDR,
// MASTER_PORT, or the same as flags), and rank 0 hosts the store.
//
// The semantics every trainer follows (ae_trainer.cpp, condition_trainer.cpp):
//   - train.batch_size is the *global* batch. Every rank draws the same global batch for a step
//     (data order is a pure function of seed and step) and computes only its share of it
//     (`shard`), so a run of N ranks is the same optimisation as a run of one rank, and a run can
//     be resumed with another world size.
//   - Each rank's loss is weighted by its share of what the global mean counts (`share_weight`),
//     and the gradients are averaged over the ranks in one all-reduce before clipping, so the
//     clipped update of N ranks x batch B equals that of 1 rank x batch N*B (float tolerance).
//   - Rank 0 writes the run folder (config.json, run.json, log.csv, checkpoints, model.pt); the
//     others only read it (a resumed run loads checkpoint.pt on every rank: on several machines
//     -o must be a shared folder, or a copy of it).
//   - Every collective has a timeout; a rank that dies makes the others fail with a
//     DistributedError naming the rank and the cause instead of hanging.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace cadcrafter::learn {

struct DistributedOptions {
  int world_size = 1;
  int rank = 0;
  std::string host = "127.0.0.1";  // where rank 0 hosts the TCPStore
  int port = 29500;
  double timeout_s = 600.0;  // rendezvous and every collective
  bool enabled() const { return world_size > 1; }
};

// The options of one process: the flags where given (world_size / rank < 0 and an empty
// rendezvous mean "not given"), else the torch.distributed environment variables WORLD_SIZE,
// RANK, MASTER_ADDR, MASTER_PORT. No flag and no variable: a single-process run. Fails clearly on
// a rank outside [0, world_size), an unparsable HOST:PORT, a missing rendezvous for N > 1.
Result<DistributedOptions> resolve_distributed_options(int world_size, int rank, const std::string& rendezvous,
                                                       double timeout_s = 600.0);
// "HOST:PORT" (or "[v6]:PORT") -> (host, port).
Result<std::pair<std::string, int>> parse_rendezvous(const std::string& text);

// Whether this build has a c10d backend for `device` ("gloo" for CPU, "nccl" or "gloo" for CUDA).
bool distributed_available(const torch::Device& device);

// Thrown by the collectives when a peer died, timed out or disagrees: the trainers let it
// propagate, the CLI prints it and exits 1.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Distributed {
 public:
  // Rendezvous and process-group creation; blocks until every rank is there or the timeout.
  static Result<std::shared_ptr<Distributed>> connect(const DistributedOptions& options, const torch::Device& device);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  bool is_main() const { return options_.rank == 0; }
  const std::string& backend() const { return backend_; }
  const DistributedOptions& options() const { return options_; }

  // This rank's [begin, end) of a global batch of n samples (contiguous, sizes differ by <= 1).
  std::pair<int64_t, int64_t> shard(int64_t n) const;
  // Loss weight of a rank whose loss is a mean over `local` of the `global` entries the global
  // mean counts: local * world_size / global (0 when global is 0). With it, averaging the
  // gradients gives the gradient of the global mean.
  double share_weight(double local, double global) const;

  // Sums `values` over the ranks (one collective); returns the sums.
  std::vector<double> sum(const std::vector<double>& values);
  // Averages the gradients of `params` over the ranks in one flat all-reduce (an undefined
  // gradient counts as zeros). `scalars`, when given, ride along and come back summed.
  void average_gradients(const std::vector<torch::Tensor>& params, std::vector<double>* scalars = nullptr);
  // Copies rank 0's values of `tensors` (parameters, buffers) to every rank.
  void broadcast_from_main(const std::vector<torch::Tensor>& tensors);
  // Fails on every rank unless all ranks pass the same value (e.g. the step a resume starts at).
  void check_same(int64_t value, const std::string& what);
  void barrier();

 private:
  struct Impl;
  Distributed(DistributedOptions options, std::string backend, std::unique_ptr<Impl> impl);
  [[noreturn]] void fail(const std::string& what, const std::exception& e) const;
  DistributedOptions options_;
  std::string backend_;
  std::unique_ptr<Impl> impl_;
};

// Helpers for the trainers (a null pointer is a single-process run).
inline bool is_main_rank(const std::shared_ptr<Distributed>& d) { return !d || d->is_main(); }
inline std::pair<int64_t, int64_t> shard_of(const std::shared_ptr<Distributed>& d, int64_t n) {
  return d ? d->shard(n) : std::pair<int64_t, int64_t>{0, n};
}
// Parameters and buffers of a module, for broadcast_from_main.
std::vector<torch::Tensor> module_state(torch::nn::Module& module);
// After the model is built (and a checkpoint loaded): every rank checks it resumes at the same
// step, then takes rank 0's weights. No-op without `d`.
void synchronize_start(const std::shared_ptr<Distributed>& d, torch::nn::Module& model, int64_t step);
// zero_grad, backward, gradient average (with `scalars` summed along), clip, step: the one
// optimiser step of every trainer.
void distributed_step(const std::shared_ptr<Distributed>& d, const torch::Tensor& loss, torch::nn::Module& model,
                      torch::optim::Optimizer& optimizer, double grad_clip, std::vector<double>* scalars = nullptr);

}  // namespace cadcrafter::learn
