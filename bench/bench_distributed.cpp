// Data-parallel throughput: the ae_small training step (as bench_train) with a global batch,
// run by 1 process of one thread and by 2 local processes of one thread each that split the
// batch and average their gradients over c10d Gloo on loopback (learn/training/distributed.h).
// Each process is started with its own CPU (sched_setaffinity before exec), so libgomp's pin
// (OMP_PROC_BIND=true) lands on different cores. Prints samples/s of both and the ratio.
//
//   build/bench_distributed [--steps 30] [--batch 64] [--length 20]
#include <torch/torch.h>

#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "learn/networks/cad_autoencoder.h"
#include "learn/training/ae_trainer.h"
#include "learn/training/distributed.h"
#include "learn/training/losses.h"
#include "bench_batches.h"

using namespace cadcrafter::learn;

namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One rank: `steps` timed steps (after 3 warm-up steps) on its share of the global batch.
// Prints "samples_per_s X" (global samples) on rank 0.
int run_rank(int rank, int world, int port, int steps, int batch, int length) {
  torch::set_num_threads(1);
  torch::manual_seed(0);
  std::shared_ptr<Distributed> dist;
  if (world > 1) {
    DistributedOptions o;
    o.world_size = world;
    o.rank = rank;
    o.port = port;
    o.timeout_s = 120;
    auto d = Distributed::connect(o, torch::Device(torch::kCPU));
    if (!d) {
      std::fprintf(stderr, "%s\n", d.error().message.c_str());
      return 1;
    }
    dist = *d;
  }
  CadAutoencoder model(small_ae_config().model);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  auto full = synthetic_batch(batch, length);
  const auto [lo, hi] = shard_of(dist, batch);
  VecBatch data = full;
  data.commands = full.commands.slice(0, lo, hi);
  data.args = full.args.slice(0, lo, hi);
  std::chrono::steady_clock::time_point start;
  const int warmup = 3;
  for (int step = 0; step < warmup + steps; ++step) {
    if (step == warmup) start = std::chrono::steady_clock::now();
    model->train();
    auto out = model->forward(data.commands, data.args);
    auto loss = cad_loss(out.command_logits, out.args_logits, data);
    distributed_step(dist, loss.total, *model, opt, 1.0);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (rank == 0) std::printf("samples_per_s %.3f\n", batch * steps / secs);
  return 0;
}

// Runs `world` copies of this program as ranks, rank r on CPU r; returns rank 0's samples/s.
double run_world(const char* self, int world, int steps, int batch, int length) {
  const int port = free_port();
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> args = {self, "--rank", std::to_string(r), "--world", std::to_string(world), "--port",
                                     std::to_string(port), "--steps", std::to_string(steps), "--batch", std::to_string(batch),
                                     "--length", std::to_string(length)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(static_cast<int>(r % std::max<long>(1, cpus)), &one);
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (r == 0) ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      ::sched_setaffinity(0, sizeof one, &one);
      ::execv(self, argv.data());
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  ::close(fds[1]);
  FILE* in = ::fdopen(fds[0], "r");
  double value = -1;
  char line[256];
  while (in && std::fgets(line, sizeof line, in)) std::sscanf(line, "samples_per_s %lf", &value);
  if (in) std::fclose(in);
  for (pid_t p : pids) {
    int status = 0;
    ::waitpid(p, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) value = -1;
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 30, batch = 64, length = 20, rank = -1, world = 1, port = 0;
  const char* usage = "usage: bench_distributed [--steps N] [--batch N] [--length L]\n";
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::printf("%s", usage);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_distributed: %s needs a value\n%s", k.c_str(), usage);
      return 2;
    }
    const int v = std::atoi(argv[i + 1]);
    if (k == "--steps") steps = v;
    else if (k == "--batch") batch = v;
    else if (k == "--length") length = v;
    else if (k == "--rank") rank = v;
    else if (k == "--world") world = v;
    else if (k == "--port") port = v;
    else {
      std::fprintf(stderr, "%s", usage);
      return 2;
    }
  }
  if (rank >= 0) return run_rank(rank, world, port, steps, batch, length);
  ::setenv("OMP_PROC_BIND", "true", 1);
  if (!distributed_available(torch::Device(torch::kCPU))) {
    std::printf("bench_distributed: this build has no c10d Gloo (libgloo-dev)\n");
    return 0;
  }
  const std::string self = ::realpath("/proc/self/exe", nullptr);
  const double one = run_world(self.c_str(), 1, steps, batch, length);
  const double two = run_world(self.c_str(), 2, steps, batch, length);
  std::printf("ae_small train step, global batch %d x %d rows, %d steps, 1 thread per rank, c10d Gloo on loopback\n", batch,
              length, steps);
  std::printf("  1 rank  : %8.1f samples/s\n", one);
  std::printf("  2 ranks : %8.1f samples/s\n", two);
  if (one > 0 && two > 0) std::printf("  ratio 2 ranks / 1 rank: %.2f\n", two / one);
  return 0;
}
