// Helpers for the quarter-turn tests (cad/turn.h): hand-built models, exact model equality, and
// a geometric distance between two models that does not care how a sketch is represented (plane
// flipped, profile mirrored or started elsewhere): the largest distance from a sampled point of
// one model's cap curves to the other model's cap curves, both ways, extrude by extrude.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "cad/cad_model.h"
#include "cad/deepcad_sketch.h"
#include "test_support.h"

namespace cadcrafter::testing {

// Hand-built models in DeepCAD's loop order (shared by the cad, kernel, render and learn tests).
namespace turn_models {

constexpr double kPi = 3.141592653589793;

inline Curve line(Vec2 a, Vec2 b) {
  Curve c;
  c.start = a;
  c.end = b;
  return c;
}
inline Curve circle(Vec2 centre, double r) {
  Curve c;
  c.type = CurveType::kCircle;
  c.center = centre;
  c.radius = r;
  return c;
}
// The counter-clockwise arc from angle `from` over `sweep`, with F360's bookkeeping.
inline Curve arc(Vec2 centre, double r, double from, double sweep) {
  Curve c;
  c.type = CurveType::kArc;
  c.center = centre;
  c.radius = r;
  c.start = {centre.x + r * std::cos(from), centre.y + r * std::sin(from)};
  c.end = {centre.x + r * std::cos(from + sweep), centre.y + r * std::sin(from + sweep)};
  c.start_angle = 0;
  c.end_angle = sweep;
  c.ref_vec = {std::cos(from), std::sin(from)};
  c.mid = deepcad::arc_mid_point(c);
  return c;
}
inline Loop polygon(std::vector<Vec2> pts) {
  Loop l;
  for (size_t i = 0; i < pts.size(); ++i) l.curves.push_back(line(pts[i], pts[(i + 1) % pts.size()]));
  return l;
}
inline SketchPlane plane(Vec3 origin, Vec3 x, Vec3 y) {
  SketchPlane p;
  p.origin = origin;
  p.x_axis = x;
  p.y_axis = y;
  p.normal = {x.y * y.z - x.z * y.y, x.z * y.x - x.x * y.z, x.x * y.y - x.y * y.x};
  return p;
}
inline Extrude extrude(SketchPlane p, std::vector<Loop> loops, Operation op, ExtentType type, double e1, double e2 = 0) {
  Extrude e;
  e.plane = p;
  e.profile.loops = std::move(loops);
  e.operation = op;
  e.extent_type = type;
  e.extent_one = e1;
  e.extent_two = e2;
  return e;
}

// A bracket with a sketch on each axis plane family, arcs, a hole, and all three extent types:
// a plate (XY, arc top, circle hole), a wall on a +X plane, a cut through a -Y plane (TwoSides)
// and a symmetric boss.
inline CadModel bracket() {
  CadModel m;
  m.id = "bracket";
  Loop outer = polygon({{0, 0}, {4, 0}, {4, 3}});
  outer.curves.pop_back();
  outer.curves.push_back(arc({2, 3}, 2, 0, kPi));
  outer.curves.push_back(line({0, 3}, {0, 0}));
  Loop hole;
  hole.curves = {circle({2, 1.5}, 0.5)};
  m.extrudes.push_back(extrude(plane({0, 0, 0}, {1, 0, 0}, {0, 1, 0}), {outer, hole}, Operation::kNewBody,
                               ExtentType::kOneSide, 0.5));
  m.extrudes.push_back(extrude(plane({4, 0, 0}, {0, 1, 0}, {0, 0, 1}), {polygon({{0, 0}, {3, 0}, {3, 2}, {0, 2}})},
                               Operation::kJoin, ExtentType::kOneSide, -0.5));
  Loop bore;
  bore.curves = {circle({2, 0.25}, 0.15)};
  m.extrudes.push_back(extrude(plane({0, 0, 0}, {1, 0, 0}, {0, 0, 1}), {bore}, Operation::kCut, ExtentType::kTwoSides,
                               1.0, 5.0));
  Loop boss;
  boss.curves = {circle({3, 1}, 0.3)};
  m.extrudes.push_back(
      extrude(plane({0, 0, 0.5}, {1, 0, 0}, {0, 1, 0}), {boss}, Operation::kJoin, ExtentType::kSymmetric, 0.2));
  m.bbox.min = {0, 0, 0};
  m.bbox.max = {4, 5, 2};
  deepcad::reorder_model(m);
  return m;
}

}  // namespace turn_models

inline bool same_vec3(const Vec3& a, const Vec3& b) { return a.x == b.x && a.y == b.y && a.z == b.z; }
inline bool same_vec2(const Vec2& a, const Vec2& b) { return a.x == b.x && a.y == b.y; }

// Every field equal (doubles compared with ==).
inline bool same_model(const CadModel& a, const CadModel& b) {
  if (a.id != b.id || a.extrudes.size() != b.extrudes.size()) return false;
  if (!same_vec3(a.bbox.min, b.bbox.min) || !same_vec3(a.bbox.max, b.bbox.max)) return false;
  for (size_t i = 0; i < a.extrudes.size(); ++i) {
    const Extrude &x = a.extrudes[i], &y = b.extrudes[i];
    if (!same_vec3(x.plane.origin, y.plane.origin) || !same_vec3(x.plane.x_axis, y.plane.x_axis) ||
        !same_vec3(x.plane.y_axis, y.plane.y_axis) || !same_vec3(x.plane.normal, y.plane.normal) ||
        !same_vec3(x.sketch_pos, y.sketch_pos))
      return false;
    if (x.operation != y.operation || x.extent_type != y.extent_type || x.extent_one != y.extent_one ||
        x.extent_two != y.extent_two || x.sketch_size != y.sketch_size)
      return false;
    if (x.profile.loops.size() != y.profile.loops.size()) return false;
    for (size_t l = 0; l < x.profile.loops.size(); ++l) {
      const auto &cx = x.profile.loops[l].curves, &cy = y.profile.loops[l].curves;
      if (cx.size() != cy.size()) return false;
      for (size_t c = 0; c < cx.size(); ++c) {
        const Curve &p = cx[c], &q = cy[c];
        if (p.type != q.type || !same_vec2(p.start, q.start) || !same_vec2(p.end, q.end) || !same_vec2(p.mid, q.mid) ||
            !same_vec2(p.center, q.center) || p.radius != q.radius || p.start_angle != q.start_angle ||
            p.end_angle != q.end_angle || !same_vec2(p.ref_vec, q.ref_vec))
          return false;
      }
    }
  }
  return true;
}

// F360 val ids from the manifest, sorted; max_extrudes > 0 keeps models with at most that many
// extrude features (the manifest's n_extrudes).
inline std::vector<std::string> f360_val_ids(int max_extrudes = 0) {
  std::ifstream in(shared_data_dir() + "/f360/manifest.csv");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> ids;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t comma = line.find(','), last = line.rfind(',');
    const size_t third = line.find(',', line.find(',', comma + 1) + 1);
    const int n_extrudes = std::atoi(line.c_str() + line.find(',', comma + 1) + 1);
    if (third == std::string::npos || line.substr(last + 1) != "val") continue;
    if (max_extrudes <= 0 || n_extrudes <= max_extrudes) ids.push_back(line.substr(0, comma));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

namespace turn_detail {

constexpr double kTwoPi = 6.283185307179586;

inline double wrap(double a) {
  a = std::fmod(a, kTwoPi);
  return a < 0 ? a + kTwoPi : a;
}
inline double len(Vec2 v) { return std::sqrt(v.x * v.x + v.y * v.y); }
inline Vec2 sub(Vec2 a, Vec2 b) { return {a.x - b.x, a.y - b.y}; }
inline double angle(Vec2 p, Vec2 c) { return std::atan2(p.y - c.y, p.x - c.x); }

// An arc as (start angle, signed sweep) about its centre, from its start, mid and end points.
inline void arc_span(const Curve& c, double& a0, double& sweep) {
  a0 = angle(c.start, c.center);
  const double se = wrap(angle(c.end, c.center) - a0), sm = wrap(angle(c.mid, c.center) - a0);
  sweep = sm <= se ? se : -(kTwoPi - se);
}

inline std::vector<Vec2> sample_curve(const Curve& c, int n = 12) {
  std::vector<Vec2> out;
  if (c.type == CurveType::kLine) {
    for (int i = 0; i <= n; ++i) {
      const double s = static_cast<double>(i) / n;
      out.push_back({c.start.x + s * (c.end.x - c.start.x), c.start.y + s * (c.end.y - c.start.y)});
    }
    return out;
  }
  double a0 = 0, sweep = kTwoPi;
  if (c.type == CurveType::kArc) arc_span(c, a0, sweep);
  for (int i = 0; i <= n; ++i) {
    const double a = a0 + sweep * i / n;
    out.push_back({c.center.x + c.radius * std::cos(a), c.center.y + c.radius * std::sin(a)});
  }
  return out;
}

inline double distance_to_curve(Vec2 p, const Curve& c) {
  if (c.type == CurveType::kLine) {
    const Vec2 d = sub(c.end, c.start), w = sub(p, c.start);
    const double l2 = d.x * d.x + d.y * d.y;
    const double s = l2 > 0 ? std::clamp((w.x * d.x + w.y * d.y) / l2, 0.0, 1.0) : 0.0;
    return len({w.x - s * d.x, w.y - s * d.y});
  }
  const double on_circle = std::fabs(len(sub(p, c.center)) - c.radius);
  if (c.type == CurveType::kCircle) return on_circle;
  double a0 = 0, sweep = 0;
  arc_span(c, a0, sweep);
  const double a = angle(p, c.center);
  const bool inside = sweep >= 0 ? wrap(a - a0) <= sweep : wrap(a0 - a) <= -sweep;
  if (inside) return on_circle;
  return std::min(len(sub(p, c.start)), len(sub(p, c.end)));
}

// The extent interval along the normal, as the kernel builds it (kernel/compile.h).
inline void extent_interval(const Extrude& e, double& lo, double& hi) {
  switch (e.extent_type) {
    case ExtentType::kOneSide: lo = std::min(0.0, e.extent_one); hi = std::max(0.0, e.extent_one); break;
    case ExtentType::kSymmetric: lo = -std::fabs(e.extent_one); hi = std::fabs(e.extent_one); break;
    case ExtentType::kTwoSides: lo = -e.extent_two; hi = e.extent_one; break;
  }
}

inline Vec3 at(const SketchPlane& p, Vec2 uv, double t) {
  return {p.origin.x + uv.x * p.x_axis.x + uv.y * p.y_axis.x + t * p.normal.x,
          p.origin.y + uv.x * p.x_axis.y + uv.y * p.y_axis.y + t * p.normal.y,
          p.origin.z + uv.x * p.x_axis.z + uv.y * p.y_axis.z + t * p.normal.z};
}

// Largest distance from a's cap-curve samples to b's cap curves.
inline double directed_distance(const Extrude& a, const Extrude& b) {
  double alo = 0, ahi = 0, blo = 0, bhi = 0;
  extent_interval(a, alo, ahi);
  extent_interval(b, blo, bhi);
  const SketchPlane& pb = b.plane;
  double worst = 0;
  for (const auto& loop : a.profile.loops)
    for (const auto& curve : loop.curves)
      for (const Vec2 uv : sample_curve(curve))
        for (double t : {alo, ahi}) {
          const Vec3 p = at(a.plane, uv, t);
          const Vec3 d{p.x - pb.origin.x, p.y - pb.origin.y, p.z - pb.origin.z};
          const Vec2 local{d.x * pb.x_axis.x + d.y * pb.x_axis.y + d.z * pb.x_axis.z,
                           d.x * pb.y_axis.x + d.y * pb.y_axis.y + d.z * pb.y_axis.z};
          const double w = d.x * pb.normal.x + d.y * pb.normal.y + d.z * pb.normal.z;
          double best = std::numeric_limits<double>::infinity();
          for (const auto& lb : b.profile.loops)
            for (const auto& cb : lb.curves) {
              const double in_plane = distance_to_curve(local, cb);
              for (double tb : {blo, bhi}) best = std::min(best, std::hypot(in_plane, w - tb));
            }
          worst = std::max(worst, best);
        }
  return worst;
}

}  // namespace turn_detail

// Symmetric distance between the cap curves (both ends of each prism) of two models, extrude
// by extrude; infinity when the extrude counts or operations differ.
inline double model_distance(const CadModel& a, const CadModel& b) {
  if (a.extrudes.size() != b.extrudes.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < a.extrudes.size(); ++i) {
    if (a.extrudes[i].operation != b.extrudes[i].operation) return std::numeric_limits<double>::infinity();
    worst = std::max({worst, turn_detail::directed_distance(a.extrudes[i], b.extrudes[i]),
                      turn_detail::directed_distance(b.extrudes[i], a.extrudes[i])});
  }
  return worst;
}

}  // namespace cadcrafter::testing
