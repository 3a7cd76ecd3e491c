#include "cad/deepcad_sketch.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cadcrafter::deepcad {
namespace {

constexpr double kPi = 3.141592653589793;  // np.pi

// cadlib.math_utils.angle_from_vector_to_x: the angle in [0, 2pi) of a unit vector, built
// from asin per quadrant (not atan2), which matters for exact tie behaviour.
double angle_from_vector_to_x(Vec2 v) {
  if (v.x >= 0) {
    if (v.y >= 0) return std::asin(v.y);
    return 2.0 * kPi - std::asin(-v.y);
  }
  if (v.y >= 0) return kPi - std::asin(v.y);
  return kPi + std::asin(-v.y);
}

double norm2(Vec2 v) { return std::sqrt(v.x * v.x + v.y * v.y); }

Vec2 unit_from_center(Vec2 p, Vec2 c, double eps) {
  const Vec2 d{p.x - c.x, p.y - c.y};
  const double n = norm2(d) + eps;
  return {d.x / n, d.y / n};
}

// Arc.get_angles_counterclockwise(eps=1e-8): the counter-clockwise angular span of the arc.
void arc_angles_ccw(const Curve& arc, double& angle_s, double& angle_e) {
  const double eps = 1e-8;
  const Vec2 mid = arc.mid;
  double s = angle_from_vector_to_x(unit_from_center(arc.start, arc.center, eps));
  const double m = angle_from_vector_to_x(unit_from_center(mid, arc.center, eps));
  double e = angle_from_vector_to_x(unit_from_center(arc.end, arc.center, eps));
  const double lo = std::min(s, e), hi = std::max(s, e);
  s = lo;
  e = hi;
  if (!(s < m && m < e)) {
    const double new_s = e - kPi * 2;
    e = s;
    s = new_s;
  }
  angle_s = s;
  angle_e = e;
}

void include(Box2& box, Vec2 p) {
  box.min.x = std::min(box.min.x, p.x);
  box.min.y = std::min(box.min.y, p.y);
  box.max.x = std::max(box.max.x, p.x);
  box.max.y = std::max(box.max.y, p.y);
}

Box2 box_of(Vec2 p) { return {p, p}; }

// 2D cross product as np.cross computes it for 2-vectors.
double cross2(Vec2 a, Vec2 b) { return a.x * b.y - a.y * b.x; }

// Curve.direction(from_start): lines end - start; arcs mid - start at the start, end - mid
// at the end.
Vec2 direction(const Curve& c, bool from_start) {
  if (c.type == CurveType::kArc) {
    if (from_start) return {c.mid.x - c.start.x, c.mid.y - c.start.y};
    return {c.end.x - c.mid.x, c.end.y - c.mid.y};
  }
  if (c.type == CurveType::kCircle) {
    const Vec2 s = start_point(c);
    return {c.center.x - s.x, c.center.y - s.y};
  }
  return {c.end.x - c.start.x, c.end.y - c.start.y};
}

}  // namespace

double round_half_even(double x) { return std::nearbyint(x); }

double round6(double x) { return std::nearbyint(x * 1e6) / 1e6; }

bool allclose(Vec2 a, Vec2 b) {
  const double rtol = 1e-5, atol = 1e-8;
  return std::fabs(a.x - b.x) <= atol + rtol * std::fabs(b.x) &&
         std::fabs(a.y - b.y) <= atol + rtol * std::fabs(b.y);
}

Vec2 start_point(const Curve& c) {
  if (c.type == CurveType::kCircle) return {c.center.x - c.radius, c.center.y};
  return c.start;
}

Vec2 end_point(const Curve& c) {
  if (c.type == CurveType::kCircle) return {c.center.x + c.radius, c.center.y};
  return c.end;
}

Vec2 arc_mid_point(const Curve& arc) {
  const double mid_angle = (arc.start_angle + arc.end_angle) / 2;
  const double cs = std::cos(mid_angle), sn = std::sin(mid_angle);
  const Vec2 mid_vec{cs * arc.ref_vec.x + -sn * arc.ref_vec.y, sn * arc.ref_vec.x + cs * arc.ref_vec.y};
  return {arc.center.x + mid_vec.x * arc.radius, arc.center.y + mid_vec.y * arc.radius};
}

void reverse(Curve& c) {
  if (c.type == CurveType::kCircle) return;
  // A zero-length curve looks the same either way round; only a visible swap counts.
  if (c.start.x != c.end.x || c.start.y != c.end.y) c.reversed = !c.reversed;
  std::swap(c.start, c.end);
}

Box2 curve_bbox(const Curve& c) {
  if (c.type == CurveType::kCircle) {
    return {{c.center.x - c.radius, c.center.y - c.radius}, {c.center.x + c.radius, c.center.y + c.radius}};
  }
  Box2 box = box_of(c.start);
  include(box, c.end);
  if (c.type == CurveType::kLine) return box;

  double s = 0, e = 0;
  arc_angles_ccw(c, s, e);
  const double r = c.radius;
  if (s < 0 && 0 < e) include(box, {c.center.x + r, c.center.y});
  if ((s < kPi / 2 && kPi / 2 < e) || (s < -kPi / 2 * 3 && -kPi / 2 * 3 < e)) include(box, {c.center.x, c.center.y + r});
  if ((s < kPi && kPi < e) || (s < -kPi && -kPi < e)) include(box, {c.center.x - r, c.center.y});
  if ((s < kPi / 2 * 3 && kPi / 2 * 3 < e) || (s < -kPi / 2 && -kPi / 2 < e)) include(box, {c.center.x, c.center.y - r});
  return box;
}

Box2 loop_bbox(const Loop& loop) {
  Box2 box = curve_bbox(loop.curves.at(0));
  for (size_t i = 1; i < loop.curves.size(); ++i) {
    const Box2 b = curve_bbox(loop.curves[i]);
    include(box, b.min);
    include(box, b.max);
  }
  return box;
}

Box2 profile_bbox(const Profile& profile) {
  Box2 box = loop_bbox(profile.loops.at(0));
  for (size_t i = 1; i < profile.loops.size(); ++i) {
    const Box2 b = loop_bbox(profile.loops[i]);
    include(box, b.min);
    include(box, b.max);
  }
  return box;
}

double profile_bbox_size(const Profile& profile) {
  const Box2 box = profile_bbox(profile);
  const Vec2 sp = start_point(profile.loops.at(0).curves.at(0));
  const double values[4] = {box.max.x - sp.x, box.max.y - sp.y, box.min.x - sp.x, box.min.y - sp.y};
  double size = std::fabs(values[0]);
  for (double v : values) size = std::max(size, std::fabs(v));
  return size;
}

void reorder_loop(Loop& loop) {
  auto& curves = loop.curves;
  const size_t n = curves.size();
  if (n <= 1) return;

  // Correct the first curve's direction against the second one.
  if (allclose(start_point(curves[0]), start_point(curves[1])) || allclose(start_point(curves[0]), end_point(curves[1])))
    reverse(curves[0]);

  // Chain the directions and find the left-most (then lowest) start point. DeepCAD starts
  // from (10000, 10000) and index -1, so a loop entirely beyond x = 10000 rotates by one.
  long start_idx = -1;
  double sx = 10000, sy = 10000;
  for (size_t i = 0; i < n; ++i) {
    if (i + 1 < n && allclose(end_point(curves[i]), end_point(curves[i + 1]))) reverse(curves[i + 1]);
    const Vec2 sp = start_point(curves[i]);
    const double rx = round6(sp.x), rsx = round6(sx);
    if (rx < rsx || (rx == rsx && round6(sp.y) < round6(sy))) {
      start_idx = static_cast<long>(i);
      sx = sp.x;
      sy = sp.y;
    }
  }
  const size_t first = start_idx < 0 ? n - 1 : static_cast<size_t>(start_idx);
  std::rotate(curves.begin(), curves.begin() + static_cast<std::ptrdiff_t>(first), curves.end());

  // Make it mostly counter-clockwise (skipped when a circle is first or last).
  if (curves.front().type == CurveType::kCircle || curves.back().type == CurveType::kCircle) return;
  const Vec2 start_vec = direction(curves.front(), true);
  const Vec2 end_vec = direction(curves.back(), false);
  if (cross2(end_vec, start_vec) <= 0) {
    for (auto& c : curves) reverse(c);
    std::reverse(curves.begin(), curves.end());
  }
}

void reorder_profile(Profile& profile) {
  auto& loops = profile.loops;
  if (loops.size() <= 1) return;
  std::vector<Vec2> keys;
  keys.reserve(loops.size());
  for (const auto& loop : loops) {
    const Box2 b = loop_bbox(loop);
    keys.push_back({round6(b.min.x), round6(b.min.y)});
  }
  std::vector<size_t> order(loops.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (keys[a].x != keys[b].x) return keys[a].x < keys[b].x;
    return keys[a].y < keys[b].y;
  });
  std::vector<Loop> sorted;
  sorted.reserve(loops.size());
  for (size_t i : order) sorted.push_back(std::move(loops[i]));
  loops = std::move(sorted);
}

void reorder_model(CadModel& model) {
  for (auto& ext : model.extrudes) {
    for (auto& loop : ext.profile.loops) reorder_loop(loop);
    reorder_profile(ext.profile);
  }
}

}  // namespace cadcrafter::deepcad
