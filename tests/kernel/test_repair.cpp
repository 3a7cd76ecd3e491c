// Checker-guided repair (kernel/repair.h): the smallest removal of loops or extrudes that makes
// the kernel accept a vector, with every kept row exactly as it came.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel/batch_check.h"
#include "kernel/repair.h"
#include "model_builders.h"

namespace cadcrafter {
namespace {

using namespace cadcrafter::testing;

CadVec encoded(CadModel m, BoundingBox box) {
  m.bbox = box;
  auto v = encode(m);
  EXPECT_TRUE(v) << (v ? "" : v.error().message);
  return v ? *v : CadVec{};
}

int count_rows(const CadVec& v, int cmd) {
  int n = 0;
  for (const auto& r : v) n += r[kColCmd] == cmd ? 1 : 0;
  return n;
}

// The vector without the rows of loop `j` of its only extrude.
CadVec without_loop(const CadVec& v, int j) {
  CadVec out;
  int loop = -1;
  for (const auto& r : v) {
    if (r[kColCmd] == kCmdSol) ++loop;
    if (r[kColCmd] == kCmdExt || r[kColCmd] == kCmdEos) loop = -2;
    if (loop != j) out.push_back(r);
  }
  return out;
}

TEST(Repair, ABuildingVectorComesBackAsItWas) {
  const CadVec v = encoded(box_model(), {{0, 0, 0}, {2, 3, 4}});
  const RepairResult r = repair_vec(v);
  EXPECT_TRUE(r.valid);
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(r.checks, 1);
  EXPECT_TRUE(r.edits.empty());
  EXPECT_EQ(r.vec, v);
}

// A 4 x 4 plate with a hole inside and a second hole that crosses the plate's edge: the crossing
// hole goes, the good one stays (the plate keeps its volume minus one hole), other rows untouched.
TEST(Repair, AHoleThatCrossesTheOutlineIsRemovedAndTheRestKept) {
  const Profile p{{rect(0, 0, 4, 4), Loop{{circle(1.5, 2, 0.5)}}, Loop{{circle(3.8, 2, 0.6)}}}};
  const CadVec v = encoded(model_of({extrude(p, 1.0)}), {{0, 0, 0}, {4.4, 4, 1}});
  ASSERT_EQ(count_rows(v, kCmdSol), 3);
  ASSERT_FALSE(check_vec(v).valid) << "the crossing hole should make it fail";
  const RepairResult r = repair_vec(v);
  ASSERT_TRUE(r.valid) << describe_edits(r);
  EXPECT_TRUE(r.changed);
  ASSERT_EQ(r.edits.size(), 1u) << describe_edits(r);
  EXPECT_NE(r.edits[0].find("removed loop"), std::string::npos) << r.edits[0];
  EXPECT_EQ(count_rows(r.vec, kCmdSol), 2);
  CheckOptions keep;
  const CheckResult c = check_vec(r.vec, keep);
  ASSERT_TRUE(c.valid) << c.reason;
  ASSERT_TRUE(r.check.valid) << "the repair's own verdict on the vector it returns";
  EXPECT_NEAR(r.check.volume, c.volume, 1e-9 * c.volume);
  // The kept hole is the inner one: the volume is the plate's minus a disc of radius 0.5 (in the
  // normalised units DeepCAD's encoding uses: compare against the same vector without that loop).
  bool matched = false;
  for (int j = 0; j < 3; ++j) matched = matched || r.vec == without_loop(v, j);
  EXPECT_TRUE(matched) << "the repaired vector is the input less one loop";
  const CheckResult no_holes = check_vec(without_loop(without_loop(v, 2), 1));
  ASSERT_TRUE(no_holes.valid);
  const double disc_share = M_PI * 0.25 / 16.0;  // the inner hole's share of the plate's area
  EXPECT_NEAR(c.volume / no_holes.volume, 1.0 - disc_share, 0.01);
  EXPECT_FALSE(r.reason.empty());
}

// A second extrude whose only loop crosses itself (a bow tie) cannot lose a loop: it is dropped
// and the first extrude stays exactly as it was.
TEST(Repair, AnExtrudeWithNoBuildableLoopIsDropped) {
  const Loop bow{{line(0, 0, 2, 2), line(2, 2, 2, 0), line(2, 0, 0, 2), line(0, 2, 0, 0)}};
  const CadVec v = encoded(model_of({extrude(Profile{{rect(0, 0, 2, 3)}}, 4.0), extrude(Profile{{bow}}, 5.0, Operation::kJoin)}),
                           {{0, 0, 0}, {2, 3, 5}});
  ASSERT_EQ(count_rows(v, kCmdExt), 2);
  ASSERT_FALSE(check_vec(v).valid);
  const RepairResult r = repair_vec(v);
  ASSERT_TRUE(r.valid) << describe_edits(r);
  EXPECT_EQ(count_rows(r.vec, kCmdExt), 1);
  EXPECT_NE(describe_edits(r).find("removed extrude 1"), std::string::npos) << describe_edits(r);
  // The kept rows are the first extrude's rows as encoded.
  ASSERT_GE(v.size(), r.vec.size());
  for (size_t i = 0; i + 1 < r.vec.size(); ++i) EXPECT_EQ(r.vec[i], v[i]) << "row " << i;
  EXPECT_TRUE(check_vec(r.vec).valid);
}

TEST(Repair, RowsOutOfGrammarAreNotRepairedAndTheBudgetIsKept) {
  CadVec v = encoded(box_model(), {{0, 0, 0}, {2, 3, 4}});
  CadVec curve_first;
  curve_first.push_back(v[1]);  // a curve before any SOL
  curve_first.insert(curve_first.end(), v.begin(), v.end());
  const RepairResult bad = repair_vec(curve_first);
  EXPECT_FALSE(bad.valid);
  EXPECT_NE(describe_edits(bad).find("grammar"), std::string::npos);

  const Profile p{{rect(0, 0, 4, 4), Loop{{circle(3.8, 2, 0.6)}}}};
  const CadVec crossing = encoded(model_of({extrude(p, 1.0)}), {{0, 0, 0}, {4.4, 4, 1}});
  RepairOptions one;
  one.max_checks = 1;
  const RepairResult spent = repair_vec(crossing, one);
  EXPECT_FALSE(spent.valid);
  EXPECT_LE(spent.checks, 1);
}

}  // namespace
}  // namespace cadcrafter
