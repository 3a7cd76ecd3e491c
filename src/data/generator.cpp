#include "data/generator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "cad/deepcad_sketch.h"
#include "data/sketch_shapes.h"
#include "util/parallel.h"

namespace cadcrafter {
namespace {

using namespace shapes;
constexpr double kPi = 3.14159265358979323846;

// Uniform draws from the raw 64-bit engine output: std::uniform_real_distribution is not
// specified bit-exactly across standard libraries, this is.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double range(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int integer(int lo, int hi) {  // inclusive
    return lo + static_cast<int>(std::min<double>(hi - lo, std::floor(uniform() * (hi - lo + 1))));
  }
  bool chance(double p) { return uniform() < p; }
  size_t pick(const std::vector<double>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  std::mt19937_64 engine_;
};

// Designers type round numbers: dimensions snap to a grid that is ~1/100 of the part.
double snap(double value, double step) { return std::max(step, std::round(value / step) * step); }

Vec3 add(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
Vec3 scale(Vec3 a, double s) { return {a.x * s, a.y * s, a.z * s}; }
Vec3 neg(Vec3 a) { return {-a.x, -a.y, -a.z}; }

// A right-handed sketch frame: point(u, v, h) = origin + u x + v y + h n with n = x × y.
struct Frame {
  Vec3 origin, x, y, n;
  Vec3 point(double u, double v, double h = 0) const {
    return add(origin, add(scale(x, u), add(scale(y, v), scale(n, h))));
  }
  Frame offset(double h) const { return {point(0, 0, h), x, y, n}; }
  // The plane of the face u = c (normal +x), with local axes (y, n).
  Frame face_u(double c) const { return {point(c, 0), y, n, x}; }
  // The plane of the face v = c (normal +y), with local axes (x, -n).
  Frame face_v(double c) const { return {point(0, c), x, neg(n), y}; }
};

// Start frames on the principal planes, as Fusion's XY/XZ/YZ sketches are set up.
Frame principal_frame(int which) {
  switch (which) {
    case 0: return {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}};   // XY
    case 1: return {{0, 0, 0}, {1, 0, 0}, {0, 0, -1}, {0, 1, 0}};  // XZ (Fusion's y = -z)
    default: return {{0, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 0, 0}};  // YZ
  }
}

// Where features may go on top of a body made by one sketch frame: a rectangle or a disc in
// sketch coordinates and the body's range along the frame normal.
struct Slab {
  Frame frame;
  bool disc = false;
  Vec2 center;
  double half_w = 0, half_h = 0, radius = 0;
  double h0 = 0, h1 = 0;
  std::vector<std::pair<Vec2, double>> taken;  // footprints used on the top face
  double thickness() const { return h1 - h0; }
  double min_dim() const { return disc ? 2 * radius : 2 * std::min(half_w, half_h); }
};

// Collects extrudes and refuses any that would break DeepCAD's limits.
class Builder {
 public:
  Builder(const GeneratorOptions& options, Rng& rng) : options_(options), rng_(rng) {}

  bool add(const Frame& frame, std::vector<Loop> loops, Operation op, ExtentType type, double e1, double e2 = 0) {
    Extrude e;
    e.plane.origin = frame.origin;
    e.plane.x_axis = frame.x;
    e.plane.y_axis = frame.y;
    e.plane.normal = frame.n;
    e.profile.loops = std::move(loops);
    e.operation = model_.extrudes.empty() ? Operation::kNewBody : op;
    e.extent_type = type;
    e.extent_one = e1;
    e.extent_two = type == ExtentType::kTwoSides ? e2 : 0.0;
    model_.extrudes.push_back(std::move(e));
    if (!check_limits(model_, options_).empty()) {
      model_.extrudes.pop_back();
      return false;
    }
    return true;
  }
  // Room for `extrudes` more extrudes of about `rows_each` rows.
  bool has_room(int extrudes, int rows_each) const {
    return static_cast<int>(model_.extrudes.size()) + extrudes <= options_.max_extrudes &&
           count_rows(model_) + extrudes * rows_each <= options_.max_total_rows;
  }
  CadModel& model() { return model_; }
  Rng& rng() { return rng_; }

 private:
  const GeneratorOptions& options_;
  Rng& rng_;
  CadModel model_;
};

// ---- shapes ---------------------------------------------------------------------------------

// A convex polygon (points on an ellipse at sorted random angles), some edges bulged into arcs.
Loop polygon_with_arcs(Rng& rng, Vec2 c, double rx, double ry) {
  const int corners = rng.integer(3, 8);
  std::vector<double> angles;
  for (int i = 0; i < corners; ++i) angles.push_back((i + rng.range(-0.3, 0.3)) * 2 * kPi / corners);
  std::vector<Vec2> points;
  for (double a : angles) points.push_back({c.x + rx * std::cos(a), c.y + ry * std::sin(a)});
  Loop loop;
  const double arc_share = rng.range(0.0, 0.7);
  for (int i = 0; i < corners; ++i) {
    const Vec2 p = points[i], q = points[(i + 1) % corners];
    if (rng.chance(arc_share))
      loop.curves.push_back(make_arc_through_chord(p, q, rng.range(0.3, 1.2)));
    else
      loop.curves.push_back(make_line(p, q));
  }
  return loop;
}

// A convex polygon with every corner rounded: 2 curves per corner (arc + line).
Loop rounded_polygon(Rng& rng, Vec2 c, double rx, double ry) {
  const int corners = rng.integer(3, 6);
  std::vector<Vec2> p;
  for (int i = 0; i < corners; ++i) {
    const double a = (i + rng.range(-0.2, 0.2)) * 2 * kPi / corners;
    p.push_back({c.x + rx * std::cos(a), c.y + ry * std::sin(a)});
  }
  const double share = rng.range(0.15, 0.45);  // how much of the shorter edge a fillet eats
  std::vector<Vec2> t_in(corners), t_out(corners);
  std::vector<double> sweep(corners);
  for (int i = 0; i < corners; ++i) {
    const Vec2 prev = p[(i + corners - 1) % corners], here = p[i], next = p[(i + 1) % corners];
    const double l1 = std::hypot(prev.x - here.x, prev.y - here.y), l2 = std::hypot(next.x - here.x, next.y - here.y);
    const Vec2 u1{(prev.x - here.x) / l1, (prev.y - here.y) / l1}, u2{(next.x - here.x) / l2, (next.y - here.y) / l2};
    const double d = share * std::min(l1, l2);
    t_in[i] = {here.x + u1.x * d, here.y + u1.y * d};
    t_out[i] = {here.x + u2.x * d, here.y + u2.y * d};
    sweep[i] = kPi - std::acos(std::clamp(u1.x * u2.x + u1.y * u2.y, -1.0, 1.0));
  }
  Loop loop;
  for (int i = 0; i < corners; ++i) {
    loop.curves.push_back(make_arc_through_chord(t_in[i], t_out[i], sweep[i]));
    loop.curves.push_back(make_line(t_out[i], t_in[(i + 1) % corners]));
  }
  return loop;
}

// A circular segment: a straight chord closed by an arc (a "D" shape).
Loop d_shape(Rng& rng, Vec2 c, double half_w, double half_h) {
  const double sweep = rng.range(0.6, 1.0) * kPi;
  const double height = half_w * (1 - std::cos(sweep / 2)) / std::sin(sweep / 2);
  const double y0 = c.y - std::min(height, 2 * half_h) / 2;
  Loop loop;
  loop.curves.push_back(make_line({c.x - half_w, y0}, {c.x + half_w, y0}));
  loop.curves.push_back(make_arc_through_chord({c.x + half_w, y0}, {c.x - half_w, y0}, sweep));
  return loop;
}

// A closed outline fitting in a (2 half_w) x (2 half_h) box around c, drawn from the shapes
// real sketches use most.
// `inset` is the share of the box that is surely inside the outline (for placing holes).
Loop random_outline(Rng& rng, Vec2 c, double half_w, double half_h, double step, bool* is_disc, double* inset = nullptr) {
  const size_t kind = rng.pick({0.44, 0.14, 0.17, 0.07, 0.07, 0.04, 0.07});
  *is_disc = kind == 1;
  if (inset) *inset = kind == 3 ? 0.45 : kind == 4 ? 0.6 : kind == 2 ? 0.9 : kind == 5 ? 0.3 : kind == 6 ? 0.4 : 1.0;
  switch (kind) {
    case 0: return rectangle_loop(c, 2 * half_w, 2 * half_h);
    case 1: return circle_loop(c, std::min(half_w, half_h));
    case 2: {
      const double r = snap(rng.range(0.1, 0.45) * std::min(half_w, half_h) * 2, step / 2);
      if (r >= std::min(half_w, half_h)) return rectangle_loop(c, 2 * half_w, 2 * half_h);
      return rounded_rectangle_loop(c, 2 * half_w, 2 * half_h, r);
    }
    case 3: return polygon_with_arcs(rng, c, half_w, half_h);
    case 5: return d_shape(rng, c, half_w, half_h);
    case 6: return rounded_polygon(rng, c, half_w, half_h);
    default: {
      const double r = std::min(half_w, half_h);
      const double len = 2 * std::max(half_w, half_h) - 2 * r;
      if (len <= step) return circle_loop(c, r);
      return slot_loop(c, len, r, half_w >= half_h ? 0.0 : kPi / 2);
    }
  }
}

// ---- features on a slab --------------------------------------------------------------------

// A spot on the slab's top face for a feature of radius r, clear of the ones already there.
bool place(Rng& rng, Slab& slab, double r, Vec2* at) {
  const double margin = 0.06 * slab.min_dim();
  for (int attempt = 0; attempt < 24; ++attempt) {
    Vec2 p;
    if (slab.disc) {
      const double room = slab.radius - r - margin;
      if (room < 0) return false;
      const double rr = room * std::sqrt(rng.uniform()), a = rng.range(0, 2 * kPi);
      p = {slab.center.x + rr * std::cos(a), slab.center.y + rr * std::sin(a)};
    } else {
      const double rx = slab.half_w - r - margin, ry = slab.half_h - r - margin;
      if (rx < 0 || ry < 0) return false;
      p = {slab.center.x + rng.range(-rx, rx), slab.center.y + rng.range(-ry, ry)};
    }
    bool clear = true;
    for (const auto& [q, qr] : slab.taken) clear = clear && std::hypot(p.x - q.x, p.y - q.y) > r + qr + margin;
    if (!clear) continue;
    slab.taken.push_back({p, r});
    *at = p;
    return true;
  }
  return false;
}

// A hole from the top face: through (one side from the top or symmetric from the middle) or
// blind; round most of the time, sometimes a slot.
void add_hole(Builder& b, Slab& slab, double step) {
  Rng& rng = b.rng();
  const double r = snap(rng.range(0.05, 0.16) * slab.min_dim(), step / 2);
  const bool is_slot = rng.chance(0.15);
  const double len = is_slot ? snap(rng.range(1.0, 3.0) * r, step) : 0;
  Vec2 at;
  if (!place(rng, slab, r + len / 2, &at)) return;
  const Loop loop = is_slot ? slot_loop({0, 0}, len, r, rng.chance(0.5) ? 0 : kPi / 2) : circle_loop({0, 0}, r);
  auto moved = loop;
  for (Curve& c : moved.curves) {
    for (Vec2* p : {&c.start, &c.end, &c.mid, &c.center}) {
      p->x += at.x;
      p->y += at.y;
    }
  }
  const double t = slab.thickness();
  if (rng.chance(0.7)) {
    const bool through = rng.chance(0.8);
    b.add(slab.frame.offset(slab.h1), {moved}, Operation::kCut, ExtentType::kOneSide, -(through ? t : snap(rng.range(0.3, 0.8) * t, step / 4)));
  } else {
    b.add(slab.frame.offset((slab.h0 + slab.h1) / 2), {moved}, Operation::kCut, ExtentType::kSymmetric, t / 2);
  }
}

// Several equal holes on a line or a circle: one cut extrude per hole, as DeepCAD splits a
// multi-profile feature.
void add_hole_pattern(Builder& b, Slab& slab, double step) {
  Rng& rng = b.rng();
  const int n = rng.integer(2, slab.disc ? 6 : 4);
  if (!b.has_room(n, 3)) return;
  const double r = snap(rng.range(0.04, 0.1) * slab.min_dim(), step / 2);
  std::vector<Vec2> centers;
  if (slab.disc) {
    const double pitch = rng.range(0.55, 0.8) * slab.radius, a0 = rng.range(0, kPi);
    for (int i = 0; i < n; ++i)
      centers.push_back({slab.center.x + pitch * std::cos(a0 + 2 * kPi * i / n), slab.center.y + pitch * std::sin(a0 + 2 * kPi * i / n)});
  } else {
    const bool along_w = slab.half_w >= slab.half_h;
    const double span = (along_w ? slab.half_w : slab.half_h) * rng.range(0.5, 0.8);
    const double across = (along_w ? slab.half_h : slab.half_w) * rng.range(-0.5, 0.5);
    for (int i = 0; i < n; ++i) {
      const double s = -span + 2 * span * i / (n - 1);
      centers.push_back(along_w ? Vec2{slab.center.x + s, slab.center.y + across} : Vec2{slab.center.x + across, slab.center.y + s});
    }
  }
  for (const Vec2& c : centers)
    for (const auto& [q, qr] : slab.taken)
      if (std::hypot(c.x - q.x, c.y - q.y) < r + qr + 0.05 * slab.min_dim()) return;
  const double depth = rng.chance(0.85) ? slab.thickness() : snap(rng.range(0.3, 0.7) * slab.thickness(), step / 4);
  for (const Vec2& c : centers) {
    slab.taken.push_back({c, r});
    b.add(slab.frame.offset(slab.h1), {circle_loop(c, r)}, Operation::kCut, ExtentType::kOneSide, -depth);
  }
}

// Several equal bosses (pins, feet, standoffs) in a row or on a circle: one Join per boss, as
// one multi-profile feature splits in DeepCAD.
void add_boss_pattern(Builder& b, Slab& slab, double step) {
  Rng& rng = b.rng();
  const int n = rng.integer(2, 4);
  if (!b.has_room(n, 4)) return;
  const double r = snap(rng.range(0.05, 0.12) * slab.min_dim(), step / 2);
  const bool square = rng.chance(0.3);
  std::vector<Vec2> centers;
  if (slab.disc) {
    const double pitch = rng.range(0.5, 0.75) * slab.radius, a0 = rng.range(0, kPi);
    for (int i = 0; i < n; ++i)
      centers.push_back({slab.center.x + pitch * std::cos(a0 + 2 * kPi * i / n), slab.center.y + pitch * std::sin(a0 + 2 * kPi * i / n)});
  } else {
    const double sx = slab.half_w * rng.range(0.5, 0.8), sy = slab.half_h * rng.range(0.5, 0.8);
    const Vec2 corners[4] = {{-sx, -sy}, {sx, -sy}, {sx, sy}, {-sx, sy}};
    for (int i = 0; i < n; ++i) centers.push_back({slab.center.x + corners[i].x, slab.center.y + corners[i].y});
  }
  for (const Vec2& c : centers)
    for (const auto& [q, qr] : slab.taken)
      if (std::hypot(c.x - q.x, c.y - q.y) < r + qr + 0.05 * slab.min_dim()) return;
  const double height = snap(rng.range(0.3, 1.5) * std::max(slab.thickness(), 0.1 * slab.min_dim()), step / 2);
  for (const Vec2& c : centers) {
    slab.taken.push_back({c, r * 1.5});
    b.add(slab.frame.offset(slab.h1), {square ? rectangle_loop(c, 2 * r, 2 * r) : circle_loop(c, r)}, Operation::kJoin,
          ExtentType::kOneSide, height);
  }
}

// A blind pocket cut from the top face.
void add_pocket(Builder& b, Slab& slab, double step) {
  Rng& rng = b.rng();
  const double w = snap(rng.range(0.2, 0.5) * slab.min_dim(), step), h = snap(rng.range(0.2, 0.5) * slab.min_dim(), step);
  Vec2 at;
  if (!place(rng, slab, std::hypot(w, h) / 2, &at)) return;
  bool disc = false;
  const Loop loop = random_outline(rng, at, w / 2, h / 2, step, &disc);
  b.add(slab.frame.offset(slab.h1), {loop}, Operation::kCut, ExtentType::kOneSide, -snap(rng.range(0.25, 0.7) * slab.thickness(), step / 4));
}

// A boss (cylinder, tube or small block) standing on the top face.
void add_boss(Builder& b, Slab& slab, double step) {
  Rng& rng = b.rng();
  const double r = snap(rng.range(0.1, 0.3) * slab.min_dim(), step / 2);
  Vec2 at;
  if (!place(rng, slab, r, &at)) return;
  std::vector<Loop> loops;
  if (rng.chance(0.7)) {
    loops.push_back(circle_loop(at, r));
    if (rng.chance(0.4)) loops.push_back(circle_loop(at, snap(r * rng.range(0.3, 0.6), step / 4)));
  } else {
    loops.push_back(rng.chance(0.5) ? rectangle_loop(at, r * 1.4, r * 1.4) : rounded_rectangle_loop(at, r * 1.4, r * 1.4, r * 0.3));
  }
  b.add(slab.frame.offset(slab.h1), loops, Operation::kJoin, ExtentType::kOneSide, snap(rng.range(0.3, 1.5) * std::max(slab.thickness(), 0.1 * slab.min_dim()), step / 2));
}

// A thin wall standing on the top face.
void add_rib(Builder& b, Slab& slab, double step) {
  if (slab.disc) return add_boss(b, slab, step);
  Rng& rng = b.rng();
  const bool along_w = rng.chance(0.5);
  const double len = snap((along_w ? slab.half_w : slab.half_h) * rng.range(0.8, 1.6), step);
  const double width = snap(std::max(step, rng.range(0.04, 0.1) * slab.min_dim()), step / 2);
  Vec2 at;
  if (!place(rng, slab, std::max(len, width) / 2, &at)) return;
  const Loop loop = along_w ? rectangle_loop(at, len, width) : rectangle_loop(at, width, len);
  b.add(slab.frame.offset(slab.h1), {loop}, Operation::kJoin, ExtentType::kOneSide, snap(rng.range(0.5, 2.0) * slab.thickness(), step / 2));
}

// A hole drilled into a side face of a rectangular body.
void add_side_hole(Builder& b, Slab& slab, double step) {
  if (slab.disc) return add_hole(b, slab, step);
  Rng& rng = b.rng();
  const double t = slab.thickness();
  const double r = snap(rng.range(0.15, 0.35) * t, step / 4);
  if (r <= 0 || 2 * r >= 0.8 * t) return;
  const bool on_u = rng.chance(0.5);
  const double along = on_u ? slab.half_h : slab.half_w;  // room along the face
  const Vec2 at{rng.range(-0.6, 0.6) * along, (slab.h0 + slab.h1) / 2};
  const double depth = on_u ? 2 * slab.half_w : 2 * slab.half_h;
  const double cut = rng.chance(0.6) ? depth : snap(rng.range(0.2, 0.6) * depth, step / 2);
  if (on_u) {
    const Frame face = slab.frame.face_u(slab.center.x + slab.half_w);
    b.add(face, {circle_loop({slab.center.y + at.x, at.y}, r)}, Operation::kCut, ExtentType::kOneSide, -cut);
  } else {
    const Frame face = slab.frame.face_v(slab.center.y + slab.half_h);
    b.add(face, {circle_loop({slab.center.x + at.x, -at.y}, r)}, Operation::kCut, ExtentType::kOneSide, -cut);
  }
}

void add_features(Builder& b, Slab& slab, int count, double step, const std::vector<double>& weights) {
  for (int i = 0; i < count && b.has_room(1, 5); ++i) {
    switch (b.rng().pick(weights)) {
      case 0: add_hole(b, slab, step); break;
      case 1: add_hole_pattern(b, slab, step); break;
      case 2: add_pocket(b, slab, step); break;
      case 3: add_boss(b, slab, step); break;
      case 4: add_rib(b, slab, step); break;
      case 5: add_side_hole(b, slab, step); break;
      default: add_boss_pattern(b, slab, step); break;
    }
  }
}

// The base body: one sketch on `frame`, extruded with a random extent type. Returns the slab.
Slab extrude_base(Builder& b, const Frame& frame, std::vector<Loop> loops, bool disc, Vec2 center, double half_w,
                  double half_h, double thickness, double step) {
  Rng& rng = b.rng();
  Slab slab;
  slab.frame = frame;
  slab.disc = disc;
  slab.center = center;
  slab.half_w = half_w;
  slab.half_h = half_h;
  slab.radius = std::min(half_w, half_h);
  switch (rng.pick({0.8, 0.14, 0.06})) {
    case 0: {
      const double sign = rng.chance(0.85) ? 1.0 : -1.0;
      b.add(frame, std::move(loops), Operation::kNewBody, ExtentType::kOneSide, sign * thickness);
      slab.h0 = std::min(0.0, sign * thickness);
      slab.h1 = std::max(0.0, sign * thickness);
      break;
    }
    case 1:
      b.add(frame, std::move(loops), Operation::kNewBody, ExtentType::kSymmetric, thickness / 2);
      slab.h0 = -thickness / 2;
      slab.h1 = thickness / 2;
      break;
    default: {
      const double up = snap(thickness * rng.range(0.3, 0.7), step / 4);
      b.add(frame, std::move(loops), Operation::kNewBody, ExtentType::kTwoSides, up, thickness - up);
      slab.h0 = -(thickness - up);
      slab.h1 = up;
      break;
    }
  }
  return slab;
}

// Inner loops (holes) inside a base outline, each clear of the others.
std::vector<Loop> holes_inside(Rng& rng, Slab& slab, int count, double step) {
  std::vector<Loop> holes;
  for (int i = 0; i < count; ++i) {
    const double r = snap(rng.range(0.05, 0.15) * slab.min_dim(), step / 2);
    Vec2 at;
    if (!place(rng, slab, r, &at)) break;
    if (rng.chance(0.8)) {
      holes.push_back(circle_loop(at, r));
    } else {
      holes.push_back(reversed_loop(rectangle_loop(at, 1.4 * r, 1.4 * r)));
    }
  }
  return holes;
}

// ---- part families --------------------------------------------------------------------------

int feature_count(Rng& rng, int complexity, double mean) {
  const double m = mean * (complexity <= 1 ? 0.4 : complexity == 2 ? 1.0 : 2.0);
  int n = 0;  // geometric-like count with the given mean
  while (n < 8 && rng.chance(m / (m + 1))) ++n;
  return n;
}

// Draws a part size and grid step.
void draw_size(Rng& rng, const GeneratorOptions& o, double* size, double* step) {
  *size = std::exp(rng.range(std::log(o.min_size), std::log(o.max_size)));
  *step = *size > 5 ? 0.1 : 0.05;
  *size = snap(*size, *step);
}

void make_prism_or_plate(Builder& b, const GeneratorOptions& o, const Frame& frame, bool plate) {
  Rng& rng = b.rng();
  double size, step;
  draw_size(rng, o, &size, &step);
  const double half_w = snap(size / 2, step / 2), half_h = snap(size / 2 * rng.range(0.3, 1.0), step / 2);
  const double thickness = snap(size * (plate ? rng.range(0.05, 0.25) : rng.range(0.1, 1.5)), step / 2);
  const Vec2 center = rng.chance(0.6) ? Vec2{0, 0} : Vec2{snap(rng.range(-1, 1) * size, step), snap(rng.range(-1, 1) * size, step)};
  bool disc = false;
  double inset = 1.0;
  Loop outline = random_outline(rng, center, half_w, half_h, step, &disc, &inset);
  Slab probe;  // the region surely inside the outline (polygons and slots are smaller than their box)
  probe.disc = disc;
  probe.center = center;
  probe.half_w = half_w * inset;
  probe.half_h = half_h * inset;
  probe.radius = std::min(half_w, half_h) * inset;
  std::vector<Loop> loops{outline};
  const int inner = plate ? feature_count(rng, o.complexity, 0.9) : (rng.chance(0.25) ? 1 : 0);
  for (Loop& h : holes_inside(rng, probe, std::min(inner, 5), step)) loops.push_back(h);
  // A sketch whose rectangle is divided by lines into strips gives several profiles extruded
  // together: DeepCAD splits them into a NewBody and Joins with the same extent.
  const bool plain_rectangle = outline.curves.size() == 4 && loops.size() == 1 && outline.curves[0].type == CurveType::kLine;
  std::vector<Loop> strips;
  if (plain_rectangle && rng.chance(0.3)) {
    const int n = rng.integer(2, 3 + (o.complexity > 2));
    double u = center.x - half_w;
    for (int i = 0; i < n; ++i) {
      const double w = i + 1 == n ? center.x + half_w - u : snap(2 * half_w * rng.range(0.5, 1.5) / n, step / 2);
      if (w <= step / 2 || u + w > center.x + half_w) break;
      strips.push_back(rectangle_loop({u + w / 2, center.y}, w, 2 * half_h));
      u += w;
    }
    if (strips.size() < 2 || std::fabs(u - (center.x + half_w)) > 1e-9) strips.clear();
  }
  Slab slab = extrude_base(b, frame, strips.empty() ? loops : std::vector<Loop>{strips[0]}, disc, center, probe.half_w,
                           probe.half_h, thickness, step);
  for (size_t i = 1; i < strips.size(); ++i) {
    const Extrude& base = b.model().extrudes[0];
    b.add(frame, {strips[i]}, Operation::kJoin, base.extent_type, base.extent_one, base.extent_two);
  }
  slab.taken = probe.taken;
  const int features = feature_count(rng, o.complexity, plate ? 1.8 : 0.3);
  add_features(b, slab, features, step, {0.17, 0.06, 0.17, 0.25, 0.15, 0.08, 0.12});
}

void make_flange(Builder& b, const GeneratorOptions& o, const Frame& frame) {
  Rng& rng = b.rng();
  double size, step;
  draw_size(rng, o, &size, &step);
  const double R = snap(size / 2, step / 2);
  const double t = snap(R * rng.range(0.1, 0.4), step / 4);
  const bool bore = rng.chance(0.8);
  const double r_bore = snap(R * rng.range(0.15, 0.35), step / 4);
  std::vector<Loop> loops{circle_loop({0, 0}, R)};
  if (bore) loops.push_back(circle_loop({0, 0}, r_bore));
  const int bolts = rng.integer(3, 6);
  const double pitch = R * rng.range(0.6, 0.78), r_bolt = snap(R * rng.range(0.05, 0.1), step / 4);
  const double a0 = rng.chance(0.5) ? 0.0 : kPi / bolts;
  const bool bolts_in_profile = rng.chance(0.7) && static_cast<int>(loops.size()) + bolts <= o.max_loops_per_profile;
  auto bolt_center = [&](int i) { return Vec2{pitch * std::cos(a0 + 2 * kPi * i / bolts), pitch * std::sin(a0 + 2 * kPi * i / bolts)}; };
  if (bolts_in_profile)
    for (int i = 0; i < bolts; ++i) loops.push_back(circle_loop(bolt_center(i), r_bolt));
  Slab slab = extrude_base(b, frame, loops, true, {0, 0}, R, R, t, step);
  // The hub: a tube (or cylinder, bored afterwards) on the top face.
  if (rng.chance(0.75)) {
    const double r_hub = snap(std::min(pitch - r_bolt - 0.05 * R, R * rng.range(0.35, 0.55)), step / 4);
    std::vector<Loop> hub{circle_loop({0, 0}, r_hub)};
    if (bore && r_hub > r_bore * 1.2) hub.push_back(circle_loop({0, 0}, r_bore));
    const double hub_h = snap(t * rng.range(0.8, 3.0), step / 4);
    b.add(slab.frame.offset(slab.h1), hub, Operation::kJoin, ExtentType::kOneSide, hub_h);
    if (!bore && rng.chance(0.6))
      b.add(slab.frame.offset(slab.h1 + hub_h), {circle_loop({0, 0}, snap(r_hub * 0.5, step / 4))}, Operation::kCut, ExtentType::kOneSide,
            -(hub_h + t));
  }
  if (!bolts_in_profile && b.has_room(bolts, 3))
    for (int i = 0; i < bolts; ++i)
      b.add(slab.frame.offset(slab.h1), {circle_loop(bolt_center(i), r_bolt)}, Operation::kCut, ExtentType::kOneSide, -t);
}

void make_shaft(Builder& b, const GeneratorOptions& o, const Frame& frame) {
  Rng& rng = b.rng();
  double size, step;
  draw_size(rng, o, &size, &step);
  const int segments = std::min(rng.integer(2, 2 + o.complexity), 5);
  double r = snap(size * rng.range(0.1, 0.3), step / 4), h = 0, r_max = 0, r_min = 1e9;
  const bool tube = rng.chance(0.2);
  const double r_in = snap(r * 0.4, step / 4);
  for (int i = 0; i < segments; ++i) {
    const double len = snap(size * rng.range(0.15, 0.6), step / 2);
    std::vector<Loop> loops{circle_loop({0, 0}, r)};
    if (tube && r > r_in * 1.3) loops.push_back(circle_loop({0, 0}, r_in));
    if (!b.add(frame.offset(h), loops, Operation::kJoin, ExtentType::kOneSide, len)) break;
    h += len;
    r_max = std::max(r_max, r);
    r_min = std::min(r_min, r);
    r = snap(r * (rng.chance(0.6) ? rng.range(0.55, 0.9) : rng.range(1.1, 1.6)), step / 4);
  }
  if (!tube && rng.chance(0.4))  // a centre bore from the top end
    b.add(frame.offset(h), {circle_loop({0, 0}, snap(r_min * 0.4, step / 4))}, Operation::kCut, ExtentType::kOneSide,
          -snap(h * rng.range(0.3, 1.0), step / 4));
  if (rng.chance(0.3)) {  // a cross hole through the shaft
    const double z = snap(h * rng.range(0.1, 0.9), step / 4);
    b.add(frame.face_u(0), {circle_loop({0, z}, snap(r_min * 0.3, step / 4))}, Operation::kCut, ExtentType::kSymmetric, r_max * 1.1);
  }
}

// An L (two legs) or U (floor and two walls) outline in the sketch's (u, v) plane, extruded
// along the frame normal, with holes through the floor/walls and a gusset for the L.
void make_bracket(Builder& b, const GeneratorOptions& o, const Frame& frame, bool u_shape) {
  Rng& rng = b.rng();
  double size, step;
  draw_size(rng, o, &size, &step);
  const double a = snap(size, step);                          // floor length (u)
  const double hgt = snap(size * rng.range(0.3, 0.9), step);  // leg/wall height (v)
  const double t = snap(size * rng.range(0.05, 0.15), step / 2);
  const double w = snap(size * rng.range(0.3, 0.8), step);  // extrusion width (n)
  Loop outline;
  if (u_shape) {
    outline = polygon_loop({{0, 0}, {a, 0}, {a, hgt}, {a - t, hgt}, {a - t, t}, {t, t}, {t, hgt}, {0, hgt}});
  } else if (rng.chance(0.4)) {  // inner fillet, maybe an outer round too
    const double f = snap(t * rng.range(0.5, 1.5), step / 4);
    const double fo = rng.chance(0.5) ? snap(t * rng.range(0.3, 0.9), step / 4) : 0.0;
    if (fo > 0) {
      outline.curves.push_back(make_line({fo, 0}, {a, 0}));
    } else {
      outline.curves.push_back(make_line({0, 0}, {a, 0}));
    }
    outline.curves.push_back(make_line({a, 0}, {a, t}));
    outline.curves.push_back(make_line({a, t}, {t + f, t}));
    outline.curves.push_back(make_arc_through_chord({t + f, t}, {t, t + f}, -kPi / 2));
    outline.curves.push_back(make_line({t, t + f}, {t, hgt}));
    outline.curves.push_back(make_line({t, hgt}, {0, hgt}));
    if (fo > 0) {
      outline.curves.push_back(make_line({0, hgt}, {0, fo}));
      outline.curves.push_back(make_arc_through_chord({0, fo}, {fo, 0}, kPi / 2));
    } else {
      outline.curves.push_back(make_line({0, hgt}, {0, 0}));
    }
  } else {
    outline = polygon_loop({{0, 0}, {a, 0}, {a, t}, {t, t}, {t, hgt}, {0, hgt}});
  }
  const bool symmetric = rng.chance(0.3);
  b.add(frame, {outline}, Operation::kNewBody, symmetric ? ExtentType::kSymmetric : ExtentType::kOneSide, symmetric ? w / 2 : w);
  const double n0 = symmetric ? -w / 2 : 0, n1 = symmetric ? w / 2 : w;
  // Gusset in the inner corner of an L, centred across the width.
  if (!u_shape && rng.chance(0.35)) {
    const double g = snap(std::min(a, hgt) * rng.range(0.3, 0.6), step), eps = t * 0.25;
    const double rib = snap(std::max(step / 2, t * rng.range(0.6, 1.2)), step / 4);
    b.add(frame.offset((n0 + n1) / 2), {polygon_loop({{t - eps, t - eps}, {t + g, t - eps}, {t - eps, t + g}})}, Operation::kJoin,
          ExtentType::kSymmetric, rib / 2);
  }
  // Holes through the floor, from its top face (v = t) down.
  const int floor_holes = feature_count(rng, o.complexity, 0.6);
  const double u_lo = t * (u_shape ? 1 : 1), u_hi = u_shape ? a - t : a;
  for (int i = 0; i < floor_holes && b.has_room(1, 3); ++i) {
    const double r = snap(std::min(w, u_hi - u_lo) * rng.range(0.06, 0.15), step / 4);
    const double u = rng.range(u_lo + 2 * r, u_hi - 2 * r), n = rng.range(n0 + 2 * r, n1 - 2 * r);
    if (u_hi - u_lo < 4 * r || n1 - n0 < 4 * r) break;
    b.add(frame.face_v(t), {circle_loop({u, -n}, r)}, Operation::kCut, ExtentType::kOneSide, -t);
  }
  // Holes through the wall at u in [0, t], from its inner face (u = t).
  const int wall_holes = feature_count(rng, o.complexity, 0.35);
  for (int i = 0; i < wall_holes && b.has_room(1, 3); ++i) {
    const double r = snap(std::min(w, hgt - t) * rng.range(0.06, 0.15), step / 4);
    if (hgt - t < 4 * r || n1 - n0 < 4 * r) break;
    const double v = rng.range(t + 2 * r, hgt - 2 * r), n = rng.range(n0 + 2 * r, n1 - 2 * r);
    b.add(frame.face_u(t), {circle_loop({v, n}, r)}, Operation::kCut, ExtentType::kOneSide, -t);
  }
}

// A block with features on the top and its sides.
void make_block(Builder& b, const GeneratorOptions& o, const Frame& frame) {
  Rng& rng = b.rng();
  double size, step;
  draw_size(rng, o, &size, &step);
  const double half_w = snap(size / 2, step / 2), half_h = snap(size / 2 * rng.range(0.4, 1.0), step / 2);
  const double thickness = snap(size * rng.range(0.25, 0.8), step / 2);
  Slab slab = extrude_base(b, frame, {rectangle_loop({0, 0}, 2 * half_w, 2 * half_h)}, false, {0, 0}, half_w, half_h, thickness, step);
  add_features(b, slab, std::max(1, feature_count(rng, o.complexity, 1.5)), step, {0.2, 0.05, 0.2, 0.2, 0.1, 0.2, 0.05});
}

// Flip an extrude whose normal points down an axis so that it points up: the same solid,
// but DeepCAD's (θ, φ, γ) encode a positive normal without clipping θ = π.
void canonicalise_plane(Extrude& e) {
  const Vec3 n = e.plane.normal;
  const bool negative = n.x < -0.5 || n.y < -0.5 || n.z < -0.5;
  if (!negative) return;
  e.plane.normal = neg(n);
  e.plane.y_axis = neg(e.plane.y_axis);
  for (Loop& loop : e.profile.loops) loop = mirrored_loop_v(loop);
  if (e.extent_type == ExtentType::kOneSide) e.extent_one = -e.extent_one;
  if (e.extent_type == ExtentType::kTwoSides) std::swap(e.extent_one, e.extent_two);
}

// The box of the additive extrusions (as the F360 files define properties.bounding_box).
BoundingBox additive_box(const CadModel& model) {
  BoundingBox box{{1e300, 1e300, 1e300}, {-1e300, -1e300, -1e300}};
  for (const Extrude& e : model.extrudes) {
    if (e.operation != Operation::kNewBody && e.operation != Operation::kJoin) continue;
    double lo = 0, hi = 0;
    switch (e.extent_type) {
      case ExtentType::kOneSide: lo = std::min(0.0, e.extent_one), hi = std::max(0.0, e.extent_one); break;
      case ExtentType::kSymmetric: lo = -e.extent_one, hi = e.extent_one; break;
      case ExtentType::kTwoSides: lo = -e.extent_two, hi = e.extent_one; break;
    }
    const Frame f{e.plane.origin, e.plane.x_axis, e.plane.y_axis, e.plane.normal};
    for (const Loop& loop : e.profile.loops) {
      const Box2 b2 = loop_box(loop);
      for (double u : {b2.min.x, b2.max.x})
        for (double v : {b2.min.y, b2.max.y})
          for (double h : {lo, hi}) {
            const Vec3 p = f.point(u, v, h);
            box.min = {std::min(box.min.x, p.x), std::min(box.min.y, p.y), std::min(box.min.z, p.z)};
            box.max = {std::max(box.max.x, p.x), std::max(box.max.y, p.y), std::max(box.max.z, p.z)};
          }
    }
  }
  return box;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

const char* part_family_name(PartFamily family) {
  switch (family) {
    case PartFamily::kPrism: return "prism";
    case PartFamily::kPlate: return "plate";
    case PartFamily::kFlange: return "flange";
    case PartFamily::kShaft: return "shaft";
    case PartFamily::kLBracket: return "l_bracket";
    case PartFamily::kUChannel: return "u_channel";
    case PartFamily::kBlock: return "block";
  }
  return "unknown";
}

int count_rows(const CadModel& model) {
  int rows = 1;  // EOS
  for (const Extrude& e : model.extrudes) {
    rows += 1;  // Ext
    for (const Loop& loop : e.profile.loops) rows += 1 + static_cast<int>(loop.curves.size());
  }
  return rows;
}

std::string check_limits(const CadModel& model, const GeneratorOptions& o) {
  if (static_cast<int>(model.extrudes.size()) > o.max_extrudes) return "MAX_N_EXT: " + std::to_string(model.extrudes.size()) + " extrudes";
  for (const Extrude& e : model.extrudes) {
    if (static_cast<int>(e.profile.loops.size()) > o.max_loops_per_profile)
      return "MAX_N_LOOPS: " + std::to_string(e.profile.loops.size()) + " loops";
    for (const Loop& loop : e.profile.loops)
      if (1 + static_cast<int>(loop.curves.size()) > o.max_rows_per_loop)
        return "MAX_N_CURVES: " + std::to_string(loop.curves.size()) + " curves in a loop";
  }
  const int rows = count_rows(model);
  if (rows > o.max_total_rows) return "MAX_TOTAL_LEN: " + std::to_string(rows) + " rows";
  return "";
}

CadModel generate_model(const GeneratorOptions& options, uint64_t seed, PartFamily* family_out) {
  Rng rng(seed);
  Builder b(options, rng);
  Frame frame = principal_frame(static_cast<int>(rng.pick({0.45, 0.35, 0.2})));
  if (rng.chance(0.2)) frame = frame.offset(std::round(rng.range(-1.0, 1.0) * options.max_size * 0.2 * 10) / 10);
  // Family weights: F360 models are mostly one or two simple extrudes.
  const std::vector<double> simple{0.5, 0.2, 0.08, 0.07, 0.06, 0.04, 0.05};
  const std::vector<double> normal{0.45, 0.15, 0.06, 0.12, 0.08, 0.04, 0.1};
  const std::vector<double> rich{0.1, 0.25, 0.15, 0.12, 0.13, 0.1, 0.15};
  const auto family = static_cast<PartFamily>(rng.pick(options.complexity <= 1 ? simple : options.complexity == 2 ? normal : rich));
  switch (family) {
    case PartFamily::kPrism: make_prism_or_plate(b, options, frame, false); break;
    case PartFamily::kPlate: make_prism_or_plate(b, options, frame, true); break;
    case PartFamily::kFlange: make_flange(b, options, frame); break;
    case PartFamily::kShaft: make_shaft(b, options, frame); break;
    case PartFamily::kLBracket: make_bracket(b, options, frame, false); break;
    case PartFamily::kUChannel: make_bracket(b, options, frame, true); break;
    case PartFamily::kBlock: make_block(b, options, frame); break;
  }
  CadModel& model = b.model();
  for (Extrude& e : model.extrudes) canonicalise_plane(e);
  model.bbox = additive_box(model);
  // Put loops and curves in the order DeepCAD's reader would give them, so that encode() of
  // this model equals encode() of its cad_json read back (as for real data).
  deepcad::reorder_model(model);
  char id[40];
  std::snprintf(id, sizeof id, "synth_%016llx", static_cast<unsigned long long>(seed));
  model.id = id;
  if (family_out) *family_out = family;
  return model;
}

uint64_t derive_seed(uint64_t base_seed, uint64_t index, uint64_t attempt) {
  return splitmix64(splitmix64(splitmix64(base_seed) ^ index) ^ (attempt * 0xD1B54A32D192ED03ull));
}

std::vector<GeneratedModel> generate_valid_models(const GeneratorOptions& options, uint64_t base_seed, int64_t count,
                                                  const ModelChecker& checker, const ModelKey& key, int threads,
                                                  GenerationReport* report, const std::function<void(int64_t)>& on_progress) {
  // Each index walks its own attempt sequence until the checker accepts a model; that is
  // independent of scheduling. Duplicates are settled afterwards in index order, and the
  // later index simply continues its walk, so the final set is the same for any `threads`.
  struct Slot {
    GeneratedModel model;
    std::string key;
    uint64_t next_attempt = 0;
    int64_t attempts = 0, invalid = 0;
  };
  std::vector<Slot> slots(static_cast<size_t>(count));
  auto fill = [&](Slot& slot, int64_t index) {
    for (;;) {
      const uint64_t seed = derive_seed(base_seed, static_cast<uint64_t>(index), slot.next_attempt++);
      ++slot.attempts;
      PartFamily family;
      CadModel m = generate_model(options, seed, &family);
      if (m.extrudes.empty() || (checker && !checker(m).ok())) {
        ++slot.invalid;
        continue;
      }
      slot.key = key ? key(m) : std::string();
      slot.model = {std::move(m), seed, family};
      return;
    }
  };
  std::atomic<int64_t> done{0};
  parallel_for(count, threads, [&](int64_t i, int) {
    fill(slots[static_cast<size_t>(i)], i);
    if (on_progress) on_progress(++done);
  });
  int64_t duplicates = 0;
  if (key) {
    std::set<std::string> seen;
    for (int64_t i = 0; i < count; ++i) {
      Slot& slot = slots[static_cast<size_t>(i)];
      while (!seen.insert(slot.key).second) {
        ++duplicates;
        fill(slot, i);
      }
    }
  }
  std::vector<GeneratedModel> out;
  out.reserve(slots.size());
  int64_t attempts = 0, invalid = 0;
  for (Slot& slot : slots) {
    attempts += slot.attempts;
    invalid += slot.invalid;
    out.push_back(std::move(slot.model));
  }
  if (report) *report = {attempts, invalid, duplicates};
  return out;
}

}  // namespace cadcrafter
