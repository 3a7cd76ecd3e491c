// Checking many models: the F360 manifest (the volume/area oracle) and DeepCAD's 8-bit
// round trip (model -> encode -> decode -> compile, compared with the original solid).
// Used by `cadcrafter check`, the oracle tests and bench_check.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cad/cad_model.h"
#include "cad/cad_vec.h"
#include "util/status.h"
#include "kernel/check.h"

namespace cadcrafter {

// One row of /work/shared/data/f360/manifest.csv; `path` is <manifest dir>/json/<id>.json.
struct ManifestEntry {
  std::string id, path, split;
  double expected_volume = std::numeric_limits<double>::quiet_NaN();
  double expected_area = std::numeric_limits<double>::quiet_NaN();
};

// Reads the manifest (columns by header name: id, split, expected_volume, expected_area),
// keeping only `split` unless it is empty. Errors name the file and line.
Result<std::vector<ManifestEntry>> read_manifest(const std::string& csv_path, const std::string& split = "");

// |value - expected| <= rel * |expected| (the oracle uses rel = 1%).
bool within_relative(double value, double expected, double rel = 0.01);

// Decodes a DeepCAD vector and checks the model; a vector that does not decode is invalid
// with reason "decode: ...".
CheckResult check_vec(const CadVec& vec, const CheckOptions& options = {});

// DeepCAD's global scale for a model: 0.75 / (largest absolute coordinate of its bbox).
double deepcad_scale(const CadModel& model);

struct RoundTripOptions {
  int n_points = 2000;     // surface points per solid for the Chamfer distance
  uint64_t seed = 0;
  CheckOptions check;      // for the decoded model
};

struct RoundTripResult {
  bool encoded = false;
  std::string encode_error;      // DeepCAD's rejection, when !encoded
  CheckResult decoded;           // the check of decode(encode(model))
  // Only when the decoded model is valid; both in DeepCAD's normalised frame:
  double volume_error = std::numeric_limits<double>::quiet_NaN();  // |V_dec - V_orig s^3| / (V_orig s^3)
  double chamfer = std::numeric_limits<double>::quiet_NaN();       // deepcad_chamfer(orig * s, decoded)
};

// `original` is the compiled input model (e.g. CheckResult::solid from keep_solid).
RoundTripResult check_roundtrip(const CadModel& model, const Solid& original, const RoundTripOptions& options = {});

}  // namespace cadcrafter
