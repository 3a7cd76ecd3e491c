// Compile + check throughput on the F360 val split, with 1 and 2 threads.
//   bench_check [max_models] [timeout_ms]
// Models are read from JSON first (not timed); then each thread count checks all of them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cad/cad_json.h"
#include "kernel/batch_check.h"
#include "kernel/check.h"
#include "util/parallel.h"

using namespace cadcrafter;

int main(int argc, char** argv) {
  const int max_models = argc > 1 ? std::atoi(argv[1]) : 0;
  const int timeout_ms = argc > 2 ? std::atoi(argv[2]) : 2000;
  const std::string manifest = std::string(CADCRAFTER_SHARED_DATA) + "/f360/manifest.csv";
  auto entries = read_manifest(manifest, "val");
  if (!entries) {
    std::fprintf(stderr, "bench_check: %s\n", entries.error().message.c_str());
    return 1;
  }
  if (max_models > 0 && static_cast<int>(entries->size()) > max_models) entries->resize(max_models);
  std::vector<CadModel> models;
  for (const ManifestEntry& e : *entries) {
    auto m = read_cad_json(e.path);
    if (m) models.push_back(std::move(*m));
  }
  std::printf("bench_check: %zu F360 val models, time limit %d ms, %u hardware threads\n", models.size(), timeout_ms,
              std::thread::hardware_concurrency());
  double single = 0;
  for (int threads : {1, 2}) {
    std::vector<double> ms(models.size());
    std::atomic<int> valid{0};
    const auto start = std::chrono::steady_clock::now();
    parallel_for(static_cast<int64_t>(models.size()), threads, [&](int64_t i, int) {
      CheckOptions opt;
      opt.timeout_ms = timeout_ms;
      const CheckResult r = check_model(models[i], opt);
      ms[i] = r.ms;
      valid += r.valid;
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::sort(ms.begin(), ms.end());
    const double rate = models.size() / seconds;
    if (threads == 1) single = rate;
    std::printf("threads %d: %.1f models/s (%.1f s), valid %d/%zu, per model median %.1f ms, p90 %.1f ms, max %.0f ms",
                threads, rate, seconds, valid.load(), models.size(), ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back());
    if (threads > 1) std::printf(", speed-up %.2fx", rate / single);
    std::printf("\n");
  }
  if (abandoned_check_count() > 0) std::_Exit(0);
  return 0;
}
