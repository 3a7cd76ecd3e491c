#include "cad/build123d_script.h"
#include "cad/units.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace cadcrafter {
namespace {

// Shortest text that reads back to the same double (and never "-0").
std::string num(double v) {
  if (v == 0.0 || !std::isfinite(v)) return std::isfinite(v) ? "0" : "float('nan')";
  char buf[32];
  // At most 12 digits: sub-nanometre for any part, and the script stays readable.
  for (int precision = 6; precision <= 12; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string point(Vec2 p, double v_sign) { return "(" + num(p.x) + ", " + num(v_sign * p.y) + ")"; }
std::string vec3(Vec3 p) { return "(" + num(p.x) + ", " + num(p.y) + ", " + num(p.z) + ")"; }

Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
Vec3 add_scaled(Vec3 a, Vec3 d, double s) { return {a.x + s * d.x, a.y + s * d.y, a.z + s * d.z}; }
Vec3 unit(Vec3 a) {
  const double n = std::sqrt(dot(a, a));
  return n > 0 ? Vec3{a.x / n, a.y / n, a.z / n} : a;
}

const char* operation_text(Operation op) {
  switch (op) {
    case Operation::kNewBody: return "new body";
    case Operation::kJoin: return "join";
    case Operation::kCut: return "cut";
    case Operation::kIntersect: return "intersect";
  }
  return "?";
}

// One loop drawn inside a BuildSketch, as a face added (outer) or subtracted (hole).
void write_loop(std::ostringstream& py, const Loop& loop, bool hole, double v_sign) {
  const std::string mode = hole ? "mode=Mode.SUBTRACT" : "";
  if (loop.curves.size() == 1 && loop.curves[0].type == CurveType::kCircle) {
    const Curve& c = loop.curves[0];
    py << "        with Locations(" << point(c.center, v_sign) << "):\n";
    py << "            Circle(" << num(c.radius) << (hole ? ", " + mode : "") << ")\n";
    return;
  }
  py << "        with BuildLine():\n";
  for (const Curve& c : loop.curves) {
    switch (c.type) {
      case CurveType::kLine:
        if (c.start.x == c.end.x && c.start.y == c.end.y) continue;  // zero length: skipped, as the kernel does
        py << "            Line(" << point(c.start, v_sign) << ", " << point(c.end, v_sign) << ")\n";
        break;
      case CurveType::kArc:
        py << "            ThreePointArc(" << point(c.start, v_sign) << ", " << point(c.mid, v_sign) << ", " << point(c.end, v_sign)
           << ")\n";
        break;
      case CurveType::kCircle:  // a circle inside a longer loop cannot be drawn; keep the text honest
        py << "            # circle centre " << point(c.center, v_sign) << " radius " << num(c.radius)
           << " inside a multi-curve loop (not buildable)\n";
        break;
    }
  }
  py << "        make_face(" << mode << ")\n";
}

}  // namespace

std::string to_build123d_script(const CadModel& model) {
  std::ostringstream py;
  py << "# " << (model.id.empty() ? "CAD model" : model.id) << ": " << model.extrudes.size()
     << " sketch-and-extrude steps, written by cadcrafter.\n";
  py << "# Needs build123d (pip install build123d). Sketch coordinates are local to each plane.\n";
  if (model.unit == LengthUnit::kMillimetre)
    py << "# Lengths are in mm (build123d's unit).\n";
  else
    py << "# Lengths are in " << unit_symbol(model.unit) << " (x " << num(millimetres_per_unit(model.unit))
       << " = mm; build123d works in mm).\n";
  py << "from build123d import *\n\n";

  for (size_t i = 0; i < model.extrudes.size(); ++i) {
    const Extrude& e = model.extrudes[i];
    const SketchPlane& sp = e.plane;
    const Vec3 normal = unit(sp.normal);
    // build123d's plane has y = z x x; a sketch whose y axis points the other way is mirrored.
    const double v_sign = dot(cross(sp.x_axis, sp.y_axis), normal) < 0 ? -1.0 : 1.0;
    // The prism covers [lo, hi] along the normal (see kernel/compile.h); TwoSides starts at lo.
    double shift = 0.0;
    if (e.extent_type == ExtentType::kTwoSides) shift = std::min({0.0, e.extent_one, -e.extent_two});
    const Vec3 origin = add_scaled(sp.origin, normal, shift);

    py << "\ndef sketch_" << i << "():\n";
    py << "    \"\"\"Profile of extrude " << i << " (" << operation_text(e.operation) << ").\"\"\"\n";
    py << "    plane = Plane(origin=" << vec3(origin) << ", x_dir=" << vec3(sp.x_axis) << ", z_dir=" << vec3(normal) << ")\n";
    py << "    with BuildSketch(plane) as sketch:\n";
    if (e.profile.loops.empty()) py << "        pass  # empty profile\n";
    for (size_t k = 0; k < e.profile.loops.size(); ++k) write_loop(py, e.profile.loops[k], k > 0, v_sign);
    py << "    return sketch.sketch\n";
  }

  py << "\n\nwith BuildPart() as part:\n";
  if (model.extrudes.empty()) py << "    pass  # no extrudes\n";
  for (size_t i = 0; i < model.extrudes.size(); ++i) {
    const Extrude& e = model.extrudes[i];
    std::string mode = "Mode.ADD";
    if (i > 0 && e.operation == Operation::kCut) mode = "Mode.SUBTRACT";
    if (i > 0 && e.operation == Operation::kIntersect) mode = "Mode.INTERSECT";
    std::string args;
    switch (e.extent_type) {
      case ExtentType::kOneSide: args = "amount=" + num(e.extent_one); break;
      case ExtentType::kSymmetric: args = "amount=" + num(std::abs(e.extent_one)) + ", both=True"; break;
      case ExtentType::kTwoSides: {
        const double lo = std::min({0.0, e.extent_one, -e.extent_two}), hi = std::max({0.0, e.extent_one, -e.extent_two});
        args = "amount=" + num(hi - lo);
        break;
      }
    }
    py << "    extrude(sketch_" << i << "(), " << args << ", mode=" << mode << ")\n";
  }
  py << "\nresult = part.part\n";
  py << "if __name__ == \"__main__\":\n";
  py << "    print(f\"volume {result.volume:.6g}\")\n";
  return py.str();
}

}  // namespace cadcrafter
