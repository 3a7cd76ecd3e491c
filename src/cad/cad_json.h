// DeepCAD `cad_json` files (the schema DeepCAD's CADSequence.from_dict reads; the F360 and
// DeepCAD data in ../shared/data use it).
//
// Reading follows from_dict exactly: every ExtrudeFeature in `sequence` becomes one Extrude per
// entry of its `profiles` list (a NewBody feature's first profile stays NewBody, the others
// become Join; an empty list vanishes), and loops and curves are re-ordered as DeepCAD does
// (see deepcad_sketch.h). The result is in the file's units: plane.origin and the axes are the
// sketch transform's, curves are sketch-local 2D (global = origin + u*x_axis + v*y_axis), and
// arcs carry start/mid/end plus DeepCAD's start_angle/end_angle/ref_vec bookkeeping.
// The length unit is our key properties.length_unit ("mm", "cm", "m", "in"); a file without it
// is read as centimetres, the unit of the F360 data (DeepCAD's own files are in metres).
//
// Writing produces a cad_json with one sketch and one single-profile ExtrudeFeature per Extrude,
// which reads back to the same model and therefore encodes to the same vector; it always writes
// properties.length_unit.
#pragma once

#include <string>

#include "cad/cad_model.h"
#include "util/status.h"

namespace cadcrafter {

// Reads a cad_json file. Errors (kIo, kParse, kUnsupported) name the file and the JSON path.
// The model id is the file name without its extension.
Result<CadModel> read_cad_json(const std::string& path);

// Parses cad_json text; `name` is used in error messages and as the model id.
Result<CadModel> parse_cad_json(const std::string& text, const std::string& name);

// Serialises a model as compact cad_json (numbers with round-trip precision).
std::string to_cad_json(const CadModel& model);

// Writes to_cad_json(model) atomically.
Status write_cad_json(const CadModel& model, const std::string& path);

const char* operation_name(Operation op);     // "NewBodyFeatureOperation", ...
const char* extent_type_name(ExtentType type);  // "OneSideFeatureExtentType", ...

}  // namespace cadcrafter
