// Autoencoder training throughput: this project's LibTorch C++ trainer step against the same
// model, loss and optimiser step in PyTorch (bench/python/train_ae.py), same threads, same
// batch shape. Prints both in samples/s and the ratio C++ / PyTorch (goal >= 1.0).
//
//   OMP_PROC_BIND=true build/bench_train [--threads 2] [--steps 30] [--batch 64] [--length 20]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "learn/training/ae_trainer.h"
#include "learn/networks/cad_autoencoder.h"
#include "learn/training/losses.h"

using namespace cadcrafter::learn;

namespace {

// SOL, 4 lines, Ext repeated, then EOS: every row of the batch is used (`length` rows).
VecBatch synthetic_batch(int64_t batch, int64_t length) {
  std::vector<VecRows> seqs(static_cast<size_t>(batch));
  const int pattern[] = {kSol, kLine, kLine, kLine, kLine, kExt};
  std::srand(0);
  for (auto& rows : seqs) {
    for (int64_t i = 0; i + 1 < length; ++i) {
      VecRow r;
      r.fill(-1);
      r[0] = pattern[i % 6];
      for (int a = 0; a < kNumArgs; ++a)
        if (command_args_mask()[r[0]][a]) r[a + 1] = std::rand() % 256;
      rows.push_back(r);
    }
    VecRow eos;
    eos.fill(-1);
    eos[0] = kEos;
    rows.push_back(eos);
  }
  std::vector<const VecRows*> ptrs;
  for (const auto& s : seqs) ptrs.push_back(&s);
  return make_vec_batch(ptrs, static_cast<int>(length));
}

double python_samples_per_s(int threads, int steps, int batch, int length) {
  // bench/CMakeLists.txt passes <source>/../shared/data; the script lives in <source>/bench.
  std::string source = CADCRAFTER_SHARED_DATA;
  source = source.substr(0, source.rfind("/../shared/data"));
  const std::string script = source + "/bench/python/train_ae.py";
  const std::string cmd = "OMP_PROC_BIND=true /usr/bin/python3 " + script + " --threads " + std::to_string(threads) +
                          " --steps " + std::to_string(steps) + " --batch " + std::to_string(batch) + " --length " +
                          std::to_string(length) + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return -1.0;
  char line[512];
  double value = -1.0;
  while (std::fgets(line, sizeof line, pipe)) {
    if (std::sscanf(line, "samples_per_s %lf", &value) != 1) std::fprintf(stderr, "python: %s", line);
  }
  ::pclose(pipe);
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, steps = 30, batch = 64, length = 20, warmup = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--threads") threads = v;
    else if (k == "--steps") steps = v;
    else if (k == "--batch") batch = v;
    else if (k == "--length") length = v;
    else {
      std::fprintf(stderr, "usage: bench_train [--threads N] [--steps N] [--batch N] [--length L]\n");
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
  const double py = python_samples_per_s(threads, steps, batch, length);
  if (py <= 0) {
    std::printf("  PyTorch      : unavailable (needs /usr/bin/python3 with python3-torch)\n");
    return 0;
  }
  std::printf("  PyTorch      : %8.1f samples/s\n", py);
  std::printf("  ratio C++ / PyTorch: %.2f\n", cpp / py);
  return 0;
}
