#include "kernel/batch_check.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "geom/chamfer.h"
#include "geom/sampling.h"
#include "kernel/tessellate.h"

namespace cadcrafter {
namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  for (auto& f : fields)
    if (!f.empty() && f.back() == '\r') f.pop_back();
  return fields;
}

}  // namespace

Result<std::vector<ManifestEntry>> read_manifest(const std::string& csv_path, const std::string& split) {
  using R = Result<std::vector<ManifestEntry>>;
  std::ifstream in(csv_path);
  if (!in) return R::fail(ErrorCode::kIo, csv_path + ": cannot open manifest");
  std::string line;
  if (!std::getline(in, line)) return R::fail(ErrorCode::kParse, csv_path + ": empty manifest");
  const std::vector<std::string> header = split_csv_line(line);
  auto column = [&](const std::string& name) -> int {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int c_id = column("id"), c_split = column("split"), c_vol = column("expected_volume"), c_area = column("expected_area");
  if (c_id < 0) return R::fail(ErrorCode::kParse, csv_path + ": header has no 'id' column");
  if (!split.empty() && c_split < 0) return R::fail(ErrorCode::kParse, csv_path + ": header has no 'split' column");
  const std::string json_dir = (std::filesystem::path(csv_path).parent_path() / "json").string();
  std::vector<ManifestEntry> entries;
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty() || line == "\r") continue;
    const std::vector<std::string> f = split_csv_line(line);
    if (static_cast<int>(f.size()) != static_cast<int>(header.size()))
      return R::fail(ErrorCode::kParse, csv_path + ":" + std::to_string(line_no) + ": expected " + std::to_string(header.size()) +
                                            " fields, found " + std::to_string(f.size()));
    ManifestEntry e;
    e.id = f[c_id];
    if (c_split >= 0) e.split = f[c_split];
    if (!split.empty() && e.split != split) continue;
    try {
      if (c_vol >= 0 && !f[c_vol].empty()) e.expected_volume = std::stod(f[c_vol]);
      if (c_area >= 0 && !f[c_area].empty()) e.expected_area = std::stod(f[c_area]);
    } catch (const std::exception&) {
      return R::fail(ErrorCode::kParse, csv_path + ":" + std::to_string(line_no) + ": expected_volume/expected_area is not a number");
    }
    e.path = json_dir + "/" + e.id + ".json";
    entries.push_back(std::move(e));
  }
  return entries;
}

bool within_relative(double value, double expected, double rel) {
  return std::isfinite(value) && std::isfinite(expected) && std::abs(value - expected) <= rel * std::abs(expected);
}

CheckResult check_vec(const CadVec& vec, const CheckOptions& options) {
  auto model = decode(vec);
  if (!model) {
    CheckResult r;
    r.code = model.error().code;
    r.reason = "decode: " + model.error().message;
    return r;
  }
  return check_model(*model, options);
}

double deepcad_scale(const CadModel& model) {
  const BoundingBox& b = model.bbox;
  const double m = std::max({std::abs(b.min.x), std::abs(b.min.y), std::abs(b.min.z), std::abs(b.max.x), std::abs(b.max.y),
                             std::abs(b.max.z)});
  return m > 0 ? 0.75 / m : 1.0;
}

RoundTripResult check_roundtrip(const CadModel& model, const Solid& original, const RoundTripOptions& options) {
  RoundTripResult out;
  auto vec = encode(model);
  if (!vec) {
    out.encode_error = vec.error().message;
    return out;
  }
  out.encoded = true;
  CheckOptions check = options.check;
  check.keep_solid = true;
  out.decoded = check_vec(*vec, check);
  if (!out.decoded.valid || original.empty()) return out;

  const double s = deepcad_scale(model);
  const double reference_volume = shape_properties(original).volume * s * s * s;
  if (reference_volume > 0) out.volume_error = std::abs(out.decoded.volume - reference_volume) / reference_volume;

  PointCloud reference = sample_surface(tessellate(original), options.n_points, options.seed);
  for (Point3& p : reference)
    for (float& v : p) v = static_cast<float>(v * s);
  const PointCloud decoded = sample_surface(tessellate(out.decoded.solid), options.n_points, options.seed + 1);
  out.chamfer = deepcad_chamfer(reference, decoded);
  out.decoded.solid = Solid();  // do not keep meshes alive in batch results
  return out;
}

}  // namespace cadcrafter
