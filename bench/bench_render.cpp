// Render speed (CPU time per thread): per-view depth+normal+mask and photo-like RGB at 128^2 and 224^2, on a
// tessellated F360 model when ../shared/data is present (else a ~5k-triangle code-built part),
// plus the end-to-end dataset figure: compile + tessellate + 32 views per model.
//
//   build/bench_render [N_MODELS]      (default 20 models for the end-to-end figure)
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cad/cad_json.h"
#include "kernel/compile.h"
#include "kernel/tessellate.h"
#include "render/render_views.h"
#include "render/shapes.h"

using namespace cadcrafter;

namespace {

// CPU time of this thread: the figures stay meaningful on a machine shared with other jobs
// (wall time is printed too, for the end-to-end rate).
double now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
double wall_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// First `n` F360 models listed in the manifest (sorted ids: a fixed, reproducible choice).
std::vector<std::string> f360_paths(int n) {
  std::vector<std::string> paths;
  const std::string dir = std::string(CADCRAFTER_SHARED_DATA) + "/f360/json";
  if (!std::filesystem::is_directory(dir)) return paths;
  for (const auto& e : std::filesystem::directory_iterator(dir)) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  if (static_cast<int>(paths.size()) > n) paths.resize(static_cast<size_t>(n));
  return paths;
}

Result<Mesh> mesh_of(const std::string& path) {
  auto model = read_cad_json(path);
  if (!model) return model.error();
  auto solid = compile_model(*model);
  if (!solid) return solid.error();
  return tessellate(*solid);
}

void time_views(const Mesh& mesh, int size) {
  const Mesh unit = apply_normalization(mesh, unit_sphere_normalization(mesh));
  const auto cams = sample_cameras(CameraOptions{}, 8, 4, size, 1);
  ViewRenderer renderer;
  RenderOptions geo;
  RenderOptions rgb;
  rgb.depth = rgb.normal = rgb.mask = false;
  rgb.rgb = true;
  long long covered = 0;
  const int reps = 10;
  double t0 = now_ms();
  for (int r = 0; r < reps; ++r)
    for (const Camera& c : cams) {
      const RenderedView v = renderer.render(unit, c, geo);
      for (uint8_t m : v.mask) covered += m != 0;
    }
  const double geo_ms = (now_ms() - t0) / (reps * cams.size());
  t0 = now_ms();
  for (size_t i = 0; i < 8; ++i) renderer.render(unit, cams[i], rgb, i);
  const double rgb_ms = (now_ms() - t0) / 8;
  std::printf("  %3dx%-3d  depth+normal+mask %.3f ms/view (%.0f%% pixels covered)   rgb %.2f ms/view\n", size, size,
              geo_ms, 100.0 * covered / (reps * cams.size() * size * size), rgb_ms);
}

}  // namespace

int main(int argc, char** argv) {
  const int n_models = argc > 1 ? std::atoi(argv[1]) : 20;
  const auto paths = f360_paths(std::max(1, n_models));
  Mesh typical;
  std::string what;
  if (!paths.empty()) {
    // The "typical" model: the one with the median triangle count among the first few.
    std::vector<std::pair<size_t, Mesh>> meshes;
    for (size_t i = 0; i < std::min<size_t>(paths.size(), 9); ++i)
      if (auto m = mesh_of(paths[i])) meshes.emplace_back(m->triangles.size(), std::move(m.value()));
    if (!meshes.empty()) {
      std::sort(meshes.begin(), meshes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      typical = meshes[meshes.size() / 2].second;
      what = "median of the first " + std::to_string(meshes.size()) + " F360 models";
    }
  }
  if (typical.empty()) {
    typical = make_demo_part_mesh(625);
    what = "code-built part (no ../shared/data)";
  }
  std::printf("bench_render: %zu triangles, %zu vertices (%s)\n", typical.triangles.size(), typical.vertices.size(),
              what.c_str());
  time_views(typical, 128);
  time_views(typical, 224);
  const Mesh big = make_demo_part_mesh(625);
  std::printf("code-built part, %zu triangles:\n", big.triangles.size());
  time_views(big, 128);

  if (!paths.empty()) {
    // One thread, as the dataset builder runs one model per core.
    RenderOptions o;
    o.mask = false;
    int ok = 0;
    double t_mesh = 0, t_render = 0;
    const double w0 = wall_ms();
    for (const auto& p : paths) {
      const double t0 = now_ms();
      auto mesh = mesh_of(p);
      const double t1 = now_ms();
      t_mesh += t1 - t0;
      if (!mesh || mesh->empty()) continue;
      const auto views = render_views(*mesh, o, 7);
      t_render += now_ms() - t1;
      ok += views.size() == 32;
    }
    const double per_model = (t_mesh + t_render) / paths.size();
    std::printf("end to end, 1 thread, %zu F360 models (%d rendered): compile+tessellate %.1f ms/model, "
                "32 views depth+normal at 128^2 %.1f ms/model -> %.1f models/s per core (CPU time; "
                "wall %.1f ms/model)\n",
                paths.size(), ok, t_mesh / paths.size(), t_render / std::max(1, ok), 1000.0 / per_model,
                (wall_ms() - w0) / paths.size());
  }
  return 0;
}
