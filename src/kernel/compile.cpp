// CadModel -> OpenCASCADE solid. See compile.h for the semantics.
//
// The work is split in two passes per extrude: first plain 2D checks on the profile (so a
// bad curve is reported by its place, not by a later OCCT failure), then the OCCT build:
// edges -> wires (oriented: outer counter-clockwise, holes clockwise) -> face -> prism ->
// boolean with the body so far.
#include "kernel/compile.h"

#include <BRepAlgoAPI_Common.hxx>
#include <BRepAlgoAPI_Cut.hxx>
#include <BRepAlgoAPI_Fuse.hxx>
#include <BRepBuilderAPI_MakeEdge.hxx>
#include <BRepBuilderAPI_MakeFace.hxx>
#include <BRepBuilderAPI_MakeWire.hxx>
#include <BRepCheck.hxx>
#include <BRepGProp.hxx>
#include <GProp_GProps.hxx>
#include <BRepCheck_Analyzer.hxx>
#include <BRep_Tool.hxx>
#include <BRepPrimAPI_MakePrism.hxx>
#include <BRep_Builder.hxx>
#include <GC_MakeArcOfCircle.hxx>
#include <GC_MakeSegment.hxx>
#include <Message_ProgressIndicator.hxx>
#include <Message_ProgressScope.hxx>
#include <ShapeFix_Face.hxx>
#include <Standard_Failure.hxx>
#include <TopExp_Explorer.hxx>
#include <TopoDS.hxx>
#include <TopoDS_Compound.hxx>
#include <TopTools_ListOfShape.hxx>
#include <gp_Ax3.hxx>
#include <gp_Circ.hxx>
#include <gp_Pln.hxx>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <sstream>

#include "kernel/occt_shape.h"

namespace cadcrafter {
namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------
// 2D helpers

double dist(Vec2 a, Vec2 b) { return std::hypot(a.x - b.x, a.y - b.y); }
double cross(Vec2 o, Vec2 a, Vec2 b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(4);
  s << v;
  return s.str();
}

// A curve as the loop traverses it: from `a` to `b` (an arc passes through `mid`).
struct PlacedCurve {
  int index = 0;  // position in Loop::curves, for messages
  const Curve* curve = nullptr;
  Vec2 a, b;
};

// One loop after the checks: curves in traversal order, or a single circle.
struct CheckedLoop {
  std::vector<PlacedCurve> curves;
  double signed_area = 0.0;  // > 0: counter-clockwise in sketch (u, v) coordinates
};

double profile_extent(const Profile& profile) {
  double extent = 0.0;
  auto grow = [&](Vec2 p) { extent = std::max({extent, std::abs(p.x), std::abs(p.y)}); };
  for (const Loop& loop : profile.loops) {
    for (const Curve& c : loop.curves) {
      if (c.type == CurveType::kCircle) {
        grow({std::abs(c.center.x) + c.radius, std::abs(c.center.y) + c.radius});
      } else {
        grow(c.start);
        grow(c.end);
      }
    }
  }
  return extent;
}

bool finite(Vec2 p) { return std::isfinite(p.x) && std::isfinite(p.y); }
bool finite(Vec3 p) { return std::isfinite(p.x) && std::isfinite(p.y) && std::isfinite(p.z); }

// Checks one loop and puts its curves in traversal order. `where` is "extrude i, loop k".
Result<CheckedLoop> check_loop(const Loop& loop, const std::string& where, double tol) {
  CheckedLoop out;
  std::vector<int> kept;  // indices of curves that are not zero-length lines
  bool has_circle = false;
  for (size_t j = 0; j < loop.curves.size(); ++j) {
    const Curve& c = loop.curves[j];
    const std::string at = where + ", curve " + std::to_string(j) + ": ";
    const bool coords_ok = c.type == CurveType::kCircle ? finite(c.center) && std::isfinite(c.radius)
                                                         : finite(c.start) && finite(c.end) &&
                                                               (c.type != CurveType::kArc || finite(c.mid));
    if (!coords_ok) return Result<CheckedLoop>::fail(ErrorCode::kGeometry, at + "non-finite coordinates");
    switch (c.type) {
      case CurveType::kLine:
        if (dist(c.start, c.end) <= tol) continue;  // DeepCAD skips zero-length lines
        break;
      case CurveType::kArc: {
        const double chord = dist(c.start, c.end);
        if (chord <= tol)
          return Result<CheckedLoop>::fail(ErrorCode::kGeometry, at + "degenerate arc (start == end)");
        if (dist(c.mid, c.start) <= tol || dist(c.mid, c.end) <= tol)
          return Result<CheckedLoop>::fail(ErrorCode::kGeometry, at + "degenerate arc (mid point on an end point)");
        // Distance of the mid point from the chord, relative to the chord: zero means the three
        // points are collinear. Real data has very flat arcs (sagitta 1e-5 of the chord), so
        // only a numerically straight arc is refused here.
        if (std::abs(cross(c.start, c.mid, c.end)) / chord <= 1e-10 * chord)
          return Result<CheckedLoop>::fail(ErrorCode::kGeometry, at + "degenerate arc (start, mid and end are collinear)");
        break;
      }
      case CurveType::kCircle:
        if (!(c.radius > tol))
          return Result<CheckedLoop>::fail(ErrorCode::kGeometry, at + "degenerate circle (radius " + fmt(c.radius) + ")");
        has_circle = true;
        break;
    }
    kept.push_back(static_cast<int>(j));
  }
  if (kept.empty()) return Result<CheckedLoop>::fail(ErrorCode::kGeometry, where + ": loop has no curves of non-zero length");

  if (has_circle) {
    if (kept.size() != 1)
      return Result<CheckedLoop>::fail(ErrorCode::kGeometry, where + ": a circle must be a loop of its own, but this loop has " +
                                                                 std::to_string(kept.size()) + " curves");
    const Curve& c = loop.curves[kept[0]];
    out.curves.push_back({kept[0], &c, c.center, c.center});
    out.signed_area = M_PI * c.radius * c.radius;  // OCCT circles run counter-clockwise about the normal
    return out;
  }

  // Chain the curves end to start, reversing a curve when its end meets the chain (as DeepCAD's
  // reader does). The first curve is reversed when its start touches the second curve.
  auto place = [&](int j, bool reversed) {
    const Curve& c = loop.curves[j];
    return reversed ? PlacedCurve{j, &c, c.end, c.start} : PlacedCurve{j, &c, c.start, c.end};
  };
  bool first_reversed = false;
  if (kept.size() > 1) {
    const Curve& c0 = loop.curves[kept[0]];
    const Curve& c1 = loop.curves[kept[1]];
    const double forward = std::min(dist(c0.end, c1.start), dist(c0.end, c1.end));
    const double backward = std::min(dist(c0.start, c1.start), dist(c0.start, c1.end));
    first_reversed = backward < forward;
  }
  out.curves.push_back(place(kept[0], first_reversed));
  for (size_t k = 1; k < kept.size(); ++k) {
    const Vec2 tip = out.curves.back().b;
    const Curve& c = loop.curves[kept[k]];
    const double d_start = dist(tip, c.start), d_end = dist(tip, c.end);
    if (std::min(d_start, d_end) > tol)
      return Result<CheckedLoop>::fail(
          ErrorCode::kGeometry, where + " is open (gap " + fmt(std::min(d_start, d_end)) + " between curve " +
                                    std::to_string(out.curves.back().index) + " end and curve " + std::to_string(kept[k]) + " start)");
    out.curves.push_back(place(kept[k], d_end < d_start));
  }
  const double closing_gap = dist(out.curves.back().b, out.curves.front().a);
  if (closing_gap > tol)
    return Result<CheckedLoop>::fail(ErrorCode::kGeometry, where + " is open (gap " + fmt(closing_gap) + " between curve " +
                                                               std::to_string(out.curves.back().index) + " end and curve " +
                                                               std::to_string(out.curves.front().index) + " start)");
  // Exact signed area: the polygon of the end points, plus or minus each arc's circular
  // segment (plus when the arc bulges to the right of its chord, i.e. out of a
  // counter-clockwise loop).
  double area2 = 0.0;
  for (const PlacedCurve& pc : out.curves) {
    area2 += pc.a.x * pc.b.y - pc.b.x * pc.a.y;
    if (pc.curve->type != CurveType::kArc) continue;
    const Vec2 m = pc.curve->mid;
    const double side = cross(pc.a, pc.b, m);  // > 0: mid left of the chord
    const double chord = dist(pc.a, pc.b);
    const double radius = chord * dist(pc.b, m) * dist(m, pc.a) / (2.0 * std::abs(side));
    // The mid point and the centre are on opposite sides of the chord for a minor arc; the
    // mid point sees the chord at an obtuse angle exactly then.
    const double half = std::asin(std::min(1.0, chord / (2.0 * radius)));
    const bool minor = (pc.a.x - m.x) * (pc.b.x - m.x) + (pc.a.y - m.y) * (pc.b.y - m.y) < 0;
    const double sweep = minor ? 2.0 * half : 2.0 * M_PI - 2.0 * half;
    const double segment = 0.5 * radius * radius * (sweep - std::sin(sweep));
    area2 += 2.0 * (side > 0 ? -segment : segment);
  }
  out.signed_area = 0.5 * area2;
  if (std::abs(out.signed_area) <= tol * tol)
    return Result<CheckedLoop>::fail(ErrorCode::kGeometry, where + ": loop encloses no area");
  return out;
}

// The 3D frame of a sketch plane, checked.
struct Frame {
  gp_Pnt origin;
  gp_Vec x, y;  // as given: global = origin + u*x + v*y
  gp_Dir normal;
  bool right_handed = true;  // (x cross y) . normal > 0
};

Result<Frame> check_plane(const SketchPlane& plane, const std::string& where) {
  if (!finite(plane.origin) || !finite(plane.x_axis) || !finite(plane.y_axis) || !finite(plane.normal))
    return Result<Frame>::fail(ErrorCode::kGeometry, where + ": sketch plane has non-finite values");
  const gp_Vec x(plane.x_axis.x, plane.x_axis.y, plane.x_axis.z);
  const gp_Vec y(plane.y_axis.x, plane.y_axis.y, plane.y_axis.z);
  const gp_Vec n(plane.normal.x, plane.normal.y, plane.normal.z);
  if (x.Magnitude() < 1e-9 || y.Magnitude() < 1e-9 || n.Magnitude() < 1e-9)
    return Result<Frame>::fail(ErrorCode::kGeometry, where + ": sketch plane has a zero-length axis");
  const gp_Vec xy = x.Crossed(y);
  if (xy.Magnitude() < 1e-6 * x.Magnitude() * y.Magnitude())
    return Result<Frame>::fail(ErrorCode::kGeometry, where + ": sketch plane x and y axes are parallel");
  // The normal must leave the plane; DeepCAD sweeps along it as given.
  if (std::abs(xy.Normalized().Dot(n.Normalized())) < 1e-3)
    return Result<Frame>::fail(ErrorCode::kGeometry, where + ": sketch normal lies in the sketch plane");
  Frame f;
  f.origin = gp_Pnt(plane.origin.x, plane.origin.y, plane.origin.z);
  f.x = x;
  f.y = y;
  f.normal = gp_Dir(n);
  f.right_handed = xy.Dot(n) > 0;
  return f;
}

// The interval [lo, hi] along the normal that an extrude covers (see compile.h).
std::pair<double, double> extent_interval(const Extrude& e) {
  switch (e.extent_type) {
    case ExtentType::kOneSide: return {std::min(0.0, e.extent_one), std::max(0.0, e.extent_one)};
    case ExtentType::kSymmetric: return {-std::abs(e.extent_one), std::abs(e.extent_one)};
    case ExtentType::kTwoSides:
      return {std::min({0.0, e.extent_one, -e.extent_two}), std::max({0.0, e.extent_one, -e.extent_two})};
  }
  return {0.0, 0.0};
}

const char* operation_name(Operation op) {
  switch (op) {
    case Operation::kNewBody: return "new body";
    case Operation::kJoin: return "join";
    case Operation::kCut: return "cut";
    case Operation::kIntersect: return "intersect";
  }
  return "?";
}

// Everything the 2D pass learns about one extrude.
struct CheckedExtrude {
  Frame frame;
  std::vector<CheckedLoop> loops;
  double lo = 0.0, hi = 0.0;
  double tol = 1e-7;
};

Result<CheckedExtrude> check_extrude(const Extrude& e, int index) {
  const std::string where = "extrude " + std::to_string(index);
  CheckedExtrude out;
  auto frame = check_plane(e.plane, where);
  if (!frame) return frame.error();
  out.frame = *frame;
  if (e.profile.loops.empty()) return Result<CheckedExtrude>::fail(ErrorCode::kGeometry, where + ": profile has no loops");
  // Points closer than this are the same point. Source data shares end points exactly, so
  // this only absorbs rounding; OCCT's own confusion tolerance is 1e-7.
  out.tol = std::max(1e-7, 1e-9 * profile_extent(e.profile));
  for (size_t k = 0; k < e.profile.loops.size(); ++k) {
    auto loop = check_loop(e.profile.loops[k], where + ", loop " + std::to_string(k), out.tol);
    if (!loop) return loop.error();
    out.loops.push_back(std::move(loop.value()));
  }
  if (!std::isfinite(e.extent_one) || !std::isfinite(e.extent_two))
    return Result<CheckedExtrude>::fail(ErrorCode::kGeometry, where + ": non-finite extent");
  std::tie(out.lo, out.hi) = extent_interval(e);
  if (out.hi - out.lo <= 1e-7) return Result<CheckedExtrude>::fail(ErrorCode::kGeometry, where + ": zero extent");
  return out;
}

// ---------------------------------------------------------------------------------------
// OCCT build

// Lets OCCT's long algorithms (booleans) stop when the time is up or the caller cancels.
class DeadlineProgress : public Message_ProgressIndicator {
 public:
  DeadlineProgress(int timeout_ms, const std::atomic<bool>* cancel)
      : has_deadline_(timeout_ms > 0), deadline_(Clock::now() + std::chrono::milliseconds(timeout_ms)), cancel_(cancel) {}
  Standard_Boolean UserBreak() override { return expired(); }
  void Show(const Message_ProgressScope&, const Standard_Boolean) override {}
  bool expired() const {
    if (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) return true;
    return has_deadline_ && Clock::now() > deadline_;
  }

 private:
  bool has_deadline_;
  Clock::time_point deadline_;
  const std::atomic<bool>* cancel_;
};

gp_Pnt to_3d(const Frame& f, Vec2 p, double offset) {
  return f.origin.Translated(f.x * p.x + f.y * p.y + gp_Vec(f.normal) * offset);
}

TopoDS_Wire make_wire(const CheckedLoop& loop, const Frame& f, double offset, const std::string& where) {
  if (loop.curves.size() == 1 && loop.curves[0].curve->type == CurveType::kCircle) {
    const Curve& c = *loop.curves[0].curve;
    gp_Circ circ(gp_Ax2(to_3d(f, c.center, offset), f.normal, gp_Dir(gp_Vec(f.normal).Crossed(f.x).Crossed(gp_Vec(f.normal)))), c.radius);
    BRepBuilderAPI_MakeEdge edge(circ);
    if (!edge.IsDone()) throw Standard_Failure((where + ": cannot build circle edge").c_str());
    return BRepBuilderAPI_MakeWire(edge.Edge()).Wire();
  }
  BRepBuilderAPI_MakeWire wire;
  for (const PlacedCurve& pc : loop.curves) {
    const std::string at = where + ", curve " + std::to_string(pc.index);
    Handle(Geom_TrimmedCurve) curve;
    if (pc.curve->type == CurveType::kLine) {
      GC_MakeSegment seg(to_3d(f, pc.a, offset), to_3d(f, pc.b, offset));
      if (!seg.IsDone()) throw Standard_Failure((at + ": cannot build line").c_str());
      curve = seg.Value();
    } else {
      GC_MakeArcOfCircle arc(to_3d(f, pc.a, offset), to_3d(f, pc.curve->mid, offset), to_3d(f, pc.b, offset));
      if (!arc.IsDone()) throw Standard_Failure((at + ": cannot build arc through its three points").c_str());
      curve = arc.Value();
    }
    BRepBuilderAPI_MakeEdge edge(curve);
    if (!edge.IsDone()) throw Standard_Failure((at + ": cannot build edge").c_str());
    wire.Add(edge.Edge());
    if (!wire.IsDone()) throw Standard_Failure((at + ": does not connect to the previous curve").c_str());
  }
  TopoDS_Wire w = wire.Wire();
  if (!w.Closed() && !BRep_Tool::IsClosed(w)) throw Standard_Failure((where + ": wire is not closed").c_str());
  return w;
}

std::string first_check_problem(const TopoDS_Shape& shape);

// The profile region: one face, or (for touching loops) the faces of a 2D boolean.
TopoDS_Shape make_profile_face(const CheckedExtrude& ce, bool check_face, const std::string& where) {
  const Frame& f = ce.frame;
  const gp_Pnt origin = f.origin.Translated(gp_Vec(f.normal) * ce.lo);
  const gp_Pln plane(gp_Ax3(origin, f.normal, gp_Dir(gp_Vec(f.normal).Crossed(f.x).Crossed(gp_Vec(f.normal)))));
  // The plane's own (u, v) follow (x, normal x x); a left-handed sketch frame mirrors its
  // loops, so their orientation flips.
  const double handed = f.right_handed ? 1.0 : -1.0;
  // The outer loop is the one enclosing the largest area. DeepCAD puts the loop with the
  // smallest bounding-box corner first, which is the outline except when a hole touches the
  // outline's left side; Fusion (and FreeCAD) pick the outline geometrically.
  size_t outer = 0;
  for (size_t k = 1; k < ce.loops.size(); ++k)
    if (std::abs(ce.loops[k].signed_area) > std::abs(ce.loops[outer].signed_area)) outer = k;
  std::vector<TopoDS_Wire> wires;
  for (size_t k = 0; k < ce.loops.size(); ++k) {
    const std::string at = where + ", loop " + std::to_string(k);
    TopoDS_Wire w = make_wire(ce.loops[k], f, ce.lo, at);
    const bool ccw = ce.loops[k].signed_area * handed > 0;
    const bool want_ccw = k == outer;  // outer counter-clockwise, holes clockwise
    if (ccw != want_ccw) w.Reverse();
    if (k == outer) {
      wires.insert(wires.begin(), w);
    } else {
      wires.push_back(w);
    }
  }
  BRepBuilderAPI_MakeFace make(plane, wires[0], Standard_True);
  if (!make.IsDone()) throw Standard_Failure((where + ": cannot build the profile face").c_str());
  for (size_t k = 1; k < wires.size(); ++k) make.Add(wires[k]);
  TopoDS_Face face = make.Face();
  if (check_face && !BRepCheck_Analyzer(face).IsValid()) {
    ShapeFix_Face fix(face);
    fix.Perform();
    const TopoDS_Face fixed = fix.Face();
    if (BRepCheck_Analyzer(fixed).IsValid()) return fixed;
    // BRepCheck also flags loops that merely touch (a hole tangent to the outline), which
    // Fusion and DeepCAD build fine, but such a face breaks later booleans. Rebuild the
    // region as the outline's face minus each hole's face (a 2D boolean splits it cleanly),
    // and accept it when its area is the profile's exact area; a crossing loop or a hole
    // outside the outline changes the area.
    TopoDS_Shape region = BRepBuilderAPI_MakeFace(plane, wires[0], Standard_True).Face();
    for (size_t k = 1; k < wires.size(); ++k) {
      BRepAlgoAPI_Cut cut(region, BRepBuilderAPI_MakeFace(plane, wires[k], Standard_True).Face());
      if (!cut.IsDone() || cut.HasErrors())
        throw Standard_Failure((where + ": profile face is invalid (" + first_check_problem(fixed) + ")").c_str());
      region = cut.Shape();
    }
    double expected = 2.0 * std::abs(ce.loops[outer].signed_area);
    for (const CheckedLoop& loop : ce.loops) expected -= std::abs(loop.signed_area);
    expected *= ce.frame.x.Crossed(ce.frame.y).Magnitude();  // sketch units -> model units
    GProp_GProps props;
    BRepGProp::SurfaceProperties(region, props);
    if (!(expected > 0) || std::abs(props.Mass() - expected) > 1e-6 * expected)
      throw Standard_Failure((where + ": profile face is invalid (" + first_check_problem(fixed) + ")").c_str());
    return region;
  }
  return face;
}

std::string first_check_problem(const TopoDS_Shape& shape) {
  BRepCheck_Analyzer analyzer(shape);
  if (analyzer.IsValid()) return "valid";
  static const std::pair<TopAbs_ShapeEnum, const char*> kTypes[] = {
      {TopAbs_VERTEX, "vertex"}, {TopAbs_EDGE, "edge"}, {TopAbs_WIRE, "wire"},
      {TopAbs_FACE, "face"},     {TopAbs_SHELL, "shell"}, {TopAbs_SOLID, "solid"}};
  for (const auto& [type, name] : kTypes) {
    int n = 0;
    for (TopExp_Explorer ex(shape, type); ex.More(); ex.Next(), ++n) {
      const Handle(BRepCheck_Result)& res = analyzer.Result(ex.Current());
      if (res.IsNull()) continue;
      for (const BRepCheck_Status st : res->Status()) {
        if (st == BRepCheck_NoError) continue;
        std::ostringstream s;
        BRepCheck::Print(st, s);
        std::string text = s.str();
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        return "BRepCheck: " + text + " on " + name + " " + std::to_string(n);
      }
    }
  }
  return "BRepCheck: invalid shape";
}

bool has_solid(const TopoDS_Shape& s) { return !s.IsNull() && TopExp_Explorer(s, TopAbs_SOLID).More(); }

std::string boolean_errors(const BRepAlgoAPI_BooleanOperation& op) {
  std::ostringstream s;
  op.DumpErrors(s);
  std::string text = s.str();
  for (char& ch : text)
    if (ch == '\n') ch = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? std::string() : " (" + text + ")";
}

// `stage` names the extrude being built, so that an OCCT exception can be placed.
Result<Solid> build(const CadModel& model, const std::vector<CheckedExtrude>& checked, const CompileOptions& options,
                    std::string* stage) {
  Handle(DeadlineProgress) progress = new DeadlineProgress(options.timeout_ms, options.cancel);
  Message_ProgressScope scope(progress->Start(), "compile", static_cast<Standard_Real>(checked.size()));
  TopoDS_Shape body;
  for (size_t i = 0; i < checked.size(); ++i) {
    const Extrude& e = model.extrudes[i];
    const std::string where = "extrude " + std::to_string(i);
    *stage = where;
    if (progress->expired())
      return Result<Solid>::fail(ErrorCode::kTimeout, "timed out at " + where + " (limit " + std::to_string(options.timeout_ms) + " ms)");
    const TopoDS_Shape face = make_profile_face(checked[i], options.check_faces, where);
    const gp_Vec sweep = gp_Vec(checked[i].frame.normal) * (checked[i].hi - checked[i].lo);
    BRepPrimAPI_MakePrism prism(face, sweep, Standard_False, Standard_True);
    if (!prism.IsDone() || prism.Shape().IsNull())
      return Result<Solid>::fail(ErrorCode::kGeometry, where + ": cannot sweep the profile");
    const TopoDS_Shape tool = prism.Shape();
    Message_ProgressRange step = scope.Next();
    if (i == 0) {
      body = tool;
      continue;
    }
    const bool additive = e.operation == Operation::kNewBody || e.operation == Operation::kJoin;
    if (!has_solid(body)) {  // an earlier cut removed everything
      if (additive) body = tool;
      continue;
    }
    std::unique_ptr<BRepAlgoAPI_BooleanOperation> op;
    switch (e.operation) {
      case Operation::kNewBody:
      case Operation::kJoin: op = std::make_unique<BRepAlgoAPI_Fuse>(); break;
      case Operation::kCut: op = std::make_unique<BRepAlgoAPI_Cut>(); break;
      case Operation::kIntersect: op = std::make_unique<BRepAlgoAPI_Common>(); break;
    }
    TopTools_ListOfShape args, tools;
    args.Append(body);
    tools.Append(tool);
    op->SetArguments(args);
    op->SetTools(tools);
    op->SetRunParallel(Standard_False);  // parallelism comes from checking models side by side
    op->Build(step);
    if (progress->expired())
      return Result<Solid>::fail(ErrorCode::kTimeout, "timed out in " + where + " (boolean " + operation_name(e.operation) +
                                                          ", limit " + std::to_string(options.timeout_ms) + " ms)");
    if (!op->IsDone() || op->HasErrors())
      return Result<Solid>::fail(ErrorCode::kGeometry,
                                 where + ": boolean " + std::string(operation_name(e.operation)) + " failed" + boolean_errors(*op));
    body = op->Shape();
  }
  if (body.IsNull()) {
    TopoDS_Compound empty;
    BRep_Builder().MakeCompound(empty);
    body = empty;
  }
  return make_solid(body).with_unit(model.unit);
}

}  // namespace

Status validate_model_geometry(const CadModel& model) {
  if (model.extrudes.empty()) return Status::fail(ErrorCode::kGeometry, "model has no extrudes");
  for (size_t i = 0; i < model.extrudes.size(); ++i) {
    auto ce = check_extrude(model.extrudes[i], static_cast<int>(i));
    if (!ce) return ce.error();
  }
  return {};
}

Result<Solid> compile_model(const CadModel& model, const CompileOptions& options) {
  silence_occt_messages();
  if (model.extrudes.empty()) return Result<Solid>::fail(ErrorCode::kGeometry, "model has no extrudes");
  std::vector<CheckedExtrude> checked;
  for (size_t i = 0; i < model.extrudes.size(); ++i) {
    auto ce = check_extrude(model.extrudes[i], static_cast<int>(i));
    if (!ce) return ce.error();
    checked.push_back(std::move(ce.value()));
  }
  std::string stage = "model";
  try {
    return build(model, checked, options, &stage);
  } catch (const Standard_Failure& f) {
    const char* msg = f.GetMessageString();
    std::string text = msg != nullptr && *msg ? msg : f.DynamicType()->Name();
    if (text.rfind("extrude ", 0) != 0) text = stage + ": OCCT " + f.DynamicType()->Name() + ": " + text;
    return Result<Solid>::fail(ErrorCode::kGeometry, text);
  } catch (const std::exception& e) {
    return Result<Solid>::fail(ErrorCode::kInternal, std::string("kernel: ") + e.what());
  } catch (...) {
    return Result<Solid>::fail(ErrorCode::kInternal, "kernel: unknown exception");
  }
}

// Exposed to the checker (check.cpp) through a declaration there.
std::string describe_check_problem(const Solid& solid) { return first_check_problem(occt_shape(solid)); }

}  // namespace cadcrafter
