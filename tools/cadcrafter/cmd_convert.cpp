// `cadcrafter convert IN -o OUT`: between CAD sequence files and exchange formats, chosen by
// the output's extension. IN is a cad_json (.json) or a DeepCAD vector (.h5). OUT is
//   .step/.stp  exact B-rep (AP214, or AP242 with --schema)
//   .stl .glb .obj  tessellated solid
//   .py         build123d script          .json  cad_json          .h5  DeepCAD vector
// The model is checked first; an invalid one is refused with the checker's reason. An
// existing OUT is kept unless --force; on any failure no output file is left.
// Units: the input's unit is what the cad_json says (properties.length_unit), else cm (the F360
// data); a decoded .h5 is in DeepCAD's normalised units, taken as mm. --unit overrides it and
// --size scales the model so its longest side has that length (written in mm). STEP declares
// the model's unit, GLB is in metres, STL/OBJ in millimetres (kernel/export.h).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cad/build123d_script.h"
#include "cad/cad_h5.h"
#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "cad/units.h"
#include "command.h"
#include "kernel/check.h"
#include "kernel/export.h"
#include "util/atomic_file.h"

namespace cadcrafter::cli {
namespace {

namespace fs = std::filesystem;

struct ConvertOptions {
  std::string input, output, schema = "ap214", name, unit, size;
  bool force = false;
  double linear_deflection = 0.001, angular_deflection = 0.3;
  int timeout_ms = 10000;
};

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

int run_convert(const ConvertOptions& o) {
  const char* name = "convert";
  const std::string in_ext = lower_extension(o.input), out_ext = lower_extension(o.output);
  static const char* kOutputs[] = {".step", ".stp", ".stl", ".glb", ".obj", ".py", ".json", ".h5"};
  if (std::find(std::begin(kOutputs), std::end(kOutputs), out_ext) == std::end(kOutputs))
    return fail(name, o.output + ": unknown output type '" + out_ext + "' (use .step .stp .stl .glb .obj .py .json .h5)");
  if (in_ext != ".json" && in_ext != ".h5")
    return fail(name, o.input + ": unknown input type '" + in_ext + "' (expected a cad_json .json or a DeepCAD .h5)");
  if (fs::absolute(o.input) == fs::absolute(o.output)) return fail(name, "input and output are the same file: " + o.input);
  if (fs::exists(o.output) && !o.force) return fail(name, o.output + " already exists (use --force to overwrite)");
  const fs::path out_dir = fs::absolute(o.output).parent_path();
  if (!fs::is_directory(out_dir)) return fail(name, "cannot write " + o.output + ": folder " + out_dir.string() + " does not exist");

  // Read the input: a model, and for .h5 also its vector.
  std::optional<CadVec> vec;
  Result<CadModel> model = Result<CadModel>::fail(ErrorCode::kInternal, "unread");
  if (in_ext == ".h5") {
    auto v = read_cad_vec_h5(o.input);
    if (!v) return fail(name, v.error().message);
    vec = *v;
    model = decode(*v);
    if (!model) return fail(name, o.input + ": " + model.error().message);
    model->id = fs::path(o.input).stem().string();
  } else {
    model = read_cad_json(o.input);
    if (!model) return fail(name, model.error().message);
  }
  const std::string model_name = o.name.empty() ? model->id : o.name;
  if (!o.unit.empty()) {
    auto unit = parse_length_unit(o.unit);
    if (!unit) return fail(name, "--unit: " + unit.error().message);
    model->unit = *unit;
  }
  if (!o.size.empty()) {
    auto size = parse_length(o.size);
    if (!size) return fail(name, "--size " + size.error().message);
    CheckOptions copt;
    copt.timeout_ms = o.timeout_ms;
    const CheckResult check = check_model(*model, copt);
    if (!check.valid) return fail(name, o.input + ": the model does not build a valid solid: " + check.reason);
    const BoundingBox& b = check.bbox;
    const double side = std::max({b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z});
    if (!(side > 0)) return fail(name, o.input + ": the model has no extent to scale");
    model = scale_model(*model, size->millimetres() / side, LengthUnit::kMillimetre);
  }

  Status written;
  if (out_ext == ".json") {
    written = write_cad_json(*model, o.output);
  } else if (out_ext == ".h5") {
    if (!vec) {
      auto v = encode(*model);
      if (!v) return fail(name, o.input + ": cannot encode as a DeepCAD vector: " + v.error().message);
      vec = *v;
    }
    written = write_cad_vec_h5(o.output, *vec);
  } else if (out_ext == ".py") {
    written = write_file_atomically(o.output, to_build123d_script(*model));
  } else {
    CheckOptions copt;
    copt.timeout_ms = o.timeout_ms;
    copt.keep_solid = true;
    const CheckResult check = check_model(*model, copt);
    if (!check.valid) return fail(name, o.input + ": the model does not build a valid solid: " + check.reason);
    MeshOptions mesh;
    mesh.linear_deflection = o.linear_deflection;
    mesh.angular_deflection = o.angular_deflection;
    if (out_ext == ".step" || out_ext == ".stp") {
      StepOptions sopt;
      sopt.schema = o.schema == "ap242" ? StepSchema::kAP242 : StepSchema::kAP214;
      sopt.model_name = model_name;
      written = export_step(check.solid, o.output, sopt);
    } else if (out_ext == ".stl") {
      written = export_stl(check.solid, o.output, mesh);
    } else if (out_ext == ".glb") {
      written = export_glb(check.solid, o.output, mesh, model_name);
    } else {
      written = export_obj(check.solid, o.output, mesh);
    }
    if (written.ok())
      std::printf("%s: volume %.6g %s^3, area %.6g %s^2, %d solid(s)\n", model->id.c_str(), check.volume,
                  unit_symbol(model->unit), check.area, unit_symbol(model->unit), check.n_solids);
  }
  if (!written.ok()) return fail(name, written.error().message);
  std::printf("wrote %s\n", o.output.c_str());
  return 0;
}

CommandRegistration reg("convert", "Convert a CAD sequence to STEP, STL, GLB, OBJ, build123d, cad_json or DeepCAD .h5", [](CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  app.add_option("input", o->input, "cad_json (.json) or DeepCAD vector (.h5)")->required();
  app.add_option("-o,--output", o->output, "output file; its extension picks the format")->required();
  app.add_flag("--force", o->force, "overwrite an existing output file");
  app.add_option("--schema", o->schema, "STEP schema")->check(CLI::IsMember({"ap214", "ap242"}));
  app.add_option("--unit", o->unit,
                 "unit of the input's numbers: mm, cm, m or in (default: the cad_json's length_unit, else cm as in the "
                 "F360 data; mm for .h5)");
  app.add_option("--size", o->size,
                 "scale the model so its longest side is this long, e.g. 40mm or 1.5in (written in mm)");
  app.add_option("--name", o->name, "model name written into STEP/GLB (default: the model id)");
  app.add_option("--linear-deflection", o->linear_deflection, "mesh chord error, fraction of the bounding-box diagonal")
      ->check(CLI::Range(1e-6, 0.1));
  app.add_option("--angular-deflection", o->angular_deflection, "mesh angle between facets on curved faces, radians")
      ->check(CLI::Range(0.01, 1.5));
  app.add_option("--timeout-ms", o->timeout_ms, "time limit for building the solid")->check(CLI::Range(1, 3600000));
  return [o]() { return run_convert(*o); };
});

}  // namespace
}  // namespace cadcrafter::cli
