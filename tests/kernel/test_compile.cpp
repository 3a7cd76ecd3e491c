// The compiler against hand-computed volumes and areas: every extent type, every boolean,
// arcs, circles, holes, tilted and left-handed planes, and the readable error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel/check.h"
#include "kernel/compile.h"
#include "kernel/model_builders.h"

namespace cadcrafter {
namespace {

using namespace cadcrafter::testing;

ShapeProperties props_of(const CadModel& m) {
  auto solid = compile_model(m);
  EXPECT_TRUE(solid.ok()) << (solid.ok() ? "" : solid.error().message);
  return solid.ok() ? shape_properties(*solid) : ShapeProperties{};
}

TEST(Compile, BoxHasExactVolumeAreaAndBox) {
  const ShapeProperties p = props_of(box_model());
  EXPECT_NEAR(p.volume, 24.0, 1e-9);
  EXPECT_NEAR(p.area, 52.0, 1e-9);
  EXPECT_EQ(p.n_solids, 1);
  EXPECT_NEAR(p.bbox.max.z, 4.0, 1e-6);
  EXPECT_NEAR(p.bbox.min.z, 0.0, 1e-6);
}

TEST(Compile, ExtentTypesCoverTheRightInterval) {
  const Profile square{{rect(0, 0, 1, 1)}};
  struct Case {
    ExtentType type;
    double e1, e2, zmin, zmax;
  } cases[] = {
      {ExtentType::kOneSide, 2.0, 0.0, 0.0, 2.0},    {ExtentType::kOneSide, -2.0, 0.0, -2.0, 0.0},
      {ExtentType::kSymmetric, 1.5, 0.0, -1.5, 1.5}, {ExtentType::kTwoSides, 1.0, 0.5, -0.5, 1.0},
      {ExtentType::kTwoSides, 1.0, -0.5, 0.0, 1.0},  // both prisms on the normal side: the longer wins
  };
  for (const Case& c : cases) {
    const ShapeProperties p = props_of(model_of({extrude(square, c.e1, Operation::kNewBody, c.type, c.e2)}));
    EXPECT_NEAR(p.volume, c.zmax - c.zmin, 1e-9) << static_cast<int>(c.type) << " " << c.e1;
    EXPECT_NEAR(p.bbox.min.z, c.zmin, 1e-6);
    EXPECT_NEAR(p.bbox.max.z, c.zmax, 1e-6);
  }
}

TEST(Compile, HoleIsSubtractedWhateverItsOrientation) {
  Loop hole = Loop{{circle(2, 2, 1)}};
  Loop square_hole = rect(0.5, 0.5, 1.0, 1.0);
  std::reverse(square_hole.curves.begin(), square_hole.curves.end());  // curve order reversed, ends not swapped
  const double expected = (16.0 - M_PI - 0.25) * 1.0;
  const ShapeProperties p = props_of(model_of({extrude(Profile{{rect(0, 0, 4, 4), hole, square_hole}}, 1.0)}));
  EXPECT_NEAR(p.volume, expected, 1e-6);
  // Area: two caps, outer sides, cylinder wall, square hole walls.
  EXPECT_NEAR(p.area, 2 * (16.0 - M_PI - 0.25) + 16.0 + 2 * M_PI + 2.0, 1e-6);
}

TEST(Compile, HoleTouchingTheOutlineIsBuilt) {
  // A circle tangent to the bottom edge and an arc-sided hole: BRepCheck calls such faces
  // "intersecting wires"; Fusion builds them, so must we (face area = outer - holes).
  const Loop touching{{circle(2, 1, 1)}};
  const ShapeProperties p = props_of(model_of({extrude(Profile{{rect(0, 0, 4, 4), touching}}, 1.0)}));
  EXPECT_NEAR(p.volume, 16.0 - M_PI, 1e-6);
  // The outline is found by area, not by position: here the hole comes first and touches
  // the outline's left side, so DeepCAD's bounding-box order would call it the outline.
  const Loop left_hole{{circle(1, 2, 1)}};
  EXPECT_NEAR(props_of(model_of({extrude(Profile{{left_hole, rect(0, 0, 4, 4)}}, 1.0)})).volume, 16.0 - M_PI, 1e-6);
}

TEST(Compile, ClockwiseOuterLoopStillGivesPositiveVolume) {
  Loop cw = rect(0, 0, 2, 2);
  std::reverse(cw.curves.begin(), cw.curves.end());
  for (Curve& c : cw.curves) std::swap(c.start, c.end);
  EXPECT_NEAR(props_of(model_of({extrude(Profile{{cw}}, 1.0)})).volume, 4.0, 1e-9);
}

TEST(Compile, SlotWithArcs) {
  const double r = 0.5, half = 1.0;
  const ShapeProperties p = props_of(model_of({extrude(Profile{{slot(0, 0, half, r)}}, 2.0)}));
  EXPECT_NEAR(p.volume, (4 * half * r + M_PI * r * r) * 2.0, 1e-6);
}

TEST(Compile, BooleansJoinCutIntersect) {
  const Profile big{{rect(0, 0, 2, 2)}};
  const Profile right_half{{rect(1, 0, 3, 2)}};
  EXPECT_NEAR(props_of(model_of({extrude(big, 1), extrude(right_half, 1, Operation::kJoin)})).volume, 6.0, 1e-9);
  EXPECT_NEAR(props_of(model_of({extrude(big, 1), extrude(right_half, 1, Operation::kCut)})).volume, 2.0, 1e-9);
  EXPECT_NEAR(props_of(model_of({extrude(big, 1), extrude(right_half, 1, Operation::kIntersect)})).volume, 2.0, 1e-9);
  // A second NewBody far away: two solids, volumes add.
  const ShapeProperties two = props_of(model_of({extrude(big, 1), extrude(Profile{{rect(5, 5, 6, 6)}}, 1, Operation::kNewBody)}));
  EXPECT_EQ(two.n_solids, 2);
  EXPECT_NEAR(two.volume, 5.0, 1e-9);
}

TEST(Compile, TiltedAndLeftHandedPlanes) {
  // Sketch on the YZ plane at x = 1, normal +x: box over x in [1, 3].
  Extrude e = extrude(Profile{{rect(0, 0, 1, 2)}}, 2.0);
  e.plane = plane({1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 0, 0});
  ShapeProperties p = props_of(model_of({e}));
  EXPECT_NEAR(p.volume, 4.0, 1e-9);
  EXPECT_NEAR(p.bbox.min.x, 1.0, 1e-6);
  EXPECT_NEAR(p.bbox.max.x, 3.0, 1e-6);
  EXPECT_NEAR(p.bbox.max.z, 2.0, 1e-6);
  // Left-handed: y axis = -(normal x x). Points still map through x and y as given.
  e.plane = plane({0, 0, 0}, {1, 0, 0}, {0, -1, 0}, {0, 0, 1});
  p = props_of(model_of({e}));
  EXPECT_NEAR(p.volume, 4.0, 1e-9);
  EXPECT_NEAR(p.bbox.min.y, -2.0, 1e-6);
  // A 45-degree plane.
  const double s = std::sqrt(0.5);
  e.plane = plane({0, 0, 0}, {s, s, 0}, {0, 0, 1}, {s, -s, 0});
  EXPECT_NEAR(props_of(model_of({e})).volume, 4.0, 1e-9);
}

TEST(Compile, ZeroLengthLinesAreSkipped) {
  Loop loop = rect(0, 0, 1, 1);
  loop.curves.insert(loop.curves.begin() + 2, line(1, 1, 1, 1));
  EXPECT_NEAR(props_of(model_of({extrude(Profile{{loop}}, 1.0)})).volume, 1.0, 1e-9);
}

std::string error_of(const CadModel& m) {
  auto solid = compile_model(m);
  return solid.ok() ? std::string("<ok>") : solid.error().message;
}

TEST(Compile, ErrorsNameTheirPlace) {
  Loop degenerate = rect(0, 0, 1, 1);
  degenerate.curves.push_back(arc({0, 0}, {0.5, 0.5}, {0, 0}));
  EXPECT_EQ(error_of(model_of({extrude(Profile{{rect(0, 0, 3, 3)}}, 1), extrude(Profile{{rect(0, 0, 3, 3), degenerate}}, 1)})),
            "extrude 1, loop 1, curve 4: degenerate arc (start == end)");

  Loop open = rect(0, 0, 1, 1);
  open.curves[3].end = {0.0, 0.02};
  EXPECT_EQ(error_of(model_of({extrude(Profile{{open}}, 1)})),
            "extrude 0, loop 0 is open (gap 0.02 between curve 3 end and curve 0 start)");

  EXPECT_EQ(error_of(model_of({extrude(Profile{{rect(0, 0, 1, 1)}}, 0.0)})), "extrude 0: zero extent");
  EXPECT_EQ(error_of(model_of({extrude(Profile{{Loop{{circle(0, 0, 0)}}}}, 1.0)})),
            "extrude 0, loop 0, curve 0: degenerate circle (radius 0)");
  EXPECT_EQ(error_of(model_of({extrude(Profile{{Loop{{arc({0, 0}, {1, 0}, {2, 0}), line(2, 0, 0, 0)}}}}, 1.0)})),
            "extrude 0, loop 0, curve 0: degenerate arc (start, mid and end are collinear)");
  EXPECT_EQ(error_of(model_of({})), "model has no extrudes");
  EXPECT_EQ(error_of(model_of({extrude(Profile{}, 1)})), "extrude 0: profile has no loops");
}

TEST(Compile, SelfIntersectingProfileIsReportedNotBuilt) {
  // A bow tie: the loop crosses itself.
  Loop bow{{line(0, 0, 1, 1), line(1, 1, 1, 0), line(1, 0, 0, 1), line(0, 1, 0, 0)}};
  const std::string err = error_of(model_of({extrude(Profile{{bow}}, 1.0)}));
  EXPECT_NE(err, "<ok>");
  EXPECT_EQ(err.rfind("extrude 0", 0), 0u) << err;
}

TEST(Check, ValidBoxAndEmptyResult) {
  CheckResult r = check_model(box_model());
  EXPECT_TRUE(r.valid) << r.reason;
  EXPECT_NEAR(r.volume, 24.0, 1e-9);
  EXPECT_EQ(r.n_solids, 1);
  EXPECT_GT(r.ms, 0.0);

  const Profile square{{rect(0, 0, 1, 1)}};
  r = check_model(model_of({extrude(square, 1), extrude(Profile{{rect(-1, -1, 2, 2)}}, 1, Operation::kCut)}));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.reason, "result is empty");

  r = check_model(model_of({extrude(square, 1), extrude(Profile{{rect(5, 5, 6, 6)}}, 1, Operation::kIntersect)}));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.reason, "result is empty");
}

TEST(Check, KeepsSolidOnRequest) {
  CheckOptions opt;
  opt.keep_solid = true;
  const CheckResult r = check_model(box_model(), opt);
  ASSERT_TRUE(r.valid);
  ASSERT_FALSE(r.solid.empty());
  EXPECT_NEAR(shape_properties(r.solid).volume, 24.0, 1e-9);
  EXPECT_TRUE(check_model(box_model()).solid.empty());
}

TEST(Check, ManyBooleansRespectTheTimeLimit) {
  // 60 overlapping cylinders joined one by one: slow enough to hit a 1 ms limit.
  std::vector<Extrude> ex;
  for (int i = 0; i < 60; ++i)
    ex.push_back(extrude(Profile{{Loop{{circle(0.1 * i, 0.05 * (i % 7), 1.0)}}}}, 1.0 + 0.01 * i,
                         i == 0 ? Operation::kNewBody : Operation::kJoin));
  CheckOptions opt;
  opt.timeout_ms = 1;
  const CheckResult r = check_model(model_of(ex), opt);
  EXPECT_FALSE(r.valid);
  EXPECT_NE(r.reason.find("timed out"), std::string::npos) << r.reason;
  EXPECT_EQ(r.code, ErrorCode::kTimeout);
  EXPECT_LT(r.ms, 1000.0);
}

}  // namespace
}  // namespace cadcrafter
