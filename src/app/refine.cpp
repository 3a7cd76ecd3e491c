#include "app/refine.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "app/pattern_search.h"
#include "kernel/tessellate.h"

namespace cadcrafter::app {

namespace {

using Clock = std::chrono::steady_clock;
using Kind = ModelParameter::Kind;

constexpr double kPi = 3.14159265358979323846;

double norm(const Vec3& v) { return std::sqrt(v.x * v.x + v.y * v.y + v.z * v.z); }
Vec3 times(const Vec3& v, const Vec3& s) { return {v.x * s.x, v.y * s.y, v.z * s.z}; }

// Centre of the profile's points (line and arc points, circles' extremes): the pivot of its scaling.
Vec2 profile_centre(const Profile& profile) {
  double x0 = std::numeric_limits<double>::infinity(), y0 = x0, x1 = -x0, y1 = -x0;
  auto grow = [&](Vec2 p) {
    x0 = std::min(x0, p.x);
    y0 = std::min(y0, p.y);
    x1 = std::max(x1, p.x);
    y1 = std::max(y1, p.y);
  };
  for (const Loop& loop : profile.loops)
    for (const Curve& c : loop.curves) {
      if (c.type == CurveType::kCircle) {
        grow({c.center.x - c.radius, c.center.y - c.radius});
        grow({c.center.x + c.radius, c.center.y + c.radius});
        continue;
      }
      grow(c.start);
      grow(c.end);
      if (c.type == CurveType::kArc) grow(c.mid);
    }
  if (!(x1 >= x0)) return {0, 0};
  return {(x0 + x1) / 2, (y0 + y1) / 2};
}

// The arc's centre, radius and DeepCAD bookkeeping (start_angle 0, end_angle = sweep, ref_vec the
// end from which a counter-clockwise turn by sweep / 2 reaches the mid point, as the decoder
// writes them) re-derived from its start, mid and end points. Leaves collinear points alone (the
// kernel check rejects them).
void refit_arc(Curve& c) {
  const double ax = c.start.x, ay = c.start.y, bx = c.mid.x, by = c.mid.y, ex = c.end.x, ey = c.end.y;
  const double d = 2 * (ax * (by - ey) + bx * (ey - ay) + ex * (ay - by));
  if (std::fabs(d) < 1e-300) return;
  const double a2 = ax * ax + ay * ay, b2 = bx * bx + by * by, e2 = ex * ex + ey * ey;
  const Vec2 centre{(a2 * (by - ey) + b2 * (ey - ay) + e2 * (ay - by)) / d,
                    (a2 * (ex - bx) + b2 * (ax - ex) + e2 * (bx - ax)) / d};
  const double radius = std::hypot(ax - centre.x, ay - centre.y);
  if (!(radius > 0) || !std::isfinite(radius)) return;
  const bool ccw = (bx - ax) * (ey - ay) - (by - ay) * (ex - ax) > 0;  // start -> mid -> end turns left
  const double as = std::atan2(ay - centre.y, ax - centre.x), ae = std::atan2(ey - centre.y, ex - centre.x);
  double sweep = ccw ? ae - as : as - ae;
  while (sweep <= 0) sweep += 2 * kPi;
  while (sweep > 2 * kPi) sweep -= 2 * kPi;
  const Vec2 from = ccw ? c.start : c.end;
  c.center = centre;
  c.radius = radius;
  c.start_angle = 0;
  c.end_angle = sweep;
  c.ref_vec = {(from.x - centre.x) / radius, (from.y - centre.y) / radius};
}

// Every point of the profile moved to pivot + (p - pivot) * (su, sv).
void scale_profile(Profile& profile, Vec2 pivot, double su, double sv) {
  auto map = [&](Vec2& p) { p = {pivot.x + (p.x - pivot.x) * su, pivot.y + (p.y - pivot.y) * sv}; };
  for (Loop& loop : profile.loops)
    for (Curve& c : loop.curves) {
      switch (c.type) {
        case CurveType::kLine:
          map(c.start);
          map(c.end);
          break;
        case CurveType::kArc:
          map(c.start);
          map(c.mid);
          map(c.end);
          if (su != sv) {
            refit_arc(c);
          } else {
            map(c.center);
            c.radius *= su;
          }
          break;
        case CurveType::kCircle:
          map(c.center);
          c.radius *= std::sqrt(su * sv);
          break;
      }
    }
}

double longest_side(const BoundingBox& b) {
  return std::max({b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z});
}

}  // namespace

std::vector<ModelParameter> model_parameters(const CadModel& model) {
  std::vector<ModelParameter> out;
  const bool several = model.extrudes.size() > 1;
  if (several) {
    out.push_back({Kind::kProportionY, -1, "proportion y/x", true});
    out.push_back({Kind::kProportionZ, -1, "proportion z/x", true});
  }
  for (size_t i = 0; i < model.extrudes.size(); ++i) {
    const Extrude& e = model.extrudes[i];
    const int k = static_cast<int>(i);
    const std::string at = "extrude " + std::to_string(i + 1) + " ";
    if (e.extent_one != 0) out.push_back({Kind::kExtentOne, k, at + "extent_one", true});
    if (e.extent_type == ExtentType::kTwoSides && e.extent_two != 0)
      out.push_back({Kind::kExtentTwo, k, at + "extent_two", true});
    if (several) out.push_back({Kind::kOffset, k, at + "offset along the normal", false});
    out.push_back({Kind::kProfileU, k, at + "profile scale u", true});
    out.push_back({Kind::kProfileV, k, at + "profile scale v", true});
  }
  return out;
}

CadModel apply_parameters(const CadModel& model, const std::vector<ModelParameter>& parameters,
                          const std::vector<double>& x, double size) {
  CadModel out = model;
  Vec3 s{1, 1, 1};
  std::vector<double> su(model.extrudes.size(), 1.0), sv = su;
  for (size_t p = 0; p < parameters.size() && p < x.size(); ++p) {
    const ModelParameter& m = parameters[p];
    const double factor = std::exp(x[p]);
    Extrude* e = m.extrude >= 0 ? &out.extrudes[static_cast<size_t>(m.extrude)] : nullptr;
    switch (m.kind) {
      case Kind::kProportionY: s.y = factor; break;
      case Kind::kProportionZ: s.z = factor; break;
      case Kind::kExtentOne: e->extent_one *= factor; break;
      case Kind::kExtentTwo: e->extent_two *= factor; break;
      case Kind::kOffset: {
        const Vec3& n = e->plane.normal;
        e->plane.origin = {e->plane.origin.x + n.x * x[p] * size, e->plane.origin.y + n.y * x[p] * size,
                           e->plane.origin.z + n.z * x[p] * size};
        break;
      }
      case Kind::kProfileU: su[static_cast<size_t>(m.extrude)] = factor; break;
      case Kind::kProfileV: sv[static_cast<size_t>(m.extrude)] = factor; break;
    }
  }
  for (size_t i = 0; i < out.extrudes.size(); ++i) {
    Extrude& e = out.extrudes[i];
    if (su[i] != 1.0 || sv[i] != 1.0) scale_profile(e.profile, profile_centre(e.profile), su[i], sv[i]);
    if (s.x == 1.0 && s.y == 1.0 && s.z == 1.0) continue;
    // The whole part stretched by s: the plane's origin moves, its axes stretch by |s X|, |s Y|
    // and the normal by |s N| (exact for axis-aligned planes).
    const double fx = norm(times(e.plane.x_axis, s)) / std::max(norm(e.plane.x_axis), 1e-12);
    const double fy = norm(times(e.plane.y_axis, s)) / std::max(norm(e.plane.y_axis), 1e-12);
    const double fn = norm(times(e.plane.normal, s)) / std::max(norm(e.plane.normal), 1e-12);
    e.plane.origin = times(e.plane.origin, s);
    scale_profile(e.profile, Vec2{0, 0}, fx, fy);
    e.extent_one *= fn;
    e.extent_two *= fn;
    e.sketch_pos = times(e.sketch_pos, s);
    e.sketch_size *= std::max(fx, fy);
  }
  out.bbox.min = times(model.bbox.min, s);
  out.bbox.max = times(model.bbox.max, s);
  return out;
}

nlohmann::json RefineReport::to_json(bool with_time) const {
  nlohmann::json changed = nlohmann::json::array();
  for (const auto& c : changes) {
    nlohmann::json j = {{"parameter", c.name}};
    j[c.factor ? "factor" : "offset"] = c.value;
    changed.push_back(j);
  }
  nlohmann::json j = {{"attempted", attempted},
                      {"improved", improved},
                      {"score_before", score_before},
                      {"score_after", score_after},
                      {"parameters", parameters},
                      {"evaluations", evaluations},
                      {"rejected_evaluations", rejected},
                      {"improvements", improvements},
                      {"stopped_by", stopped_by},
                      {"changed", changed}};
  if (with_time) j["seconds"] = seconds;
  return j;
}

RefineReport refine_candidate(FittedCandidate& candidate, const std::vector<ViewMaps>& views, const RefineOptions& options) {
  const auto start = Clock::now();
  RefineReport report;
  report.stopped_by.clear();
  report.score_before = report.score_after = candidate.agreement.score;
  auto finish = [&](const char* why) {
    if (report.stopped_by.empty()) report.stopped_by = why;
    report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return report;
  };
  if (!candidate.check.valid || candidate.mesh.empty() || views.empty() ||
      candidate.agreement.views.size() != views.size())
    return finish("not refined: no valid, scored candidate");
  const std::vector<ModelParameter> parameters = model_parameters(candidate.model);
  report.parameters = static_cast<int>(parameters.size());
  if (parameters.empty()) return finish("not refined: no continuous parameters");
  const double size = longest_side(candidate.check.bbox);
  if (!(size > 0) || !std::isfinite(size)) return finish("not refined: empty bounding box");
  report.attempted = true;

  AgreementScorer scorer(views, options.agreement);
  std::vector<ViewPose> poses;
  for (const auto& v : candidate.agreement.views) poses.push_back(v.pose);
  // The start as the objective sees it (the same options and poses give the ranking's score).
  FittedCandidate best;
  best.agreement = scorer.at_poses(candidate.mesh, poses);
  const double start_value = best.agreement.score;
  bool have_best = false;  // best holds a refined model (not the input)

  CheckOptions check;
  check.keep_solid = true;
  const auto f = [&](const std::vector<double>& x) -> double {
    ++report.evaluations;
    CadModel model = apply_parameters(candidate.model, parameters, x, size);
    CheckResult built = check_model(model, check);
    if (!built.valid) {
      ++report.rejected;
      return -std::numeric_limits<double>::infinity();
    }
    Mesh mesh = tessellate(built.solid);
    if (mesh.empty()) {
      ++report.rejected;
      return -std::numeric_limits<double>::infinity();
    }
    // The poses follow the new shape a little (fine search from the current poses): without this,
    // a change that needs a slightly different view to show its worth would look like a loss.
    Agreement a = options.follow_evaluations > 0 ? scorer.refine_poses(mesh, best.agreement, options.follow_evaluations, true)
                                                 : scorer.at_poses(mesh, poses);
    const double value = a.score;
    if (value > best.agreement.score) {
      best.model = std::move(model);
      best.check = std::move(built);
      best.mesh = std::move(mesh);
      best.agreement = std::move(a);
      have_best = true;
    }
    return value;
  };

  std::vector<SearchDimension> dims;
  for (const auto& p : parameters) {
    if (p.kind == Kind::kOffset)
      dims.push_back({0.05, 0.004, -0.5, 0.5});
    else if (p.kind == Kind::kProportionY || p.kind == Kind::kProportionZ)
      dims.push_back({0.15, 0.01, -1.2, 1.2});
    else
      dims.push_back({0.2, 0.01, -1.2, 1.2});
  }
  PatternSearchOptions search;
  search.max_evaluations = options.max_evaluations;
  bool timed_out = false;
  search.stop = [&]() {
    if (options.stop && options.stop()) return true;
    timed_out = Clock::now() >= options.deadline;
    return timed_out;
  };
  // After a pass that moved the parameters, the poses follow the new shape.
  search.after_improving_pass = [&](const std::vector<double>&, double value) {
    if (!have_best || options.pose_evaluations <= 0) return value;
    best.agreement = scorer.refine_poses(best.mesh, best.agreement, options.pose_evaluations);
    poses.clear();
    for (const auto& v : best.agreement.views) poses.push_back(v.pose);
    return best.agreement.score;
  };
  // Rounds: search the parameters at the current poses; when that converges, re-fit the poses with
  // the full pose budget and, if they moved the score, search again with smaller first steps
  // (the shape and the poses are coupled: a longer part seen from lower down looks alike).
  PatternSearchResult result;
  result.x.assign(parameters.size(), 0.0);
  result.value = start_value;
  try {
    for (int round = 0;; ++round) {
      search.max_evaluations = options.max_evaluations - report.evaluations;
      const int improvements = result.improvements;
      result = pattern_search(f, result.x, result.value, dims, search);
      result.improvements += improvements;
      if (result.stopped_by != "converged" || !have_best || options.agreement.pose_evaluations <= 0) break;
      const Agreement refitted = scorer.refine_poses(best.mesh, best.agreement, options.agreement.pose_evaluations);
      if (!(refitted.score > result.value + 1e-4) || round >= 8) break;
      best.agreement = refitted;
      poses.clear();
      for (const auto& v : best.agreement.views) poses.push_back(v.pose);
      result.value = refitted.score;
      for (auto& d : dims) d.step = std::max(d.step * 0.5, d.min_step * 2);
    }
  } catch (const std::exception& e) {  // never let a kernel or allocation failure escape
    report.stopped_by = std::string("failed: ") + e.what();
    return finish("");
  }
  report.improvements = result.improvements;
  report.stopped_by = result.stopped_by == "stopped" ? (timed_out ? "time" : "stopped") : result.stopped_by;
  if (have_best && best.agreement.score > candidate.agreement.score) {
    report.improved = true;
    report.score_after = best.agreement.score;
    for (size_t p = 0; p < parameters.size(); ++p) {
      if (result.x[p] == 0.0) continue;
      report.changes.push_back({parameters[p].name,
                                parameters[p].log_factor ? std::exp(result.x[p]) : result.x[p] * size,
                                parameters[p].log_factor});
    }
    best.agreement.grid_score = candidate.agreement.grid_score;
    candidate = std::move(best);
  }
  return finish("");
}

}  // namespace cadcrafter::app
