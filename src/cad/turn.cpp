#include "cad/turn.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "cad/deepcad_sketch.h"

namespace cadcrafter {
namespace {

int mod4(int k) { return ((k % 4) + 4) % 4; }

// (x, y) -> (-y, x), k times: only swaps and negations, so exact.
Vec3 turn(Vec3 p, int k) {
  switch (k) {
    case 1: return {-p.y, p.x, p.z};
    case 2: return {-p.x, -p.y, p.z};
    case 3: return {p.y, -p.x, p.z};
    default: return p;
  }
}

Vec3 neg(Vec3 a) { return {-a.x, -a.y, -a.z}; }
Vec3 add(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
Vec3 scaled(Vec3 a, double s) { return {a.x * s, a.y * s, a.z * s}; }
double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }

// The four reflections of the square grid, as maps of sketch coordinates together with the
// plane axes that keep every global point where it was (origin + u x + v y unchanged).
struct Reflection {
  Vec2 (*map)(Vec2);
  Vec3 (*x_axis)(const SketchPlane&);
  Vec3 (*y_axis)(const SketchPlane&);
};
const std::array<Reflection, 4>& reflections() {
  static const std::array<Reflection, 4> r = {{
      {[](Vec2 p) { return Vec2{p.x, -p.y}; }, [](const SketchPlane& s) { return s.x_axis; },
       [](const SketchPlane& s) { return neg(s.y_axis); }},
      {[](Vec2 p) { return Vec2{p.y, p.x}; }, [](const SketchPlane& s) { return s.y_axis; },
       [](const SketchPlane& s) { return s.x_axis; }},
      {[](Vec2 p) { return Vec2{-p.y, -p.x}; }, [](const SketchPlane& s) { return neg(s.y_axis); },
       [](const SketchPlane& s) { return neg(s.x_axis); }},
      {[](Vec2 p) { return Vec2{-p.x, p.y}; }, [](const SketchPlane& s) { return neg(s.x_axis); },
       [](const SketchPlane& s) { return s.y_axis; }},
  }};
  return r;
}

Vec2 rotated(Vec2 v, double a) {
  const double c = std::cos(a), s = std::sin(a);
  return {c * v.x - s * v.y, s * v.x + c * v.y};
}

// The profile mirrored by `f`, in DeepCAD's order again. A mirrored arc covers the same points
// when its reference vector is the mirrored one turned back by the whole span (a reflection
// conjugates a rotation by t into one by -t).
Profile reflect(const Profile& profile, const Reflection& f) {
  Profile out = profile;
  for (auto& loop : out.loops) {
    for (auto& c : loop.curves) {
      c.start = f.map(c.start);
      c.end = f.map(c.end);
      c.mid = f.map(c.mid);
      c.center = f.map(c.center);
      if (c.type == CurveType::kArc) c.ref_vec = rotated(f.map(c.ref_vec), -(c.start_angle + c.end_angle));
    }
    deepcad::reorder_loop(loop);
  }
  deepcad::reorder_profile(out);
  return out;
}

void translate(Profile& profile, Vec2 d) {
  auto tf = [&](Vec2& p) { p = {p.x + d.x, p.y + d.y}; };
  for (auto& loop : profile.loops)
    for (auto& c : loop.curves) {
      tf(c.start);
      tf(c.end);
      tf(c.mid);
      tf(c.center);
    }
}

Vec2 start_of(const Extrude& ext) { return deepcad::start_point(ext.profile.loops.at(0).curves.at(0)); }

// Moves the plane origin to the sketch's start point (the profile follows), where decode puts
// it: the encoder's sketch_pos is then the plane origin, whatever DeepCAD makes of the y axis.
void start_at_local_origin(Extrude& ext) {
  const Vec2 s = start_of(ext);
  if (s.x == 0 && s.y == 0) return;
  translate(ext.profile, {-s.x, -s.y});
  ext.plane.origin = add(ext.plane.origin, add(scaled(ext.plane.x_axis, s.x), scaled(ext.plane.y_axis, s.y)));
}

// Normal negated, profile mirrored: the same prism, with round6(normal.x) > 0. Returns whether
// DeepCAD's start point stayed the same point (else the profile now starts at the local origin).
bool flip_plane(Extrude& ext) {
  const Vec2 p0 = deepcad::start_point(ext.profile.loops.at(0).curves.at(0));
  const double tol = 1e-12 * (1.0 + std::fabs(p0.x) + std::fabs(p0.y));
  const Reflection* chosen = nullptr;
  Profile profile;
  bool keeps_start = false;
  for (const Reflection& f : reflections()) {
    Profile candidate = reflect(ext.profile, f);
    const Vec2 want = f.map(p0);
    const Vec2 got = deepcad::start_point(candidate.loops.at(0).curves.at(0));
    keeps_start = std::fabs(got.x - want.x) <= tol && std::fabs(got.y - want.y) <= tol;
    if (keeps_start || chosen == nullptr) {
      chosen = &f;
      profile = std::move(candidate);
    }
    if (keeps_start) break;
  }
  SketchPlane plane;
  plane.x_axis = chosen->x_axis(ext.plane);
  plane.y_axis = chosen->y_axis(ext.plane);
  plane.normal = neg(ext.plane.normal);
  plane.origin = ext.plane.origin;
  ext.plane = plane;
  ext.profile = std::move(profile);
  if (!keeps_start) start_at_local_origin(ext);
  switch (ext.extent_type) {
    case ExtentType::kOneSide: ext.extent_one = -ext.extent_one; break;
    case ExtentType::kSymmetric: break;
    case ExtentType::kTwoSides: std::swap(ext.extent_one, ext.extent_two); break;
  }
  const Vec2 s = start_of(ext);
  ext.sketch_pos = add(ext.plane.origin, add(scaled(ext.plane.x_axis, s.x), scaled(ext.plane.y_axis, s.y)));
  return keeps_start;
}

// DeepCAD's reference x axis for a normal: Rz(phi) Ry(theta) (1, 0, 0) with theta and phi as
// its encoder computes them (normal rounded to 6 decimals, phi by arctan).
Vec3 deepcad_reference_x(Vec3 n) {
  n = {deepcad::round6(n.x), deepcad::round6(n.y), deepcad::round6(n.z)};
  const double theta = std::acos(n.z / std::sqrt(dot(n, n)));
  const double phi = std::atan(n.y / (n.x + 1e-15));
  return {std::cos(phi) * std::cos(theta), std::sin(phi) * std::cos(theta), -std::sin(theta)};
}

// When gamma = arccos(round6(x . ref_x)) is pi, its sign comes from a rounding error; make it
// -pi (quantised to 0, exact) rather than +pi (256, clipped to 255).
void settle_gamma(Extrude& ext) {
  const Vec3 n = ext.plane.normal, x = ext.plane.x_axis;
  const Vec3 ref = deepcad_reference_x(n);
  if (!(deepcad::round6(dot(x, ref)) <= -1.0)) return;
  if (dot(cross(ref, x), n) < 0) return;
  const double eps = 1e-8;
  ext.plane.x_axis = add(scaled(ref, -std::cos(eps)), scaled(cross(n, ref), -std::sin(eps)));
}

}  // namespace

CadModel turn_about_z(const CadModel& model, int quarter_turns) {
  const int k = mod4(quarter_turns);
  CadModel out = model;
  if (k == 0) return out;
  for (auto& ext : out.extrudes) {
    SketchPlane& p = ext.plane;
    p.origin = turn(p.origin, k);
    p.x_axis = turn(p.x_axis, k);
    p.y_axis = turn(p.y_axis, k);
    p.normal = turn(p.normal, k);
    ext.sketch_pos = turn(ext.sketch_pos, k);
  }
  const Vec3 a = turn(model.bbox.min, k), b = turn(model.bbox.max, k);
  out.bbox.min = {std::min(a.x, b.x), std::min(a.y, b.y), std::min(a.z, b.z)};
  out.bbox.max = {std::max(a.x, b.x), std::max(a.y, b.y), std::max(a.z, b.z)};
  return out;
}

CadModel centred_on(const CadModel& model, const BoundingBox& box) {
  const Vec3 c{0.5 * (box.min.x + box.max.x), 0.5 * (box.min.y + box.max.y), 0.5 * (box.min.z + box.max.z)};
  const Vec3 minus_c{-c.x, -c.y, -c.z};
  CadModel out = model;
  for (auto& ext : out.extrudes) {
    ext.plane.origin = add(ext.plane.origin, minus_c);
    ext.sketch_pos = add(ext.sketch_pos, minus_c);
  }
  out.bbox.min = add(box.min, minus_c);
  out.bbox.max = add(box.max, minus_c);
  return out;
}

double largest_half_extent(const BoundingBox& box) {
  return 0.5 * std::max({box.max.x - box.min.x, box.max.y - box.min.y, box.max.z - box.min.z});
}

CadModel clip_extents_to_box(const CadModel& model, const BoundingBox& box) {
  const double margin = 0.05 * largest_half_extent(box);
  CadModel out = model;
  for (auto& ext : out.extrudes) {
    if (ext.operation != Operation::kCut && ext.operation != Operation::kIntersect) continue;
    // The box's extent along the normal, measured from the sketch plane: [lo, hi].
    double lo = 0, hi = 0;
    bool first = true;
    for (int corner = 0; corner < 8; ++corner) {
      const Vec3 p{corner & 1 ? box.max.x : box.min.x, corner & 2 ? box.max.y : box.min.y, corner & 4 ? box.max.z : box.min.z};
      const double d = dot(add(p, scaled(ext.plane.origin, -1.0)), ext.plane.normal);
      lo = first ? d : std::min(lo, d);
      hi = first ? d : std::max(hi, d);
      first = false;
    }
    const double reach_plus = std::max(hi, 0.0) + margin, reach_minus = std::max(-lo, 0.0) + margin;
    switch (ext.extent_type) {
      case ExtentType::kOneSide:
        if (ext.extent_one > reach_plus) ext.extent_one = reach_plus;
        if (ext.extent_one < -reach_minus) ext.extent_one = -reach_minus;
        break;
      case ExtentType::kSymmetric:
        ext.extent_one = std::min(ext.extent_one, std::max(reach_plus, reach_minus));
        break;
      case ExtentType::kTwoSides:
        ext.extent_one = std::min(ext.extent_one, reach_plus);
        ext.extent_two = std::min(ext.extent_two, reach_minus);
        break;
    }
  }
  return out;
}

CadModel with_representable_extents(const CadModel& model, double limit) {
  CadModel out = model;
  for (auto& ext : out.extrudes) {
    double lo = 0, hi = 0;  // the prism's span along the normal, from the sketch plane
    if (ext.extent_type == ExtentType::kOneSide) {
      lo = std::min(0.0, ext.extent_one);
      hi = std::max(0.0, ext.extent_one);
    } else if (ext.extent_type == ExtentType::kTwoSides) {
      lo = std::min(-ext.extent_two, ext.extent_one);
      hi = std::max(-ext.extent_two, ext.extent_one);
    } else {
      continue;  // Symmetric: each side is half the length already
    }
    if (hi - lo <= limit) continue;
    const double middle = 0.5 * (lo + hi);
    ext.plane.origin = add(ext.plane.origin, scaled(ext.plane.normal, middle));
    ext.sketch_pos = add(ext.sketch_pos, scaled(ext.plane.normal, middle));
    ext.extent_type = ExtentType::kSymmetric;
    ext.extent_one = 0.5 * (hi - lo);
    ext.extent_two = 0.0;
  }
  return out;
}

namespace {

// with_encodable_planes, telling which extrudes were flipped.
CadModel encodable_planes(const CadModel& model, std::vector<bool>* flipped) {
  CadModel out = model;
  flipped->assign(out.extrudes.size(), false);
  for (size_t i = 0; i < out.extrudes.size(); ++i) {
    Extrude& ext = out.extrudes[i];
    if (ext.profile.loops.empty() || ext.profile.loops[0].curves.empty()) continue;  // encode reports it
    if (deepcad::round6(ext.plane.normal.x) < 0) {
      flip_plane(ext);
      (*flipped)[i] = true;
    }
    // DeepCAD rebuilds the y axis from its own arctan angles, reversed when round6(y.x) < 0;
    // the encoder adds it to the plane origin scaled by the start point's v coordinate.
    if (deepcad::round6(ext.plane.y_axis.x) < 0) start_at_local_origin(ext);
    settle_gamma(ext);
  }
  return out;
}

// [first row, Ext row] of each extrude's block, as decode() splits a vector.
std::vector<std::pair<size_t, size_t>> extrude_blocks(const CadVec& vec) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t first = 0;
  for (size_t r = 0; r < vec.size() && vec[r][kColCmd] != kCmdEos; ++r) {
    if (vec[r][kColCmd] != kCmdExt) continue;
    out.emplace_back(first, r);
    first = r + 1;
  }
  return out;
}

// q -> 256 - q negates a quantised position or extent (q / 128 - 1); 0 would be 256 and clips.
int negated_level(int q) { return std::min(kArgsDim - q, kArgsDim - 1); }

// The sketch rows (SOL + curves per loop) of a decoded extrude whose profile was mirrored about
// its local origin, in the original quantised frame (local p -> p * 95 / size + 128, size = the
// decoded sketch size): the decoder gives back exactly the mirrored profile. False when a point
// does not land on the grid or leaves [0, 255].
bool sketch_rows(const Extrude& ext, double size, std::vector<CadVecRow>* rows) {
  constexpr double kSketchHalfSize = kArgsDim / 2 * kNormFactor - 1;  // 95, as in cad_vec.cpp
  if (!(size > 0)) return false;
  const double scale = kSketchHalfSize / size;
  bool ok = true;
  auto level = [&](double v, int lo = 0) {
    const double x = v * scale + kArgsDim / 2, r = std::nearbyint(x);
    ok = ok && std::fabs(x - r) < 1e-6 && r >= lo && r < kArgsDim;
    return ok ? static_cast<int>(r) : 0;
  };
  auto row = [](int cmd) {
    CadVecRow r;
    r.fill(kPadValue);
    r[kColCmd] = cmd;
    return r;
  };
  for (const auto& loop : ext.profile.loops) {
    rows->push_back(sol_row());
    for (const auto& c : loop.curves) {
      switch (c.type) {
        case CurveType::kLine: {
          CadVecRow r = row(kCmdLine);
          r[kColX] = level(c.end.x);
          r[kColY] = level(c.end.y);
          rows->push_back(r);
          break;
        }
        case CurveType::kArc: {
          CadVecRow r = row(kCmdArc);
          r[kColX] = level(c.end.x);
          r[kColY] = level(c.end.y);
          const double sweep = std::nearbyint((c.end_angle - c.start_angle) / (2 * 3.141592653589793) * kArgsDim);
          r[kColAlpha] = static_cast<int>(std::clamp(sweep, 1.0, kArgsDim - 1.0));
          // The side of the chord the arc bulges to, as the encoder decides it.
          const double cr = (c.mid.x - c.start.x) * (c.end.y - c.start.y) - (c.mid.y - c.start.y) * (c.end.x - c.start.x);
          r[kColFlag] = cr >= 0 ? 1 : 0;
          rows->push_back(r);
          break;
        }
        case CurveType::kCircle: {
          CadVecRow r = row(kCmdCircle);
          r[kColX] = level(c.center.x);
          r[kColY] = level(c.center.y);
          r[kColRadius] = static_cast<int>(std::nearbyint(c.radius * scale));
          ok = ok && std::fabs(c.radius * scale - r[kColRadius]) < 1e-6 && r[kColRadius] >= 1 && r[kColRadius] < kArgsDim;
          rows->push_back(r);
          break;
        }
      }
    }
  }
  return ok;
}

// A quantised position column pair (px, py) turned: q -> 256 - q negates q / 128 - 1.
void turn_position(CadVecRow& row, int k) {
  const auto neg_q = negated_level;
  const int px = row[kColPx], py = row[kColPy];
  switch (k) {
    case 1: row[kColPx] = neg_q(py); row[kColPy] = px; break;
    case 2: row[kColPx] = neg_q(px); row[kColPy] = neg_q(py); break;
    case 3: row[kColPx] = py; row[kColPy] = neg_q(px); break;
    default: break;
  }
}

}  // namespace

CadModel with_encodable_planes(const CadModel& model) {
  std::vector<bool> flipped;
  return encodable_planes(model, &flipped);
}

Result<CadVec> turn_vec(const CadVec& vec, int quarter_turns) {
  const int k = mod4(quarter_turns);
  auto model = decode(vec);
  if (!model) return model.error();
  const CadModel turned = turn_about_z(*model, k);
  std::vector<bool> flipped;
  auto encoded = encode(encodable_planes(turned, &flipped));
  if (!encoded) return encoded.error();
  // Keep what the turn does not change (see the header); theta, phi, gamma come from the encoder.
  const auto src = extrude_blocks(vec), dst = extrude_blocks(*encoded);
  if (src.size() != dst.size() || src.size() != flipped.size())
    return Result<CadVec>::fail(ErrorCode::kInternal, "turn_vec: extrude count changed while re-encoding");
  CadVec out;
  for (size_t i = 0; i < src.size(); ++i) {
    const auto [s0, s1] = src[i];
    const auto [d0, d1] = dst[i];
    std::vector<CadVecRow> sketch;
    bool keep = s1 - s0 == d1 - d0;  // else the decoder dropped rows (empty loops)
    if (keep && flipped[i]) {
      Extrude mirrored = turned.extrudes[i];
      keep = flip_plane(mirrored) && sketch_rows(mirrored, model->extrudes[i].sketch_size, &sketch) &&
             sketch.size() == s1 - s0;
    } else if (keep) {
      sketch.assign(vec.begin() + static_cast<long>(s0), vec.begin() + static_cast<long>(s1));
    }
    if (!keep) {  // the encoder's rows: the same solid to within a quantisation step
      out.insert(out.end(), encoded->begin() + static_cast<long>(d0), encoded->begin() + static_cast<long>(d1) + 1);
      continue;
    }
    out.insert(out.end(), sketch.begin(), sketch.end());
    CadVecRow ext = vec[s1];
    for (int col : {kColTheta, kColPhi, kColGamma}) ext[col] = (*encoded)[d1][col];
    turn_position(ext, k);
    if (flipped[i]) {
      if (ext[kColExtentType] == static_cast<int>(ExtentType::kOneSide)) ext[kColE1] = negated_level(ext[kColE1]);
      if (ext[kColExtentType] == static_cast<int>(ExtentType::kTwoSides)) std::swap(ext[kColE1], ext[kColE2]);
    }
    out.push_back(ext);
  }
  out.push_back(eos_row());
  return out;
}

}  // namespace cadcrafter
