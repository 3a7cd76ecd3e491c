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

// Units: every writer converts from the solid's unit (Solid::unit, the compiled model's).
//   STEP     the file declares the solid's unit (SI_UNIT .CENTI. .METRE. for cm, a
//            conversion-based INCH for in) and keeps the model's numbers, so a CAD program
//            opens the part at its real size in its own display unit.
//   GLB      metres, as glTF requires.
//   STL/OBJ  millimetres (the formats carry no unit; the STL header and an OBJ comment say
//            "units: mm").

// STEP B-rep (exact geometry).
Status export_step(const Solid& solid, const std::string& path, const StepOptions& options = {});

// Binary STL of tessellate(solid, mesh), in millimetres.
Status export_stl(const Solid& solid, const std::string& path, const MeshOptions& mesh = {});

// Binary glTF 2.0 (.glb) through OCCT's RWGltf_CafWriter, Z-up model turned Y-up as glTF asks,
// in metres.
Status export_glb(const Solid& solid, const std::string& path, const MeshOptions& mesh = {},
                  const std::string& model_name = "cadcrafter part");

// Wavefront OBJ of tessellate(solid, mesh), with normals, in millimetres.
Status export_obj(const Solid& solid, const std::string& path, const MeshOptions& mesh = {});

// Reads every root of a STEP file into one shape, in millimetres whatever unit the file
// declares (for round-trip checks and tools).
Result<Solid> import_step(const std::string& path);

}  // namespace cadcrafter
