// `cadcrafter info FILE`: a readable listing of a cad_json (.json) or cad_vec (.h5) file: the
// extrudes, planes, loops and curves, and DeepCAD's vector with command names (or the reason
// DeepCAD rejects the model). A STEP file (.step/.stp) is read back with OpenCASCADE: solids,
// faces, volume, area and bounding box in millimetres. --vec prints only the quantised rows; --json prints everything
// as one JSON object. Exit 1 with a message naming the file when it cannot be read.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cad/cad_h5.h"
#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "cad/listing.h"
#include "cad/units.h"
#include "command.h"
#include "kernel/export.h"
#include "kernel/solid.h"

namespace cadcrafter::cli {
namespace {

struct InfoOptions {
  std::string file;
  bool vec_only = false;
  bool json = false;
};

// What info knows about a file: the model (read or decoded) and the vector (read or encoded).
struct FileInfo {
  std::string kind;  // "cad_json" or "cad_vec"
  std::optional<CadModel> model;
  std::optional<CadVec> vec;
  std::string vec_problem;    // why there is no vector (DeepCAD rejection) or validation notes
  std::string model_problem;  // why a vector does not decode
};

Result<FileInfo> load(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  FileInfo info;
  if (ext == ".json") {
    auto model = read_cad_json(path);
    if (!model.ok()) return model.error();
    info.kind = "cad_json";
    auto vec = encode(*model);
    if (vec.ok()) info.vec = std::move(*vec);
    else info.vec_problem = vec.error().message;
    info.model = std::move(*model);
    return info;
  }
  if (ext == ".h5") {
    auto vec = read_cad_vec_h5(path);
    if (!vec.ok()) return vec.error();
    info.kind = "cad_vec";
    const Status valid = validate_vec(*vec);
    if (!valid.ok()) info.vec_problem = valid.error().message;
    auto model = decode(*vec);
    if (model.ok()) {
      model->id = std::filesystem::path(path).stem().string();
      info.model = std::move(*model);
    } else {
      info.model_problem = model.error().message;
    }
    info.vec = std::move(*vec);
    return info;
  }
  return Result<FileInfo>::fail(ErrorCode::kInvalidArgument,
                                path + ": unknown file type \"" + ext + "\" (expected .json cad_json, .h5 cad_vec or .step)");
}

// A STEP file as OpenCASCADE reads it (in mm, whatever unit the file declares).
int run_step_info(const InfoOptions& opts) {
  auto solid = import_step(opts.file);
  if (!solid.ok()) return fail("info", solid.error().message);
  const ShapeProperties p = shape_properties(*solid);
  const Vec3 lo = p.bbox.min, hi = p.bbox.max;
  const double size[3] = {hi.x - lo.x, hi.y - lo.y, hi.z - lo.z};
  if (opts.json) {
    nlohmann::json out{{"file", opts.file}, {"kind", "step"}, {"unit", unit_symbol(solid->unit())},
                       {"solids", p.n_solids}, {"faces", p.n_faces}, {"volume", p.volume}, {"area", p.area},
                       {"size", {size[0], size[1], size[2]}}};
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::printf("%s (STEP, read by OpenCASCADE)\n%d solid(s), %d faces\nvolume %.6g %s^3, area %.6g %s^2\n"
              "bounding box %.6g x %.6g x %.6g %s\n",
              opts.file.c_str(), p.n_solids, p.n_faces, p.volume, unit_symbol(solid->unit()), p.area,
              unit_symbol(solid->unit()), size[0], size[1], size[2], unit_symbol(solid->unit()));
  return 0;
}

int run_info(const InfoOptions& opts) {
  std::string ext = std::filesystem::path(opts.file).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".step" || ext == ".stp") return run_step_info(opts);
  auto loaded = load(opts.file);
  if (!loaded.ok()) return fail("info", loaded.error().message);
  const FileInfo& info = *loaded;

  if (opts.json) {
    nlohmann::json out{{"file", opts.file}, {"kind", info.kind}};
    out["model"] = info.model ? listing_json(*info.model) : nlohmann::json(nullptr);
    out["vec"] = info.vec ? listing_json(*info.vec) : nlohmann::json(nullptr);
    if (!info.vec_problem.empty()) out[info.kind == "cad_json" ? "rejected" : "vec_problems"] = info.vec_problem;
    if (!info.model_problem.empty()) out["decode_error"] = info.model_problem;
    std::cout << out.dump() << "\n";
    return 0;
  }
  if (opts.vec_only) {
    if (!info.vec) return fail("info", opts.file + ": no vector: " + info.vec_problem);
    std::cout << format_vec_rows(*info.vec);
    return 0;
  }

  std::cout << opts.file << " (" << info.kind << ")\n";
  if (info.model) std::cout << format_listing(*info.model);
  else std::cout << "does not decode: " << info.model_problem << "\n";
  std::cout << "\n";
  if (info.vec) {
    std::cout << "DeepCAD vector, " << info.vec->size() << " rows" << (info.kind == "cad_json" ? " (encoded)" : "") << ":\n"
              << format_listing(*info.vec);
  }
  if (!info.vec_problem.empty())
    std::cout << (info.kind == "cad_json" ? "DeepCAD rejects this model: " : "vector problems: ") << info.vec_problem << "\n";
  return 0;
}

const CommandRegistration registration(
    "info", "Print a readable listing of a cad_json (.json) or cad_vec (.h5) file, or what a STEP file holds", [](CLI::App& app) {
      auto opts = std::make_shared<InfoOptions>();
      app.add_option("file", opts->file, "a DeepCAD cad_json (.json) or cad_vec (.h5) file, or a STEP file (.step/.stp)")->required();
      app.add_flag("--vec", opts->vec_only, "print only the quantised vector rows (17 integers each)");
      app.add_flag("--json", opts->json, "print model and vector as one JSON object");
      return [opts]() { return run_info(*opts); };
    });

}  // namespace
}  // namespace cadcrafter::cli
