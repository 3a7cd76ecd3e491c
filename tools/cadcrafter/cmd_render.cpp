// `cadcrafter render FILE -o DIR`: renders a CAD model (cad_json or DeepCAD .h5) the way the
// training data sees it - sets x views of 16-bit depth, normals, masks and photo-like RGB -
// plus cameras.json (intrinsics, extrinsics, encodings), run.json and a contact sheet.
// `--shape demo|box|cylinder` renders a built-in mesh instead of a file.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cad/cad_h5.h"
#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "command.h"
#include "kernel/compile.h"
#include "kernel/tessellate.h"
#include "render/render_views.h"
#include "render/shapes.h"
#include "util/atomic_file.h"
#include "util/parallel.h"
#include "util/progress.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {

namespace fs = std::filesystem;

struct RenderCliOptions {
  std::string file, output, shape, modalities = "depth,normal,mask,rgb";
  std::vector<std::string> exclude_styles;
  int sets = 8, views = 4, size = 128;
  float fov_max = 0.0f;
  uint64_t seed = 0;
  int threads = default_threads();
  bool force = false, no_jitter = false, quiet = false;
  double deflection = 0.001;
};

Result<CadModel> load_model(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".json") return read_cad_json(path);
  if (ext == ".h5") {
    auto vec = read_cad_vec_h5(path);
    if (!vec) return vec.error();
    auto model = decode(*vec);
    if (!model) return Result<CadModel>::fail(model.error().code, path + ": " + model.error().message);
    model->id = fs::path(path).stem().string();
    return model;
  }
  return Result<CadModel>::fail(ErrorCode::kInvalidArgument,
                                path + ": unknown input type '" + ext + "' (expected .json or .h5)");
}

// The mesh to render: a built-in shape, or the file compiled by the kernel and tessellated.
Result<Mesh> load_mesh(const RenderCliOptions& o, nlohmann::json* source) {
  if (!o.shape.empty()) {
    (*source)["shape"] = o.shape;
    if (o.shape == "demo") return make_demo_part_mesh(256);
    if (o.shape == "box") return make_box_mesh({-1.0f, -0.6f, -0.4f}, {1.0f, 0.6f, 0.4f});
    if (o.shape == "cylinder") return make_cylinder_mesh(0, 0, 0.5f, -0.8f, 0.8f, 256);
    return Result<Mesh>::fail(ErrorCode::kInvalidArgument, "unknown --shape '" + o.shape + "' (demo, box, cylinder)");
  }
  (*source)["file"] = o.file;
  auto model = load_model(o.file);
  if (!model) return model.error();
  auto solid = compile_model(*model, CompileOptions{});
  if (!solid) return Result<Mesh>::fail(solid.error().code, o.file + ": " + solid.error().message);
  MeshOptions mesh_options;
  mesh_options.linear_deflection = o.deflection;
  Mesh mesh = tessellate(*solid, mesh_options);
  if (mesh.empty()) return Result<Mesh>::fail(ErrorCode::kGeometry, o.file + ": the model builds an empty shape");
  (*source)["id"] = model->id;
  return mesh;
}

Status parse_modalities(const std::string& list, RenderOptions* r) {
  r->depth = r->normal = r->mask = r->rgb = false;
  std::stringstream ss(list);
  std::string m;
  while (std::getline(ss, m, ',')) {
    if (m == "depth") r->depth = true;
    else if (m == "normal") r->normal = true;
    else if (m == "mask") r->mask = true;
    else if (m == "rgb") r->rgb = true;
    else return Status::fail(ErrorCode::kInvalidArgument, "unknown modality '" + m + "' (depth, normal, mask, rgb)");
  }
  return {};
}

// Our own outputs in DIR, which --force may replace (nothing else is ever deleted).
bool is_render_output(const std::string& name) {
  if (name == "cameras.json" || name == "run.json" || name == "contact_sheet.png") return true;
  return name.size() > 4 && name[0] == 's' && name.find("_v") != std::string::npos &&
         name.compare(name.size() - 4, 4, ".png") == 0;
}

int run_render(const RenderCliOptions& o) {
  const std::string cmd = "render";
  const auto t0 = std::chrono::steady_clock::now();
  if (o.file.empty() == o.shape.empty()) return fail(cmd, "give exactly one of FILE and --shape");
  RenderOptions r;
  r.sets = o.sets;
  r.views_per_set = o.views;
  r.size = o.size;
  if (Status s = parse_modalities(o.modalities, &r); !s) return fail(cmd, s.error().message);
  if (r.rgb && !o.no_jitter) {  // hand-held photos: a little roll and an off-centre aim
    r.camera.roll_jitter_deg = 4.0f;
    r.camera.target_jitter = 0.05f;
  }
  if (o.fov_max > 0) {  // casual framing: zoom variety, the part off centre
    r.camera.fov_max_deg = o.fov_max;
    if (!o.no_jitter) r.camera.target_jitter = 0.25f;
  }
  for (const std::string& name : o.exclude_styles)
    if (!name.empty()) r.photo.exclude.push_back(name);
  if (Status s = validate(r); !s) return fail(cmd, s.error().message);

  std::error_code ec;
  if (fs::exists(o.output, ec) && !fs::is_directory(o.output, ec))
    return fail(cmd, o.output + " exists and is not a directory");
  const bool has_files = fs::is_directory(o.output, ec) && !fs::is_empty(o.output, ec);
  if (has_files && !o.force) return fail(cmd, o.output + " is not empty (use --force to overwrite)");

  nlohmann::json source;
  auto mesh = load_mesh(o, &source);
  if (!mesh) return fail(cmd, mesh.error().message);
  source["triangles"] = mesh->triangles.size();
  const auto t_mesh = std::chrono::steady_clock::now();

  if (has_files) {  // --force: replace our previous outputs, only once the model has loaded
    for (const auto& e : fs::directory_iterator(o.output, ec))
      if (e.is_regular_file() && is_render_output(e.path().filename().string())) fs::remove(e.path(), ec);
  }
  fs::create_directories(o.output, ec);
  if (ec) return fail(cmd, o.output + ": cannot create directory (" + ec.message() + ")");
  ProgressBar bar("render", static_cast<int64_t>(r.sets) * r.views_per_set, !o.quiet);
  Normalization norm;
  const auto views = render_views(*mesh, r, o.seed, &norm, o.threads, [&bar] { bar.add(1); });
  bar.finish();
  const auto t_render = std::chrono::steady_clock::now();
  if (Status s = write_render_folder(o.output, views, r, norm, source); !s) return fail(cmd, s.error().message);

  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  nlohmann::json run = make_run_info(saved_argc(), saved_argv());
  run["command"] = cmd;
  run["seed"] = o.seed;
  run["threads"] = o.threads;
  run["options"] = {{"sets", o.sets}, {"views", o.views}, {"size", o.size}, {"modalities", o.modalities},
                    {"camera_jitter", r.camera.target_jitter > 0}, {"fov_max_deg", r.camera.fov_max_deg}, {"exclude_styles", r.photo.exclude}, {"deflection", o.deflection}};
  run["source"] = source;
  run["timing_ms"] = {{"load_compile_tessellate", ms(t0, t_mesh)}, {"render", ms(t_mesh, t_render)},
                      {"total", ms(t0, std::chrono::steady_clock::now())}};
  if (Status s = write_file_atomically(o.output + "/run.json", run.dump(1) + "\n"); !s)
    return fail(cmd, s.error().message);
  if (!o.quiet)
    std::fprintf(stderr, "rendered %zu views (%d triangles) to %s in %.0f ms\n", views.size(),
                 static_cast<int>(mesh->triangles.size()), o.output.c_str(), ms(t0, std::chrono::steady_clock::now()));
  return 0;
}

CommandRegistration reg(
    "render", "Render a CAD model into depth/normal/mask/photo-like RGB views with cameras",
    [](CLI::App& app) {
      auto o = std::make_shared<RenderCliOptions>();
      app.add_option("file", o->file, "CAD model: DeepCAD cad_json (.json) or cad_vec (.h5)");
      app.add_option("-o,--output", o->output, "Output directory (refused if not empty, unless --force)")->required();
      app.add_option("--sets", o->sets, "Camera sets (each goes once around the object)")->capture_default_str();
      app.add_option("--views", o->views, "Views per set (evenly spaced in azimuth, jittered)")->capture_default_str();
      app.add_option("--size", o->size, "Image width and height in pixels")->capture_default_str();
      app.add_option("--modalities", o->modalities, "Comma-separated: depth, normal, mask, rgb")->capture_default_str();
      app.add_option("--seed", o->seed, "Random seed (cameras, materials, lights, noise)")->capture_default_str();
      app.add_option("--threads", o->threads, "Worker threads")->capture_default_str();
      app.add_option("--shape", o->shape, "Render a built-in mesh instead of FILE: demo, box, cylinder");
      app.add_option("--deflection", o->deflection, "Tessellation chordal deviation, fraction of the bbox diagonal")
          ->capture_default_str();
      app.add_option("--fov-max", o->fov_max,
                     "Zoom variety: each view's field of view drawn in [45, DEG], the part off centre (rgb photos)");
      app.add_option("--exclude-styles", o->exclude_styles,
                     "Comma-separated photo style families never drawn (matte, glossy, metal, translucent, "
                     "gradient, noise, table, mat, room)")
          ->delimiter(',');
      app.add_flag("--no-jitter", o->no_jitter, "Keep cameras aimed exactly at the centre even with rgb");
      app.add_flag("--force", o->force, "Overwrite the render files of a non-empty output directory");
      app.add_flag("-q,--quiet", o->quiet, "No progress bar or summary");
      return [o]() { return run_render(*o); };
    });

}  // namespace
}  // namespace cadcrafter::cli
