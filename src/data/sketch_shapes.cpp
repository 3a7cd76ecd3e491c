#include "data/sketch_shapes.h"

#include <algorithm>
#include <cmath>

namespace cadcrafter::shapes {
namespace {

constexpr double kPi = 3.14159265358979323846;

Vec2 polar(Vec2 c, double r, double a) { return {c.x + r * std::cos(a), c.y + r * std::sin(a)}; }
double dist(Vec2 a, Vec2 b) { return std::hypot(a.x - b.x, a.y - b.y); }

// +1 when the loop traverses the arc counter-clockwise (start is the end ref_vec points at).
double traversal_sign(const Curve& arc) {
  const Vec2 ccw_start{arc.center.x + arc.radius * arc.ref_vec.x, arc.center.y + arc.radius * arc.ref_vec.y};
  return dist(arc.start, ccw_start) <= dist(arc.end, ccw_start) ? 1.0 : -1.0;
}

}  // namespace

void Box2::add(Vec2 p) {
  min.x = std::min(min.x, p.x);
  min.y = std::min(min.y, p.y);
  max.x = std::max(max.x, p.x);
  max.y = std::max(max.y, p.y);
}

Curve make_line(Vec2 from, Vec2 to) {
  Curve c;
  c.type = CurveType::kLine;
  c.start = from;
  c.end = to;
  return c;
}

Curve make_circle(Vec2 center, double radius) {
  Curve c;
  c.type = CurveType::kCircle;
  c.center = center;
  c.radius = radius;
  // Circles have no start; DeepCAD's implicit one is the leftmost point.
  c.start = c.end = {center.x - radius, center.y};
  return c;
}

Curve make_arc(Vec2 center, double radius, double start_angle, double signed_sweep) {
  Curve c;
  c.type = CurveType::kArc;
  c.center = center;
  c.radius = radius;
  c.start = polar(center, radius, start_angle);
  c.end = polar(center, radius, start_angle + signed_sweep);
  // ref_vec points at the counter-clockwise starting end, whichever way the loop runs.
  const double ccw_start_angle = signed_sweep > 0 ? start_angle : start_angle + signed_sweep;
  const double sweep = std::fabs(signed_sweep);
  c.ref_vec = {std::cos(ccw_start_angle), std::sin(ccw_start_angle)};
  c.start_angle = 0.0;
  c.end_angle = sweep;
  c.mid = polar(center, radius, ccw_start_angle + sweep / 2);
  return c;
}

Curve make_arc_through_chord(Vec2 from, Vec2 to, double sweep) {
  const double half_chord = dist(from, to) / 2;
  const double abs_sweep = std::fabs(sweep);
  const double radius = half_chord / std::sin(abs_sweep / 2);
  const double to_center = radius * std::cos(abs_sweep / 2);  // negative past a half circle
  const Vec2 mid{(from.x + to.x) / 2, (from.y + to.y) / 2};
  const Vec2 dir{(to.x - from.x) / (2 * half_chord), (to.y - from.y) / (2 * half_chord)};
  const Vec2 left{-dir.y, dir.x};
  const double side = sweep > 0 ? 1.0 : -1.0;
  const Vec2 center{mid.x + side * left.x * to_center, mid.y + side * left.y * to_center};
  const double start_angle = std::atan2(from.y - center.y, from.x - center.x);
  Curve arc = make_arc(center, radius, start_angle, sweep);
  arc.end = to;  // exact shared end point, not the round trip through cos/sin
  arc.start = from;
  return arc;
}

Curve reversed_curve(const Curve& c) {
  Curve r = c;
  std::swap(r.start, r.end);
  return r;
}

Loop reversed_loop(const Loop& loop) {
  Loop out;
  for (auto it = loop.curves.rbegin(); it != loop.curves.rend(); ++it) out.curves.push_back(reversed_curve(*it));
  return out;
}

Loop polygon_loop(const std::vector<Vec2>& points) {
  Loop loop;
  for (size_t i = 0; i < points.size(); ++i) loop.curves.push_back(make_line(points[i], points[(i + 1) % points.size()]));
  return loop;
}

Loop rectangle_loop(Vec2 c, double w, double h) {
  return polygon_loop({{c.x - w / 2, c.y - h / 2}, {c.x + w / 2, c.y - h / 2}, {c.x + w / 2, c.y + h / 2}, {c.x - w / 2, c.y + h / 2}});
}

Loop rounded_rectangle_loop(Vec2 c, double w, double h, double r) {
  const double x0 = c.x - w / 2, x1 = c.x + w / 2, y0 = c.y - h / 2, y1 = c.y + h / 2;
  Loop loop;
  loop.curves.push_back(make_line({x0 + r, y0}, {x1 - r, y0}));
  loop.curves.push_back(make_arc({x1 - r, y0 + r}, r, -kPi / 2, kPi / 2));  // bottom right
  loop.curves.push_back(make_line({x1, y0 + r}, {x1, y1 - r}));
  loop.curves.push_back(make_arc({x1 - r, y1 - r}, r, 0, kPi / 2));  // top right
  loop.curves.push_back(make_line({x1 - r, y1}, {x0 + r, y1}));
  loop.curves.push_back(make_arc({x0 + r, y1 - r}, r, kPi / 2, kPi / 2));  // top left
  loop.curves.push_back(make_line({x0, y1 - r}, {x0, y0 + r}));
  loop.curves.push_back(make_arc({x0 + r, y0 + r}, r, kPi, kPi / 2));  // bottom left
  // Snap the arc ends onto the line ends so consecutive curves share exact points.
  for (size_t i = 0; i < loop.curves.size(); ++i) {
    Curve& cur = loop.curves[i];
    const Curve& next = loop.curves[(i + 1) % loop.curves.size()];
    if (cur.type == CurveType::kArc) cur.end = next.start;
    if (next.type == CurveType::kArc) loop.curves[(i + 1) % loop.curves.size()].start = cur.end;
  }
  return loop;
}

Loop slot_loop(Vec2 c, double length, double r, double angle) {
  const Vec2 d{std::cos(angle), std::sin(angle)};
  const Vec2 n{-d.y, d.x};
  const Vec2 a{c.x - d.x * length / 2, c.y - d.y * length / 2};  // left end centre
  const Vec2 b{c.x + d.x * length / 2, c.y + d.y * length / 2};  // right end centre
  const Vec2 a_lo{a.x - n.x * r, a.y - n.y * r}, b_lo{b.x - n.x * r, b.y - n.y * r};
  const Vec2 b_hi{b.x + n.x * r, b.y + n.y * r}, a_hi{a.x + n.x * r, a.y + n.y * r};
  Loop loop;
  loop.curves.push_back(make_line(a_lo, b_lo));
  loop.curves.push_back(make_arc_through_chord(b_lo, b_hi, kPi));
  loop.curves.push_back(make_line(b_hi, a_hi));
  loop.curves.push_back(make_arc_through_chord(a_hi, a_lo, kPi));
  return loop;
}

Loop circle_loop(Vec2 center, double radius) {
  Loop loop;
  loop.curves.push_back(make_circle(center, radius));
  return loop;
}

double loop_signed_area(const Loop& loop) {
  double twice_area = 0.0;
  for (const Curve& c : loop.curves) {
    if (c.type == CurveType::kCircle) return kPi * c.radius * c.radius;
    twice_area += c.start.x * c.end.y - c.end.x * c.start.y;
    if (c.type == CurveType::kArc) {
      const double s = c.end_angle - c.start_angle;
      twice_area += traversal_sign(c) * c.radius * c.radius * (s - std::sin(s));
    }
  }
  return twice_area / 2;
}

Box2 loop_box(const Loop& loop) {
  Box2 box;
  for (const Curve& c : loop.curves) {
    if (c.type == CurveType::kCircle) {
      box.add({c.center.x - c.radius, c.center.y - c.radius});
      box.add({c.center.x + c.radius, c.center.y + c.radius});
      continue;
    }
    box.add(c.start);
    box.add(c.end);
    if (c.type != CurveType::kArc) continue;
    const double a0 = std::atan2(c.ref_vec.y, c.ref_vec.x);
    const double sweep = c.end_angle - c.start_angle;
    for (int k = -4; k <= 8; ++k) {  // every axis direction within [a0, a0 + sweep]
      const double a = k * kPi / 2;
      if (a >= a0 && a <= a0 + sweep) box.add(polar(c.center, c.radius, a));
    }
  }
  return box;
}

Loop mirrored_loop_v(const Loop& loop) {
  Loop mirrored;
  for (const Curve& c : loop.curves) {
    Curve m = c;
    m.start = {c.start.x, -c.start.y};
    m.end = {c.end.x, -c.end.y};
    m.center = {c.center.x, -c.center.y};
    m.mid = {c.mid.x, -c.mid.y};
    if (c.type == CurveType::kArc) {
      // Mirroring turns counter-clockwise into clockwise: the old CCW end becomes the CCW start.
      const double sweep = c.end_angle - c.start_angle;
      const double a_end = std::atan2(c.ref_vec.y, c.ref_vec.x) + sweep;
      m.ref_vec = {std::cos(a_end), -std::sin(a_end)};
    }
    if (c.type == CurveType::kCircle) m.start = m.end = {m.center.x - m.radius, m.center.y};
    mirrored.curves.push_back(m);
  }
  return reversed_loop(mirrored);
}

}  // namespace cadcrafter::shapes
