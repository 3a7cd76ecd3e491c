// The data-parallel flags of the training commands (learn/training/distributed.h), shared so a
// trainer command gains them with two lines: add_distributed_flags(app, flags) when declaring
// its options, and connect_distributed(flags, ctx) before training (then run the trainer inside
// run_distributed, which turns a lost peer into a clear error and exit code 1).
#pragma once

#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "command.h"
#include "learn/training/ae_trainer.h"
#include "learn/training/distributed.h"
#include "util/status.h"

namespace cadcrafter::cli {

struct DistributedFlags {
  int world_size = -1;  // -1: WORLD_SIZE, else 1
  int rank = -1;        // -1: RANK
  std::string rendezvous;  // "": MASTER_ADDR:MASTER_PORT
  double timeout_s = 600.0;
};

inline void add_distributed_flags(CLI::App& app, DistributedFlags& f) {
  app.add_option("--world-size", f.world_size,
                 "Data-parallel processes in the run (default: $WORLD_SIZE, else 1); train.batch_size is the global batch");
  app.add_option("--rank", f.rank, "This process's rank, 0..world-size-1 (default: $RANK); rank 0 writes the run folder");
  app.add_option("--rendezvous", f.rendezvous,
                 "HOST:PORT where rank 0 hosts the c10d TCPStore (default: $MASTER_ADDR:$MASTER_PORT)");
  app.add_option("--dist-timeout", f.timeout_s, "Seconds to wait for the other ranks (rendezvous and each collective)")
      ->capture_default_str();
}

// Resolves the flags (and the torch.distributed environment variables) and, for more than one
// process, joins the process group: ctx.dist is set, and ranks other than 0 draw no progress bar.
inline Status connect_distributed(const DistributedFlags& f, learn::RunContext& ctx) {
  auto options = learn::resolve_distributed_options(f.world_size, f.rank, f.rendezvous, f.timeout_s);
  if (!options) return options.error();
  if (!options->enabled()) return {};
  std::fprintf(stderr, "distributed: rank %d of %d, rendezvous %s:%d\n", options->rank, options->world_size,
               options->host.c_str(), options->port);
  auto d = learn::Distributed::connect(*options, ctx.device);
  if (!d) return d.error();
  ctx.dist = *d;
  if (!(*d)->is_main()) ctx.progress = false;
  return {};
}

// Runs `train` (returning an exit code), turning a DistributedError into `fail(name, ...)`.
template <typename Train>
int run_distributed(const char* name, Train&& train) {
  try {
    return train();
  } catch (const learn::DistributedError& e) {
    return fail(name, e.what());
  }
}

}  // namespace cadcrafter::cli
