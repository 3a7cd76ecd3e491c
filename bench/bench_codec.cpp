// Throughput of the DeepCAD codec over the F360 JSON files, single-threaded:
//   parse  : cad_json text (already in memory) -> CadModel
//   encode : CadModel -> cad_vec (normalise, quantise, limits), rejections included
//   decode : cad_vec -> CadModel (DeepCAD's from_vector + builder numpy part)
// Usage: bench_codec [DATA_DIR] [REPEATS]; DATA_DIR defaults to ../shared/data.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "util/atomic_file.h"

using namespace cadcrafter;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Keeps the optimiser from discarding results.
volatile size_t g_sink = 0;

}  // namespace

int main(int argc, char** argv) {
  const std::string data = argc > 1 ? argv[1] : CADCRAFTER_SHARED_DATA;
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  const std::string dir = data + "/f360/json";
  if (!std::filesystem::is_directory(dir)) {
    std::fprintf(stderr, "bench_codec: %s not found\n", dir.c_str());
    return 1;
  }

  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::directory_iterator(dir)) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());

  auto t0 = Clock::now();
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const auto& p : paths) {
    auto text = read_file(p);
    if (!text.ok()) {
      std::fprintf(stderr, "bench_codec: %s\n", text.error().message.c_str());
      return 1;
    }
    bytes += text->size();
    texts.push_back(std::move(*text));
  }
  const double read_s = seconds_since(t0);

  t0 = Clock::now();
  std::vector<CadModel> models;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto m = parse_cad_json(texts[i], paths[i]);
    if (!m.ok()) {
      std::fprintf(stderr, "bench_codec: %s\n", m.error().message.c_str());
      return 1;
    }
    models.push_back(std::move(*m));
  }
  const double parse_s = seconds_since(t0);

  std::vector<CadVec> vecs;
  size_t rejected = 0;
  t0 = Clock::now();
  for (int r = 0; r < repeats; ++r) {
    for (const auto& m : models) {
      auto v = encode(m);
      if (r == 0) {
        if (v.ok()) vecs.push_back(*v);
        else ++rejected;
      }
      g_sink = g_sink + (v.ok() ? v->size() : 1);
    }
  }
  const double encode_s = seconds_since(t0) / repeats;

  t0 = Clock::now();
  for (int r = 0; r < repeats; ++r) {
    for (const auto& v : vecs) {
      auto m = decode(v);
      g_sink = g_sink + (m.ok() ? m->extrudes.size() : 0);
    }
  }
  const double decode_s = seconds_since(t0) / repeats;

  size_t rows = 0;
  for (const auto& v : vecs) rows += v.size();
  std::printf("bench_codec: %zu F360 files (%.1f MB), %zu encoded (%zu rows), %zu rejected, %d repeats\n", paths.size(),
              bytes / 1e6, vecs.size(), rows, rejected, repeats);
  std::printf("  read files : %8.3f s\n", read_s);
  std::printf("  parse json : %8.3f s  %10.0f files/s  %6.1f MB/s\n", parse_s, paths.size() / parse_s, bytes / 1e6 / parse_s);
  std::printf("  encode     : %8.4f s  %10.0f sequences/s (all %zu models, rejections included)\n", encode_s,
              models.size() / encode_s, models.size());
  std::printf("  decode     : %8.4f s  %10.0f sequences/s (%zu vectors)\n", decode_s, vecs.size() / decode_s, vecs.size());
  std::printf("  parse/encode time ratio: %.1fx\n", parse_s / encode_s);
  return 0;
}
