// Dataset throughput: models/s for check (compile) + tessellate + sets x views depth/normal
// renders on F360 models, and shard read throughput (samples/s, random order).
//   bench_dataset [N models = 64] [threads = all] [sets = 8] [views = 4] [size = 128]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "cad/cad_json.h"
#include "data/dataset.h"
#include "data/shard.h"
#include "util/parallel.h"

using namespace cadcrafter;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 64;
  const int threads = argc > 2 ? std::atoi(argv[2]) : default_threads();
  DatasetBuildOptions o;
  o.sets = argc > 3 ? std::atoi(argv[3]) : 8;
  o.views_per_set = argc > 4 ? std::atoi(argv[4]) : 4;
  o.size = argc > 5 ? std::atoi(argv[5]) : 128;
  const std::string f360 = std::string(CADCRAFTER_SHARED_DATA) + "/f360";
  std::ifstream manifest(f360 + "/manifest.csv");
  if (!manifest) {
    std::fprintf(stderr, "bench_dataset: %s/manifest.csv not found\n", f360.c_str());
    return 1;
  }
  // Every 7th train id, so the sample spans the batches (1-op to 20-op models).
  std::vector<CadModel> models;
  std::string line;
  std::getline(manifest, line);
  for (int row = 0; std::getline(manifest, line) && static_cast<int>(models.size()) < n; ++row) {
    if (row % 7 != 0 || line.find(",train") == std::string::npos) continue;
    auto m = read_cad_json(f360 + "/json/" + line.substr(0, line.find(',')) + ".json");
    if (m.ok()) models.push_back(*m);
  }
  std::printf("bench_dataset: %zu F360 train models, %d x %d views at %d px, %d thread(s)\n", models.size(), o.sets,
              o.views_per_set, o.size, threads);

  // 1. Make samples (encode + check/compile + tessellate + render + pack).
  std::vector<PackedSample> packed(models.size());
  std::vector<SampleTimings> timings(models.size());
  std::vector<char> ok(models.size(), 0);
  auto t0 = Clock::now();
  const std::clock_t cpu0 = std::clock();
  parallel_for(static_cast<int64_t>(models.size()), threads, [&](int64_t i, int) {
    auto s = make_sample(models[i], o, static_cast<uint64_t>(i), &timings[i]);
    if (!s.ok()) return;
    packed[i] = pack_sample(*s);
    ok[i] = 1;
  });
  const double make_s = since(t0);
  const double cpu_s = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  SampleTimings sum;
  for (const auto& t : timings) sum.check += t.check, sum.tessellate += t.tessellate, sum.render += t.render;
  const int n_ok = std::accumulate(ok.begin(), ok.end(), 0);
  std::printf("make samples: %d/%zu ok in %.2f s = %.1f models/s (target >= 30 on 2 cores)\n", n_ok, models.size(), make_s,
              models.size() / make_s);
  // On a shared machine wall time hides how much CPU we actually got; CPU time does not.
  std::printf("  process CPU %.2f s = %.1f ms/model -> %.1f models/s per fully available core\n", cpu_s, 1e3 * cpu_s / models.size(),
              models.size() / cpu_s);
  std::printf("  per model (one thread): check+compile %.1f ms, tessellate %.1f ms, render %.1f ms\n", 1e3 * sum.check / models.size(),
              1e3 * sum.tessellate / models.size(), 1e3 * sum.render / models.size());

  // 2. Write one shard and read it back in random order.
  std::vector<PackedSample> good;
  for (size_t i = 0; i < packed.size(); ++i)
    if (ok[i]) good.push_back(packed[i]);
  const std::string path = (std::filesystem::temp_directory_path() / ("bench_dataset_" + std::to_string(::getpid()) + ".ccs")).string();
  t0 = Clock::now();
  if (!write_shard(path, {o.sets * o.views_per_set, o.size, false}, good).ok()) return 1;
  const double write_s = since(t0);
  auto shard = ShardFile::open(path);
  if (!shard.ok()) return 1;
  std::printf("shard: %zu samples, %.2f MB (%.1f KB/sample), written in %.3f s\n", good.size(), (*shard)->file_bytes() / 1e6,
              (*shard)->file_bytes() / 1e3 / std::max<size_t>(1, good.size()), write_s);
  const int reads = 2000;
  std::vector<size_t> order(reads);
  std::mt19937_64 rng(1);
  for (auto& i : order) i = rng() % good.size();
  for (int t : {1, threads}) {
    std::atomic<int64_t> bytes{0};
    t0 = Clock::now();
    const std::clock_t read_cpu0 = std::clock();
    parallel_for(reads, t, [&](int64_t k, int) {
      auto s = (*shard)->read(order[static_cast<size_t>(k)]);
      if (s.ok()) bytes += static_cast<int64_t>(s->depth.size() * 2 + s->normal.size() + s->mask.size());
    });
    const double s = since(t0);
    const double cpu = static_cast<double>(std::clock() - read_cpu0) / CLOCKS_PER_SEC;
    std::printf("shard read (random order, page cache warm): %d thread(s): %.0f samples/s (%.0f MB/s of images), %.2f ms CPU/sample\n", t,
                reads / s, bytes / s / 1e6, 1e3 * cpu / reads);
  }
  {
    t0 = Clock::now();
    int64_t got = 0;
    for (int k = 0; k < reads; ++k) got += (*shard)->read(order[static_cast<size_t>(k)], false).ok();
    std::printf("shard read, vector only (images = false): %.0f samples/s on 1 thread\n", got / since(t0));
  }
  std::filesystem::remove(path);
  return 0;
}
