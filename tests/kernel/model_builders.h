// Small CadModels built in code for kernel tests: rectangles, circles, slots, extrudes.
#pragma once

#include <cmath>

#include "cad/cad_model.h"

namespace cadcrafter::testing {

inline Curve line(double x0, double y0, double x1, double y1) {
  Curve c;
  c.type = CurveType::kLine;
  c.start = {x0, y0};
  c.end = {x1, y1};
  return c;
}

inline Curve arc(Vec2 start, Vec2 mid, Vec2 end) {
  Curve c;
  c.type = CurveType::kArc;
  c.start = start;
  c.mid = mid;
  c.end = end;
  return c;
}

inline Curve circle(double cx, double cy, double r) {
  Curve c;
  c.type = CurveType::kCircle;
  c.center = {cx, cy};
  c.radius = r;
  return c;
}

// Counter-clockwise axis-aligned rectangle.
inline Loop rect(double x0, double y0, double x1, double y1) {
  return Loop{{line(x0, y0, x1, y0), line(x1, y0, x1, y1), line(x1, y1, x0, y1), line(x0, y1, x0, y0)}};
}

// A stadium (two half discs of radius r joined by a 2*half_len straight part), centred at (cx, cy).
inline Loop slot(double cx, double cy, double half_len, double r) {
  const double xl = cx - half_len, xr = cx + half_len;
  return Loop{{line(xl, cy - r, xr, cy - r), arc({xr, cy - r}, {xr + r, cy}, {xr, cy + r}),
               line(xr, cy + r, xl, cy + r), arc({xl, cy + r}, {xl - r, cy}, {xl, cy - r})}};
}

inline Extrude extrude(Profile profile, double e1, Operation op = Operation::kNewBody,
                       ExtentType type = ExtentType::kOneSide, double e2 = 0.0) {
  Extrude e;
  e.profile = std::move(profile);
  e.operation = op;
  e.extent_type = type;
  e.extent_one = e1;
  e.extent_two = e2;
  return e;
}

inline SketchPlane plane(Vec3 origin, Vec3 x, Vec3 y, Vec3 n) {
  SketchPlane p;
  p.origin = origin;
  p.x_axis = x;
  p.y_axis = y;
  p.normal = n;
  return p;
}

inline CadModel model_of(std::vector<Extrude> extrudes, std::string id = "test") {
  CadModel m;
  m.id = std::move(id);
  m.extrudes = std::move(extrudes);
  return m;
}

// A 2 x 3 x 4 box (volume 24, area 52) on the XY plane.
inline CadModel box_model() { return model_of({extrude(Profile{{rect(0, 0, 2, 3)}}, 4.0)}); }

}  // namespace cadcrafter::testing
