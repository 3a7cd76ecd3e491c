// The DeepCAD codec. Every float expression below is written in the order numpy evaluates it
// (cadlib/extrude.py, sketch.py, curves.py, math_utils.py): (x + 1.0) / 2 * n is not the same
// double as (x + 1.0) * 128 in every case, and the golden vectors depend on the difference.
// This file is compiled with -ffp-contract=off (see src/cad/CMakeLists.txt).
#include "cad/cad_vec.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "cad/deepcad_sketch.h"

namespace cadcrafter {
namespace {

constexpr double kPi = 3.141592653589793;  // np.pi
constexpr int kMaxQ = kArgsDim - 1;

// ---------------------------------------------------------------- numpy helpers -----------

double round6(double x) { return deepcad::round6(x); }

Vec3 add(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
Vec3 scaled(Vec3 a, double s) { return {a.x * s, a.y * s, a.z * s}; }
double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }

// cartesian2polar: (theta, phi) of a direction after rounding it to 6 decimals.
// phi uses arctan(y / (x + 1e-15)), not atan2, exactly as DeepCAD does.
void cartesian_to_polar(Vec3 v, double& theta, double& phi) {
  v = {round6(v.x), round6(v.y), round6(v.z)};
  const double norm = std::sqrt(dot(v, v));
  theta = std::acos(v.z / norm);
  phi = std::atan(v.y / (v.x + 1e-15));
}

// polar2cartesian with r = 1.
Vec3 polar_to_cartesian(double theta, double phi) {
  return {std::sin(theta) * std::cos(phi), std::sin(theta) * std::sin(phi), std::cos(theta)};
}

// Rz(phi) * Ry(theta) * (1, 0, 0).
Vec3 reference_x(double theta, double phi) {
  const double ct = std::cos(theta), st = std::sin(theta);
  return {std::cos(phi) * ct, std::sin(phi) * ct, -st};
}

// polar_parameterization: the sketch frame as (theta, phi, gamma).
void plane_to_angles(Vec3 normal, Vec3 x_axis, double& theta, double& phi, double& gamma) {
  cartesian_to_polar(normal, theta, phi);
  const Vec3 ref_x = reference_x(theta, phi);
  gamma = std::acos(round6(dot(x_axis, ref_x)));
  if (dot(cross(ref_x, x_axis), normal) < 0) gamma = -gamma;
}

// polar_parameterization_inverse: normal and x axis from (theta, phi, gamma).
void angles_to_plane(double theta, double phi, double gamma, Vec3& normal, Vec3& x_axis) {
  normal = polar_to_cartesian(theta, phi);
  const Vec3 ref_x = reference_x(theta, phi);
  const Vec3 ref_y = cross(normal, ref_x);
  x_axis = add(scaled(ref_x, std::cos(gamma)), scaled(ref_y, std::sin(gamma)));
}

// ndarray.round().clip(lo, 255).astype(int); callers check finiteness first.
int quantize(double v, int lo = 0) {
  const double r = std::nearbyint(v);
  return static_cast<int>(std::min<double>(std::max<double>(r, lo), kMaxQ));
}
int quantize_unit(double v) { return quantize((v + 1.0) / 2 * kArgsDim); }         // positions, extents
int quantize_angle(double a) { return quantize((a / kPi + 1.0) / 2 * kArgsDim); }  // theta, phi, gamma
int quantize_size(double s) { return quantize(s / 2 * kArgsDim); }                 // sketch_size
int quantize_arc_angle(double a) { return quantize(a / (2 * kPi) * kArgsDim); }

double dequantize_unit(int q) { return static_cast<double>(q) / kArgsDim * 2 - 1.0; }
double dequantize_angle(int q) { return (static_cast<double>(q) / kArgsDim * 2 - 1.0) * kPi; }
double dequantize_size(int q) { return static_cast<double>(q) / kArgsDim * 2; }

// The sketch is scaled so that its largest offset from the start point maps to 95 units
// around the centre 128: 256 / 2 * NORM_FACTOR - 1.
constexpr double kSketchHalfSize = kArgsDim / 2 * kNormFactor - 1;  // 95
constexpr double kSketchCenter = kArgsDim / 2;                      // 128

CadVecRow filled_row(int cmd) {
  CadVecRow row;
  row.fill(kPadValue);
  row[kColCmd] = cmd;
  return row;
}

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

Result<CadVec> reject(const std::string& msg) { return Result<CadVec>::fail(ErrorCode::kRejected, msg); }
Result<CadVec> invalid(const std::string& msg) { return Result<CadVec>::fail(ErrorCode::kInvalidArgument, msg); }

// ---------------------------------------------------------------- encoder -----------------

// One extrude after normalize() and numericalize(): quantised curves and Ext arguments.
struct QuantisedExtrude {
  std::vector<std::vector<CadVecRow>> loops;  // curve rows per loop (no SOL)
  CadVecRow ext = filled_row(kCmdExt);
};

bool finite(Vec2 v) { return std::isfinite(v.x) && std::isfinite(v.y); }

// Sketch normalisation (Profile.normalize) followed by the curve quantisation, for one curve.
// transform(t, s) is (p + t) * s; DeepCAD applies (-start, 95/size) and then (128, 1).
CadVecRow quantise_curve(const Curve& c, Vec2 start, double scale, bool& ok) {
  auto normalised = [&](Vec2 p) {
    const Vec2 q{(p.x + -start.x) * scale, (p.y + -start.y) * scale};
    return Vec2{(q.x + kSketchCenter) * 1, (q.y + kSketchCenter) * 1};
  };
  auto q2 = [&](Vec2 p, int& x, int& y) {
    const Vec2 n = normalised(p);
    ok = ok && finite(n);
    x = ok ? quantize(n.x) : 0;
    y = ok ? quantize(n.y) : 0;
  };
  switch (c.type) {
    case CurveType::kLine: {
      CadVecRow row = filled_row(kCmdLine);
      q2(c.end, row[kColX], row[kColY]);
      return row;
    }
    case CurveType::kArc: {
      CadVecRow row = filled_row(kCmdArc);
      int sx, sy, mx, my;
      q2(c.start, sx, sy);
      q2(c.mid, mx, my);
      q2(c.end, row[kColX], row[kColY]);
      ok = ok && std::isfinite(c.start_angle) && std::isfinite(c.end_angle);
      if (!ok) return row;
      const int qs = quantize_arc_angle(c.start_angle), qe = quantize_arc_angle(c.end_angle);
      row[kColAlpha] = std::max(std::abs(qs - qe), 1);
      // clock_sign: cross(mid - start, end - start) >= 0 on the quantised points.
      const long s2e_x = row[kColX] - sx, s2e_y = row[kColY] - sy, s2m_x = mx - sx, s2m_y = my - sy;
      row[kColFlag] = (s2m_x * s2e_y - s2m_y * s2e_x) >= 0 ? 1 : 0;
      return row;
    }
    case CurveType::kCircle: {
      CadVecRow row = filled_row(kCmdCircle);
      q2(c.center, row[kColX], row[kColY]);
      const double r = (c.radius * scale) * 1;
      ok = ok && std::isfinite(r);
      row[kColRadius] = ok ? quantize(r, 1) : 1;
      return row;
    }
  }
  return filled_row(kCmdLine);
}

}  // namespace

// ---------------------------------------------------------------- tables ------------------

const char* command_name(int cmd) {
  static const char* const names[] = {"Line", "Arc", "Circle", "EOS", "SOL", "Ext"};
  return cmd >= 0 && cmd < kNumCommands ? names[cmd] : "?";
}

const char* column_name(int col) {
  static const char* const names[] = {"cmd", "x",  "y",  "alpha", "f",  "r",  "theta", "phi", "gamma",
                                      "px",  "py", "pz", "s",     "e1", "e2", "b",     "u"};
  return col >= 0 && col < kVecColumns ? names[col] : "?";
}

const std::array<std::array<bool, kVecColumns - 1>, kNumCommands>& command_args_mask() {
  static const std::array<std::array<bool, kVecColumns - 1>, kNumCommands> mask = {{
      {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},  // Line: x, y
      {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},  // Arc: x, y, alpha, f
      {1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},  // Circle: x, y, r
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},  // EOS
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},  // SOL
      {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // Ext: theta .. u
  }};
  return mask;
}

bool command_uses_column(int cmd, int col) {
  if (cmd < 0 || cmd >= kNumCommands || col < 1 || col >= kVecColumns) return false;
  return command_args_mask()[cmd][col - 1];
}

CadVecRow eos_row() { return filled_row(kCmdEos); }
CadVecRow sol_row() { return filled_row(kCmdSol); }

CadVec pad_vec(const CadVec& vec, int length) {
  CadVec out = vec;
  while (static_cast<int>(out.size()) < length) out.push_back(eos_row());
  return out;
}

CadVec trim_vec(const CadVec& vec) {
  CadVec out;
  for (const auto& row : vec) {
    out.push_back(row);
    if (row[kColCmd] == kCmdEos) break;
  }
  return out;
}

Result<CadVec> encode(const CadModel& model) {
  // CADSequence.normalize(): one global scale, no translation.
  const BoundingBox& bb = model.bbox;
  double max_abs = 0;
  for (double v : {bb.max.x, bb.max.y, bb.max.z, bb.min.x, bb.min.y, bb.min.z}) max_abs = std::max(max_abs, std::fabs(v));
  if (!(max_abs > 0) || !std::isfinite(max_abs))
    return invalid(model.id + ": bounding box is empty or not finite, DeepCAD cannot normalise it");
  const double scale = 1.0 * kNormFactor / max_abs;

  std::vector<QuantisedExtrude> quantised;
  quantised.reserve(model.extrudes.size());
  for (size_t i = 0; i < model.extrudes.size(); ++i) {
    const Extrude& ext = model.extrudes[i];
    const std::string where = model.id + ": extrude " + std::to_string(i);
    if (ext.profile.loops.empty()) return invalid(where + " has no loops");
    for (const auto& loop : ext.profile.loops)
      if (loop.curves.empty()) return invalid(where + " has an empty loop");

    // Extrude.from_dict: plane angles, DeepCAD's rebuilt axes, sketch position and size.
    double theta, phi, gamma, y_theta, y_phi;
    plane_to_angles(ext.plane.normal, ext.plane.x_axis, theta, phi, gamma);
    cartesian_to_polar(ext.plane.y_axis, y_theta, y_phi);
    Vec3 normal, x_axis;
    angles_to_plane(theta, phi, gamma, normal, x_axis);
    const Vec3 y_axis = polar_to_cartesian(y_theta, y_phi);
    const Vec2 p0 = deepcad::start_point(ext.profile.loops[0].curves[0]);
    Vec3 sketch_pos = add(add(scaled(x_axis, p0.x), scaled(y_axis, p0.y)), ext.plane.origin);
    double sketch_size = deepcad::profile_bbox_size(ext.profile);
    const double sketch_scale = kSketchHalfSize / sketch_size;

    // Extrude.transform(0, scale).
    const double e1 = ext.extent_one * scale, e2 = ext.extent_two * scale;
    sketch_pos = scaled(add(sketch_pos, Vec3{0.0, 0.0, 0.0}), scale);
    sketch_size *= scale;

    // Extrude.numericalize() asserts the extents first.
    if (!(-2.0 <= e1 && e1 <= 2.0 && -2.0 <= e2 && e2 <= 2.0))
      return reject("exception AssertionError in numericalize (extrude " + std::to_string(i) + ": extent_one=" + fmt(e1) +
                    ", extent_two=" + fmt(e2) + " after normalize; both must lie in [-2, 2])");

    QuantisedExtrude q;
    bool ok = std::isfinite(sketch_scale);
    for (const auto& loop : ext.profile.loops) {
      std::vector<CadVecRow> rows;
      for (const auto& c : loop.curves) rows.push_back(quantise_curve(c, p0, sketch_scale, ok));
      q.loops.push_back(std::move(rows));
    }
    for (double v : {theta, phi, gamma, sketch_pos.x, sketch_pos.y, sketch_pos.z, sketch_size}) ok = ok && std::isfinite(v);
    if (!ok) return invalid(where + ": non-finite value while normalising (zero-size sketch or non-unit plane axes)");

    CadVecRow& row = q.ext;
    row[kColTheta] = quantize_angle(theta);
    row[kColPhi] = quantize_angle(phi);
    row[kColGamma] = quantize_angle(gamma);
    row[kColPx] = quantize_unit(sketch_pos.x);
    row[kColPy] = quantize_unit(sketch_pos.y);
    row[kColPz] = quantize_unit(sketch_pos.z);
    row[kColSize] = quantize_size(sketch_size);
    row[kColE1] = quantize_unit(e1);
    row[kColE2] = quantize_unit(e2);
    row[kColOperation] = static_cast<int>(ext.operation);
    row[kColExtentType] = static_cast<int>(ext.extent_type);
    quantised.push_back(std::move(q));
  }

  // CADSequence.to_vector(MAX_N_EXT, MAX_N_LOOPS, MAX_N_CURVES, MAX_TOTAL_LEN).
  if (quantised.size() > static_cast<size_t>(kMaxExtrudes))
    return reject("MAX_N_EXT: to_vector returned None (" + std::to_string(quantised.size()) + " extrudes > " +
                  std::to_string(kMaxExtrudes) + ")");
  CadVec vec;
  for (size_t i = 0; i < quantised.size(); ++i) {
    const auto& q = quantised[i];
    if (q.loops.size() > static_cast<size_t>(kMaxLoops))
      return reject("MAX_N_LOOPS: to_vector returned None (extrude " + std::to_string(i) + " has " +
                    std::to_string(q.loops.size()) + " loops > " + std::to_string(kMaxLoops) + ")");
    for (size_t k = 0; k < q.loops.size(); ++k) {
      if (q.loops[k].size() + 1 > static_cast<size_t>(kMaxLoopRows))
        return reject("MAX_N_CURVES: to_vector returned None (extrude " + std::to_string(i) + " loop " + std::to_string(k) +
                      " has " + std::to_string(q.loops[k].size()) + " curves; SOL+curves = " +
                      std::to_string(q.loops[k].size() + 1) + " rows > " + std::to_string(kMaxLoopRows) + ")");
    }
    for (const auto& loop : q.loops) {
      vec.push_back(sol_row());
      vec.insert(vec.end(), loop.begin(), loop.end());
    }
    vec.push_back(q.ext);
  }
  if (vec.empty()) return reject("exception ValueError in to_vector: need at least one array to concatenate (no extrude)");
  vec.push_back(eos_row());
  if (vec.size() > static_cast<size_t>(kMaxTotalLen))
    return reject("MAX_TOTAL_LEN: vector has " + std::to_string(vec.size()) + " rows > " + std::to_string(kMaxTotalLen));
  return vec;
}

// ---------------------------------------------------------------- decoder -----------------

namespace {

struct DecodeError {
  std::string message;
};

std::string row_label(size_t r, const CadVecRow& row) {
  return "row " + std::to_string(r) + " (" + command_name(row[kColCmd]) + ")";
}

// Checks that the columns a command uses hold values it can decode. Returns "" when fine.
std::string check_row_args(size_t r, const CadVecRow& row) {
  const int cmd = row[kColCmd];
  if (cmd < 0 || cmd >= kNumCommands) return "row " + std::to_string(r) + ": unknown command " + std::to_string(cmd);
  for (int col = 1; col < kVecColumns; ++col) {
    if (!command_uses_column(cmd, col)) continue;
    const int v = row[col];
    int lo = 0, hi = kMaxQ;
    if (cmd == kCmdArc && col == kColAlpha) lo = 1;
    if (cmd == kCmdArc && col == kColFlag) hi = 1;
    if (cmd == kCmdCircle && col == kColRadius) lo = 1;
    if (cmd == kCmdExt && col == kColOperation) hi = 3;
    if (cmd == kCmdExt && col == kColExtentType) hi = 2;
    if (v < lo || v > hi) {
      std::string why = std::string(column_name(col)) + "=" + std::to_string(v) + " outside [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "]";
      if (cmd == kCmdArc && col == kColAlpha && v == 0) why = "alpha=0 (a zero sweep has no radius)";
      if (cmd == kCmdCircle && col == kColRadius && v == 0) why = "r=0 (zero-radius circle)";
      return row_label(r, row) + ": " + why;
    }
  }
  return "";
}

Vec2 row_point(const CadVecRow& row) { return {static_cast<double>(row[kColX]), static_cast<double>(row[kColY])}; }

// Curve.from_vector in the quantised sketch frame (construct_curve_from_vector).
Curve curve_from_row(const CadVecRow& row, Vec2 start, int row_index) {
  Curve c;
  c.vec_row = row_index;
  const Vec2 end = row_point(row);
  if (row[kColCmd] == kCmdCircle) {
    c.type = CurveType::kCircle;
    c.center = end;
    c.radius = row[kColRadius];
    return c;
  }
  c.start = start;
  c.end = end;
  c.type = CurveType::kLine;
  if (row[kColCmd] == kCmdLine) return c;

  // Arc.from_vector: centre from the chord, the sweep and the side flag.
  const Vec2 s2e{end.x - start.x, end.y - start.y};
  const double chord = std::sqrt(s2e.x * s2e.x + s2e.y * s2e.y);
  if (chord == 0) return c;  // DeepCAD draws an arc whose ends coincide as a (zero) line
  const int clock_sign = row[kColFlag];
  const double sweep = static_cast<double>(row[kColAlpha]) / 256 * 2 * kPi;
  const double radius = (chord / 2) / std::sin(sweep / 2);
  const Vec2 chord_mid{(start.x + end.x) / 2, (start.y + end.y) / 2};
  Vec2 vertical{s2e.y, -s2e.x};
  const double vn = std::sqrt(vertical.x * vertical.x + vertical.y * vertical.y);
  vertical = {vertical.x / vn, vertical.y / vn};
  if (clock_sign == 0) vertical = {-vertical.x, -vertical.y};
  const double offset = radius * std::cos(sweep / 2);
  const Vec2 center{chord_mid.x - vertical.x * offset, chord_mid.y - vertical.y * offset};
  Vec2 ref = clock_sign == 0 ? Vec2{end.x - center.x, end.y - center.y} : Vec2{start.x - center.x, start.y - center.y};
  const double rn = std::sqrt(ref.x * ref.x + ref.y * ref.y);
  ref = {ref.x / rn, ref.y / rn};

  c.type = CurveType::kArc;
  c.center = center;
  c.radius = radius;
  c.start_angle = 0;
  c.end_angle = sweep;
  c.ref_vec = ref;
  c.mid = deepcad::arc_mid_point(c);
  return c;
}

// Profile.denormalize(sketch_size): transform(-(128, 128), sketch_size / 95).
void denormalise(Profile& profile, double sketch_size) {
  const double scale = sketch_size / kSketchHalfSize;
  auto tf = [&](Vec2& p) { p = {(p.x + -kSketchCenter) * scale, (p.y + -kSketchCenter) * scale}; };
  for (auto& loop : profile.loops) {
    for (auto& c : loop.curves) {
      switch (c.type) {
        case CurveType::kLine:
          tf(c.start);
          tf(c.end);
          break;
        case CurveType::kArc:
          tf(c.start);
          tf(c.mid);
          tf(c.end);
          tf(c.center);
          c.radius = std::fabs(c.radius * scale);
          break;
        case CurveType::kCircle:
          tf(c.center);
          c.radius = c.radius * scale;
          break;
      }
    }
  }
}

// Extrude.from_vector for rows [first, ext] (ext is the Ext row), then the builder's numpy part.
Extrude decode_extrude(const CadVec& vec, size_t first, size_t ext_row) {
  if (first == ext_row) throw DecodeError{row_label(ext_row, vec[ext_row]) + ": Ext without a sketch (no SOL before it)"};
  if (vec[first][kColCmd] != kCmdSol)
    throw DecodeError{row_label(first, vec[first]) + ": sketch does not start with SOL (curves before SOL)"};

  Extrude ext;
  // Split at SOL rows; loops without curves are dropped, as Profile.from_vector does.
  size_t r = first;
  while (r < ext_row) {
    size_t end = r + 1;
    while (end < ext_row && vec[end][kColCmd] != kCmdSol) ++end;
    if (end > r + 1) {
      // Loop.from_vector: the first curve starts at the loop's last row's (x, y).
      Vec2 start = row_point(vec[end - 1]);
      Loop loop;
      for (size_t k = r + 1; k < end; ++k) {
        loop.curves.push_back(curve_from_row(vec[k], start, static_cast<int>(k)));
        start = row_point(vec[k]);
      }
      deepcad::reorder_loop(loop);
      ext.profile.loops.push_back(std::move(loop));
    }
    r = end;
  }
  if (ext.profile.loops.empty())
    throw DecodeError{row_label(ext_row, vec[ext_row]) + ": its sketch has SOL rows but no curves"};
  deepcad::reorder_profile(ext.profile);

  const CadVecRow& e = vec[ext_row];
  const double theta = dequantize_angle(e[kColTheta]), phi = dequantize_angle(e[kColPhi]),
               gamma = dequantize_angle(e[kColGamma]);
  ext.sketch_pos = {dequantize_unit(e[kColPx]), dequantize_unit(e[kColPy]), dequantize_unit(e[kColPz])};
  ext.sketch_size = dequantize_size(e[kColSize]);
  ext.extent_one = dequantize_unit(e[kColE1]);
  ext.extent_two = dequantize_unit(e[kColE2]);
  ext.operation = static_cast<Operation>(e[kColOperation]);
  ext.extent_type = static_cast<ExtentType>(e[kColExtentType]);

  angles_to_plane(theta, phi, gamma, ext.plane.normal, ext.plane.x_axis);
  ext.plane.y_axis = cross(ext.plane.normal, ext.plane.x_axis);
  ext.plane.origin = ext.sketch_pos;
  denormalise(ext.profile, ext.sketch_size);
  return ext;
}

}  // namespace

Result<CadModel> decode(const CadVec& vec) {
  try {
    CadModel model;
    size_t first = 0;
    bool saw_eos = false;
    for (size_t r = 0; r < vec.size() && !saw_eos; ++r) {
      const std::string problem = check_row_args(r, vec[r]);
      if (!problem.empty()) throw DecodeError{problem};
      switch (vec[r][kColCmd]) {
        case kCmdEos:
          saw_eos = true;
          break;
        case kCmdExt:
          model.extrudes.push_back(decode_extrude(vec, first, r));
          first = r + 1;
          break;
        default:
          break;
      }
    }
    if (model.extrudes.empty())
      throw DecodeError{vec.empty() ? std::string("empty vector") : std::string("no Ext row before the end of the sequence")};
    model.bbox.min = {-kNormFactor, -kNormFactor, -kNormFactor};
    model.bbox.max = {kNormFactor, kNormFactor, kNormFactor};
    return model;
  } catch (const DecodeError& e) {
    return Result<CadModel>::fail(ErrorCode::kInvalidArgument, "cad_vec " + e.message);
  }
}

Status validate_vec(const CadVec& vec) {
  std::vector<std::string> problems;
  auto add_problem = [&](std::string p) {
    if (problems.size() < 20) problems.push_back(std::move(p));
  };
  if (vec.empty()) add_problem("empty vector");
  bool in_sketch = false, loop_has_curve = false, sketch_has_curve = false, ended = false;
  int n_ext = 0, n_loops = 0, loop_rows = 0;
  size_t eos_row_index = vec.size();
  for (size_t r = 0; r < vec.size(); ++r) {
    const CadVecRow& row = vec[r];
    const int cmd = row[kColCmd];
    if (ended) {
      if (cmd != kCmdEos) add_problem(row_label(r, row) + ": only EOS padding may follow the first EOS");
      continue;
    }
    const std::string args = check_row_args(r, row);
    if (!args.empty()) {
      add_problem(args);
      if (cmd < 0 || cmd >= kNumCommands) continue;
    }
    for (int col = 1; col < kVecColumns; ++col)
      if (!command_uses_column(cmd, col) && row[col] != kPadValue)
        add_problem(row_label(r, row) + ": unused column " + column_name(col) + " should be -1, is " + std::to_string(row[col]));
    switch (cmd) {
      case kCmdSol:
        if (in_sketch && !loop_has_curve) add_problem(row_label(r, row) + ": previous loop has no curves");
        if (!in_sketch) n_loops = 0;
        in_sketch = true;
        loop_has_curve = false;
        ++n_loops;
        loop_rows = 1;
        break;
      case kCmdLine:
      case kCmdArc:
      case kCmdCircle:
        if (!in_sketch) add_problem(row_label(r, row) + ": curve before SOL");
        loop_has_curve = sketch_has_curve = true;
        if (++loop_rows == kMaxLoopRows + 1)
          add_problem(row_label(r, row) + ": loop longer than " + std::to_string(kMaxLoopRows) + " rows (MAX_N_CURVES)");
        break;
      case kCmdExt:
        if (!sketch_has_curve) add_problem(row_label(r, row) + ": Ext without a sketch");
        else if (!loop_has_curve) add_problem(row_label(r, row) + ": last loop has no curves");
        if (n_loops > kMaxLoops) add_problem(row_label(r, row) + ": " + std::to_string(n_loops) + " loops > " + std::to_string(kMaxLoops) + " (MAX_N_LOOPS)");
        if (++n_ext == kMaxExtrudes + 1) add_problem(row_label(r, row) + ": more than " + std::to_string(kMaxExtrudes) + " extrudes (MAX_N_EXT)");
        in_sketch = loop_has_curve = sketch_has_curve = false;
        n_loops = 0;
        break;
      case kCmdEos:
        if (in_sketch) add_problem(row_label(r, row) + ": sketch rows before EOS are not extruded");
        if (n_ext == 0) add_problem(row_label(r, row) + ": no Ext before EOS");
        ended = true;
        eos_row_index = r;
        break;
    }
  }
  if (!vec.empty() && !ended) add_problem("no EOS row at the end");
  if (ended && eos_row_index + 1 > static_cast<size_t>(kMaxTotalLen))
    add_problem("sequence has " + std::to_string(eos_row_index + 1) + " rows > " + std::to_string(kMaxTotalLen) + " (MAX_TOTAL_LEN)");
  if (problems.empty()) return Status();
  std::string msg = "cad_vec: " + problems[0];
  for (size_t i = 1; i < problems.size(); ++i) msg += "; " + problems[i];
  return Status::fail(ErrorCode::kInvalidArgument, msg);
}

}  // namespace cadcrafter
