// Writing solids to exchange formats, and reading STEP back. Every writer goes through
// write_atomically: on any failure no output file is left behind.
#pragma once

#include <string>

#include "util/status.h"
#include "kernel/solid.h"
#include "kernel/tessellate.h"

namespace cadcrafter {

enum class StepSchema { kAP214, kAP242 };

struct StepOptions {
  StepSchema schema = StepSchema::kAP214;
  std::string model_name = "cadcrafter part";  // the product name, set through XDE
};

// STEP B-rep (exact geometry). Lengths are written as they are in the model; the file
// declares millimetres (OCCT's default), so a reader gets the same numbers back.
Status export_step(const Solid& solid, const std::string& path, const StepOptions& options = {});

// Binary STL of tessellate(solid, mesh).
Status export_stl(const Solid& solid, const std::string& path, const MeshOptions& mesh = {});

// Binary glTF 2.0 (.glb) through OCCT's RWGltf_CafWriter, Z-up model turned Y-up as glTF asks.
Status export_glb(const Solid& solid, const std::string& path, const MeshOptions& mesh = {},
                  const std::string& model_name = "cadcrafter part");

// Wavefront OBJ of tessellate(solid, mesh), with normals.
Status export_obj(const Solid& solid, const std::string& path, const MeshOptions& mesh = {});

// Reads every root of a STEP file into one shape (for round-trip checks and tools).
Result<Solid> import_step(const std::string& path);

}  // namespace cadcrafter
