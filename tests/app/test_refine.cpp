// Analysis by synthesis (app/agreement.h, app/pattern_search.h, app/refine.h): the compass
// search; the depth term tells a deep pocket from a shallow one; the continuous pose refinement
// finds the camera of a rendered view; the model parameters (identity at zero, exact proportions,
// arcs re-fitted); refinement never returns an invalid model nor a lower score, and stops at its
// time budget. The proportion recovery tests are slow: slow_refine.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "app/pattern_search.h"
#include "cad/deepcad_sketch.h"
#include "data/generator.h"
#include "refine_support.h"

namespace cadcrafter::app {
namespace {

using namespace cadcrafter::app::testing;

TEST(PatternSearch, FindsTheMaximumOfASmoothFunction) {
  const auto f = [](const std::vector<double>& x) { return -(x[0] - 0.3) * (x[0] - 0.3) - 2 * (x[1] + 0.2) * (x[1] + 0.2); };
  PatternSearchOptions options;
  options.max_evaluations = 500;
  const auto r = pattern_search(f, {0, 0}, f({0, 0}), {{0.1, 1e-3}, {0.1, 1e-3}}, options);
  EXPECT_EQ(r.stopped_by, "converged");
  EXPECT_NEAR(r.x[0], 0.3, 2e-3);
  EXPECT_NEAR(r.x[1], -0.2, 2e-3);
  EXPECT_LT(r.evaluations, 200);
}

TEST(PatternSearch, RejectsPointsKeepsBoundsAndBudget) {
  int calls = 0;
  // Better to the right, but nothing past 0.45 builds; the bound stops it at 0.4 anyway.
  const auto f = [&](const std::vector<double>& x) {
    ++calls;
    return x[0] > 0.45 ? -std::numeric_limits<double>::infinity() : x[0];
  };
  PatternSearchOptions options;
  options.max_evaluations = 100;
  auto r = pattern_search(f, {0}, 0.0, {{0.25, 0.01, -1.0, 0.4}}, options);
  EXPECT_DOUBLE_EQ(r.x[0], 0.4);
  EXPECT_EQ(r.evaluations, calls);
  options.max_evaluations = 3;
  calls = 0;
  r = pattern_search(f, {0}, 0.0, {{0.01, 0.001, -1.0, 0.4}}, options);
  EXPECT_EQ(r.stopped_by, "evaluations");
  EXPECT_EQ(r.evaluations, 3);
  options.max_evaluations = 100;
  options.stop = [] { return true; };
  r = pattern_search(f, {0}, 0.0, {{0.01, 0.001}}, options);
  EXPECT_EQ(r.stopped_by, "stopped");
  EXPECT_EQ(r.evaluations, 0);
}

// A 40 x 40 x 12 block with a 20 x 20 pocket `depth` deep in its top, seen from above.
CadModel pocketed_block(double depth) {
  Extrude block = extrude(Profile{{rect(0, 0, 40, 40)}}, 12);
  Extrude pocket = extrude(Profile{{rect(10, 10, 30, 30)}}, -depth, Operation::kCut);
  pocket.plane = plane({0, 0, 12}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1});
  return model_of({block, pocket}, "pocket");
}

// The silhouette of a pocketed block does not depend on the pocket's depth; the depth term does.
TEST(Agreement, DepthTellsADeepPocketFromAShallowOne) {
  const FittedCandidate truth = build(pocketed_block(9)), shallow = build(pocketed_block(2));
  ASSERT_TRUE(truth.check.valid && shallow.check.valid);
  const std::vector<ViewMaps> views = {rendered_view(truth.mesh, 30, 60), rendered_view(truth.mesh, 210, 55)};
  const Agreement right = measure_agreement(truth.mesh, views, scoring());
  const Agreement wrong = measure_agreement(shallow.mesh, views, scoring());
  EXPECT_GT(right.score, wrong.score);
  for (size_t v = 0; v < views.size(); ++v) {
    EXPECT_GT(right.views[v].depth_agreement, 0.9) << "view " << v;
    EXPECT_GT(right.views[v].depth_agreement, wrong.views[v].depth_agreement + 0.1) << "view " << v;
  }
  // The first version (no depth, cosine normals) tells them apart by less.
  const Agreement right_v1 = measure_agreement(truth.mesh, views, AgreementOptions::first_version());
  const Agreement wrong_v1 = measure_agreement(shallow.mesh, views, AgreementOptions::first_version());
  EXPECT_GT(right.score - wrong.score, right_v1.score - wrong_v1.score);
  std::printf("depth scoring: %.4f vs %.4f; first version: %.4f vs %.4f\n", right.score, wrong.score, right_v1.score,
              wrong_v1.score);
}

TEST(Agreement, InputsWithoutDepthScoreWithoutIt) {
  const FittedCandidate part = build(l_bracket(40, 3));
  ViewMaps view = rendered_view(part.mesh, 30, 35);
  std::fill(view.depth.begin(), view.depth.end(), 0.0f);
  const Agreement a = measure_agreement(part.mesh, {view});
  ASSERT_EQ(a.views.size(), 1u);
  const ViewAgreement& v = a.views[0];
  EXPECT_EQ(v.depth_agreement, -1.0);
  const AgreementOptions o;
  const double base = 1 - o.normal_weight - o.depth_weight;
  EXPECT_NEAR(v.score, v.mask_iou * (base + o.normal_weight * v.normal_agreement) / (base + o.normal_weight), 1e-12);
}

// The grid is 30 degrees apart; the continuous pose refinement finds the camera of a rendered view.
TEST(Agreement, PoseRefinementFindsTheCamera) {
  const FittedCandidate part = build(l_bracket(40, 3));
  const std::vector<ViewMaps> views = {rendered_view(part.mesh, 47, 22), rendered_view(part.mesh, 253, 41)};
  const Agreement a = measure_agreement(part.mesh, views, scoring());
  EXPECT_GT(a.score, a.grid_score + 0.02);
  EXPECT_GT(a.score, 0.92);
  EXPECT_NEAR(a.views[0].pose.azimuth_deg, 47, 3);
  EXPECT_NEAR(a.views[0].pose.elevation_deg, 22, 3);
  EXPECT_NEAR(a.views[1].pose.azimuth_deg, 253, 3);
  EXPECT_NEAR(a.views[1].pose.elevation_deg, 41, 3);
}

TEST(RefineParameters, ZeroChangesNothingAndProportionsAreExact) {
  const CadModel bracket = l_bracket(40, 3);
  const auto params = model_parameters(bracket);
  ASSERT_GE(params.size(), 2u);
  EXPECT_EQ(params[0].name, "proportion y/x");
  EXPECT_EQ(params[1].name, "proportion z/x");
  const FittedCandidate same = build(apply_parameters(bracket, params, std::vector<double>(params.size(), 0.0), 40));
  const FittedCandidate original = build(bracket);
  for (int axis = 0; axis < 3; ++axis) EXPECT_NEAR(side(same.check.bbox, axis), side(original.check.bbox, axis), 1e-9);
  std::vector<double> x(params.size(), 0.0);
  x[0] = std::log(1.5);  // y 1.5 times as long
  x[1] = std::log(0.5);  // z half
  const FittedCandidate stretched = build(apply_parameters(bracket, params, x, 40));
  ASSERT_TRUE(stretched.check.valid);
  EXPECT_NEAR(side(stretched.check.bbox, 0), 40, 1e-6);
  EXPECT_NEAR(side(stretched.check.bbox, 1), 30, 1e-6);
  EXPECT_NEAR(side(stretched.check.bbox, 2), 7.5, 1e-6);
  // One extrude: no whole-part proportions or offsets (its own extents and profile scales span them).
  for (const auto& p : model_parameters(plate_with_hole(40, 3)))
    EXPECT_TRUE(p.kind != ModelParameter::Kind::kProportionY && p.kind != ModelParameter::Kind::kOffset) << p.name;
}

TEST(RefineParameters, ArcsStretchedAlongOneAxisAreRefitted) {
  const CadModel slotted = model_of({extrude(Profile{{slot(0, 0, 2, 1)}}, 1.0)}, "slot");
  const auto params = model_parameters(slotted);
  std::vector<double> x(params.size(), 0.0);
  for (size_t p = 0; p < params.size(); ++p)
    if (params[p].kind == ModelParameter::Kind::kProfileU) x[p] = std::log(1.6);
  const CadModel stretched = apply_parameters(slotted, params, x, 4);
  const FittedCandidate built = build(stretched);
  ASSERT_TRUE(built.check.valid) << built.check.reason;
  EXPECT_NEAR(side(built.check.bbox, 0), 1.6 * 6, 1e-6);  // the end caps' mid points are the extremes
  EXPECT_GT(side(built.check.bbox, 1), 2.0);              // the flatter caps bulge past the straight sides
  int arcs = 0;
  for (const Curve& c : stretched.extrudes[0].profile.loops[0].curves) {
    if (c.type != CurveType::kArc) continue;
    ++arcs;
    for (const Vec2 p : {c.start, c.mid, c.end}) EXPECT_NEAR(std::hypot(p.x - c.center.x, p.y - c.center.y), c.radius, 1e-9);
    const Vec2 mid = deepcad::arc_mid_point(c);  // the bookkeeping the DeepCAD encoder reads agrees
    EXPECT_NEAR(mid.x, c.mid.x, 1e-9);
    EXPECT_NEAR(mid.y, c.mid.y, 1e-9);
  }
  EXPECT_EQ(arcs, 2);
}

// Against views of another part, refinement pushes the parameters hard; whatever it returns is a
// valid solid that scores at least as much, and an unimproved candidate is returned untouched.
TEST(Refine, NeverInvalidNorLower) {
  const FittedCandidate other = build(generate_model(GeneratorOptions{}, 77));
  ASSERT_TRUE(other.check.valid);
  const std::vector<ViewMaps> views = {rendered_view(other.mesh, 20, 30), rendered_view(other.mesh, 150, 20)};
  for (uint64_t seed : {3ull, 11ull, 12ull}) {
    FittedCandidate c = build(generate_model(GeneratorOptions{}, seed));
    ASSERT_TRUE(c.check.valid);
    c.agreement = AgreementScorer(views, scoring()).measure(c.mesh);
    const CadModel before = c.model;
    const double score_before = c.agreement.score;
    RefineOptions options;
    options.agreement = scoring();
    options.max_evaluations = 25;
    const RefineReport report = refine_candidate(c, views, options);
    EXPECT_TRUE(report.attempted) << seed;
    EXPECT_EQ(report.evaluations, 25) << seed << " " << report.to_json().dump();
    EXPECT_EQ(report.score_before, score_before);
    EXPECT_GE(c.agreement.score, score_before) << seed;
    EXPECT_EQ(report.score_after, c.agreement.score);
    ASSERT_TRUE(c.check.valid) << seed;
    EXPECT_TRUE(check_model(c.model).valid) << seed;
    EXPECT_FALSE(c.mesh.empty());
    // The stored score is the model's own at its stored poses.
    std::vector<ViewPose> poses;
    for (const auto& v : c.agreement.views) poses.push_back(v.pose);
    EXPECT_NEAR(AgreementScorer(views, scoring()).at_poses(c.mesh, poses).score, c.agreement.score, 1e-12) << seed;
    if (!report.improved) {
      EXPECT_TRUE(report.changes.empty());
      EXPECT_EQ(c.model.extrudes[0].extent_one, before.extrudes[0].extent_one);
    } else {
      EXPECT_FALSE(report.changes.empty());
    }
    std::printf("seed %d: %s\n", static_cast<int>(seed), report.to_json(false).dump().c_str());
  }
}

TEST(Refine, StopsAtItsDeadlineAndRefusesWhatItCannotRefine) {
  const FittedCandidate part = build(l_bracket(40, 3));
  const std::vector<ViewMaps> views = {rendered_view(part.mesh, 30, 35)};
  FittedCandidate c = build(l_bracket(52, 6));
  c.agreement = AgreementScorer(views, scoring()).measure(c.mesh);
  const double before = c.agreement.score;
  RefineOptions options;
  options.agreement = scoring();
  options.deadline = std::chrono::steady_clock::now();
  RefineReport report = refine_candidate(c, views, options);
  EXPECT_EQ(report.stopped_by, "time");
  EXPECT_EQ(report.evaluations, 0);
  EXPECT_FALSE(report.improved);
  EXPECT_EQ(c.agreement.score, before);
  EXPECT_EQ(c.model.extrudes[0].extent_one, 6);
  // Views that do not match the agreement (not scored for them), or an invalid candidate: untouched.
  report = refine_candidate(c, {views[0], views[0]}, options);
  EXPECT_FALSE(report.attempted);
  EXPECT_NE(report.stopped_by.find("not refined"), std::string::npos);
  FittedCandidate broken;
  broken.model = c.model;
  report = refine_candidate(broken, views, options);
  EXPECT_FALSE(report.attempted);
}

}  // namespace
}  // namespace cadcrafter::app
