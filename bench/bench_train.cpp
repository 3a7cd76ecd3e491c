// Autoencoder training throughput: this project's LibTorch C++ trainer step against the same
// model, loss and optimiser step in PyTorch (bench/python/train_ae.py), same threads, same
// batch shape. Prints both in samples/s and the ratio C++ / PyTorch (goal >= 1.0). The PyTorch
// peer runs with a clean CPU affinity (see python_samples_per_s); --inherit-affinity reproduces
// the old launch, which inherited this process's single-CPU pin.
//
//   OMP_PROC_BIND=true build/bench_train [--threads 2] [--steps 30] [--batch 64] [--length 20]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "learn/training/ae_trainer.h"
#include "learn/networks/cad_autoencoder.h"
#include "learn/training/losses.h"
#include "bench_batches.h"

using namespace cadcrafter::learn;

namespace {

// The PyTorch peer, run as a child with a clean CPU affinity (every CPU of the machine): this
// process's libgomp has pinned its main thread to one CPU (OMP_PROC_BIND=true), and a child
// would inherit that pin and run its "2 threads" on one core. `inherit_affinity` keeps the old,
// unfair launch for comparison.
double python_samples_per_s(int threads, int steps, int batch, int length, bool inherit_affinity) {
  // bench/CMakeLists.txt passes <source>/../shared/data; the script lives in <source>/bench.
  std::string source = CADCRAFTER_SHARED_DATA;
  source = source.substr(0, source.rfind("/../shared/data"));
  const std::string script = source + "/bench/python/train_ae.py";
  std::vector<std::string> args = {"/usr/bin/python3", script, "--threads", std::to_string(threads), "--steps", std::to_string(steps),
                                   "--batch", std::to_string(batch), "--length", std::to_string(length)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  cpu_set_t all;
  CPU_ZERO(&all);
  const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
  for (long c = 0; c < cpus && c < CPU_SETSIZE; ++c) CPU_SET(static_cast<int>(c), &all);
  ::setenv("OMP_PROC_BIND", "true", 1);
  int fds[2];
  if (::pipe(fds) != 0) return -1.0;
  const pid_t pid = ::fork();
  if (pid < 0) return -1.0;
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    if (!inherit_affinity) ::sched_setaffinity(0, sizeof all, &all);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  FILE* pipe = ::fdopen(fds[0], "r");
  char line[512];
  double value = -1.0;
  while (pipe && std::fgets(line, sizeof line, pipe)) {
    if (std::sscanf(line, "samples_per_s %lf", &value) != 1) std::fprintf(stderr, "python: %s", line);
  }
  if (pipe) std::fclose(pipe);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, steps = 30, batch = 64, length = 20, warmup = 3;
  bool inherit_affinity = false;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--inherit-affinity") {  // the old launch: the peer inherits this process's pin
      inherit_affinity = true;
      continue;
    }
    const int v = i + 1 < argc ? std::atoi(argv[++i]) : 0;
    if (k == "--threads") threads = v;
    else if (k == "--steps") steps = v;
    else if (k == "--batch") batch = v;
    else if (k == "--length") length = v;
    else {
      std::fprintf(stderr, "usage: bench_train [--threads N] [--steps N] [--batch N] [--length L] [--inherit-affinity]\n");
      return 2;
    }
  }
  if (!std::getenv("OMP_PROC_BIND")) std::fprintf(stderr, "bench_train: warning: OMP_PROC_BIND is not set\n");
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const AeConfig config = small_ae_config();
  CadAutoencoder model(config.model);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  auto data = synthetic_batch(batch, length);
  std::chrono::steady_clock::time_point start;
  for (int step = 0; step < warmup + steps; ++step) {
    if (step == warmup) start = std::chrono::steady_clock::now();
    model->train();
    auto out = model->forward(data.commands, data.args);
    auto loss = cad_loss(out.command_logits, out.args_logits, data);
    opt.zero_grad();
    loss.total.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    opt.step();
    loss.total.item<double>();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpp = batch * steps / secs;
  std::printf("ae_small train step, batch %d x %d rows, %d threads, %d steps\n", batch, length, threads, steps);
  std::printf("  LibTorch C++ : %8.1f samples/s\n", cpp);
  const double py = python_samples_per_s(threads, steps, batch, length, inherit_affinity);
  if (py <= 0) {
    std::printf("  PyTorch      : unavailable (needs /usr/bin/python3 with python3-torch)\n");
    return 0;
  }
  std::printf("  PyTorch      : %8.1f samples/s (peer process with %s)\n", py,
              inherit_affinity ? "this process's inherited single-CPU affinity (--inherit-affinity)"
                               : "a clean affinity: every CPU, not libgomp's pin of this process");
  std::printf("  ratio C++ / PyTorch: %.2f\n", cpp / py);
  return 0;
}
