// Proportions are the point (issue 10): a candidate of the right kind but the wrong proportions
// (30% too long, twice too thick), refined against two rendered views of the true part (known
// cameras, seen from in front and from behind so that no face is hidden from both), comes back
// with the true bounding-box proportions within 5%. Slow: a few hundred kernel builds each.
#include <gtest/gtest.h>

#include <cstdio>

#include "refine_support.h"

namespace cadcrafter::app {
namespace {

using namespace cadcrafter::app::testing;

// Refines `start` against views of `truth`; checks the commands are kept, the score rose and the
// bounding box's sides over its longest side are within `tolerance` of the truth's.
void expect_refined_proportions(const CadModel& truth, const CadModel& start, double tolerance) {
  const FittedCandidate true_part = build(truth);
  ASSERT_TRUE(true_part.check.valid);
  const std::vector<ViewMaps> views = {rendered_view(true_part.mesh, 30, 35), rendered_view(true_part.mesh, 250, 30)};
  FittedCandidate c = build(start);
  ASSERT_TRUE(c.check.valid);
  c.agreement = AgreementScorer(views, scoring()).measure(c.mesh);
  RefineOptions options;
  options.agreement = scoring();
  options.max_evaluations = 400;
  const RefineReport report = refine_candidate(c, views, options);
  std::printf("%s\n", report.to_json().dump().c_str());
  EXPECT_TRUE(report.attempted);
  EXPECT_TRUE(report.improved);
  EXPECT_GT(report.score_after, report.score_before);
  ASSERT_TRUE(c.check.valid);
  ASSERT_EQ(c.model.extrudes.size(), start.extrudes.size());  // the commands are kept
  for (size_t i = 0; i < start.extrudes.size(); ++i) {
    EXPECT_EQ(c.model.extrudes[i].operation, start.extrudes[i].operation);
    EXPECT_EQ(c.model.extrudes[i].profile.loops.size(), start.extrudes[i].profile.loops.size());
  }
  const double truth_longest = longest(true_part.check.bbox), refined_longest = longest(c.check.bbox);
  const double start_longest = longest(build(start).check.bbox);
  for (int axis = 0; axis < 3; ++axis) {
    const double want = side(true_part.check.bbox, axis) / truth_longest;
    const double got = side(c.check.bbox, axis) / refined_longest;
    std::printf("axis %d: side / longest side %.4f (truth %.4f, start %.4f)\n", axis, got, want,
                side(build(start).check.bbox, axis) / start_longest);
    EXPECT_NEAR(got / want, 1.0, tolerance) << "axis " << axis;
  }
}

TEST(RefineProportions, LBracket) { expect_refined_proportions(l_bracket(40, 3), l_bracket(52, 6), 0.05); }

// The box-like part of the issue: 40 x 20 x 3 (the thickness is 3.5 pixels of the 64 x 64 comparison).
TEST(RefineProportions, PlateWithHole40x20x3) {
  expect_refined_proportions(plate_with_hole(40, 3), plate_with_hole(52, 6), 0.05);
}

}  // namespace
}  // namespace cadcrafter::app
