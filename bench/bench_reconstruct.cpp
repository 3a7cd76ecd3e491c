// Reconstruct speed and memory: one photo in, 1 and 8 candidates out, on 2 threads.
// Prints seconds after loading the weights (estimator, and the diffusion model with its
// autoencoder and backbone; each run includes estimating, sampling, decoding, checking, scoring
// and writing every output file) and the peak RSS. The candidate source is the default one
// (the latent diffusion model when models/diffusion is shipped); --candidates procedural
// measures the procedural-part search instead.
// Targets: <= 1 s for one candidate, <= 2 s for 8, <= 2 GB.
//
//   bench_reconstruct [PHOTO] [--weights DIR] [--candidates auto|diffusion|procedural]
//   bench_reconstruct --write-examples DIR   writes the example photos shipped in
//                                             examples/photos (photo-like renders of
//                                             procedurally generated parts, JPEG)
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "app/reconstruct.h"
#include "data/generator.h"
#include "kernel/check.h"
#include "kernel/tessellate.h"
#include "render/render_views.h"
#include "util/atomic_file.h"

using namespace cadcrafter;
namespace fs = std::filesystem;

namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// The first generated part of `family` from seed `start` on.
CadModel part_of_family(PartFamily wanted, uint64_t start) {
  for (uint64_t seed = start;; ++seed) {
    PartFamily family;
    CadModel m = generate_model(GeneratorOptions{}, seed, &family);
    if (family != wanted) continue;
    if (check_model(m).valid) return m;
  }
}

int write_examples(const std::string& dir) {
  fs::create_directories(dir);
  struct Example {
    const char* name;
    PartFamily family;
    uint64_t seed;
    std::vector<int> views;
  };
  const std::vector<Example> examples = {{"bracket", PartFamily::kLBracket, 9000, {0, 2}},
                                         {"flange", PartFamily::kFlange, 9100, {1}},
                                         {"plate", PartFamily::kPlate, 9200, {0}}};
  for (const auto& e : examples) {
    CheckOptions check;
    check.keep_solid = true;
    const CadModel model = part_of_family(e.family, e.seed);
    const auto checked = check_model(model, check);
    RenderOptions render;
    render.sets = 1;
    render.views_per_set = 4;
    render.size = 384;
    render.rgb = true;
    render.camera.roll_jitter_deg = 5;
    render.camera.target_jitter = 0.05f;
    render.photo.jpeg_quality_min = 95;  // the JPEG below is the only compression
    const auto views = render_views(tessellate(checked.solid), render, e.seed);
    int k = 1;
    for (int v : e.views) {
      auto jpeg = encode_jpeg(rgb_image(views[static_cast<size_t>(v)]), 90);
      const std::string path = dir + "/" + e.name + "_" + std::to_string(k++) + ".jpg";
      if (!jpeg || !write_file_atomically(path, *jpeg)) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return 1;
      }
      std::printf("wrote %s\n", path.c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string photo = app::default_weights_dir() + "/../examples/photos/bracket_1.jpg";  // models/ is beside examples/
  std::string weights, candidates = "auto";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--write-examples" && i + 1 < argc) return write_examples(argv[++i]);
    if (a == "--weights" && i + 1 < argc) {
      weights = argv[++i];
    } else if (a == "--candidates" && i + 1 < argc) {
      candidates = argv[++i];
    } else {
      photo = a;
    }
  }
  if (!fs::exists(photo)) {
    std::fprintf(stderr, "usage: bench_reconstruct PHOTO [--weights DIR]  (%s not found)\n", photo.c_str());
    return 1;
  }
  const std::string tmp = (fs::temp_directory_path() / ("bench_reconstruct_" + std::to_string(::getpid()))).string();
  fs::create_directories(tmp);
  std::printf("bench_reconstruct: %s, 2 threads\n", photo.c_str());
  int failures = 0;
  for (int samples : {1, 1, 8}) {  // the first run warms up (allocator, OCCT, LibTorch)
    app::ReconstructParams p;
    p.inputs = {photo};
    p.output = tmp + "/out_" + std::to_string(samples);
    p.force = true;
    p.samples = samples;
    p.threads = 2;
    p.weights_dir = weights;
    p.candidates = candidates;
    const auto start = std::chrono::steady_clock::now();
    auto r = app::reconstruct(p);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!r) {
      std::fprintf(stderr, "reconstruct failed: %s\n", r.error().message.c_str());
      ++failures;
      continue;
    }
    const double load = r->timings.value("load_estimator", 0.0) + r->timings.value("load_generator", 0.0);
    std::printf("samples %d (%s): %.3f s total, %.3f s after loading the weights (estimate %.3f, propose %.3f, "
                "check+score %.3f of %d proposals (%d valid), write %.3f); target %.1f s\n",
                samples, r->source.c_str(), seconds, seconds - load, r->timings.value("estimate", 0.0),
                r->timings.value("propose", 0.0), r->timings.value("check_and_score", 0.0), r->proposals,
                r->valid_proposals, r->timings.value("write", 0.0), samples == 1 ? 1.0 : 2.0);
  }
  std::printf("peak RSS %.0f MB (target 2048 MB)\n", peak_rss_mb());
  fs::remove_all(tmp);
  return failures ? 1 : 0;
}
