// Quarter turns about +Z (cad/turn.h) through the kernel: a turned model builds the same solid
// turned, i.e. the same volume and area, and its box is the old box with (x, y) -> (-y, x).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "cad/turn.h"
#include "cad/turn_support.h"
#include "kernel/compile.h"
#include "test_support.h"

namespace cadcrafter::testing {
namespace {

Vec3 turned(Vec3 p, int k) {
  for (int i = 0; i < ((k % 4) + 4) % 4; ++i) p = {-p.y, p.x, p.z};
  return p;
}

void expect_turns_with_the_solid(const CadModel& m, const std::vector<int>& turns) {
  auto a = compile_model(m);
  ASSERT_TRUE(a.ok()) << m.id << ": " << a.error().message;
  const ShapeProperties pa = shape_properties(*a);
  ASSERT_GT(pa.volume, 0.0) << m.id;
  const double size = std::max({pa.bbox.max.x - pa.bbox.min.x, pa.bbox.max.y - pa.bbox.min.y,
                                pa.bbox.max.z - pa.bbox.min.z});
  for (int k : turns) {
    auto b = compile_model(turn_about_z(m, k));
    ASSERT_TRUE(b.ok()) << m.id << " k=" << k << ": " << b.error().message;
    const ShapeProperties pb = shape_properties(*b);
    EXPECT_NEAR(pb.volume, pa.volume, 1e-6 * pa.volume) << m.id << " k=" << k;
    EXPECT_NEAR(pb.area, pa.area, 1e-6 * pa.area) << m.id << " k=" << k;
    EXPECT_EQ(pb.n_solids, pa.n_solids) << m.id << " k=" << k;
    EXPECT_EQ(pb.n_faces, pa.n_faces) << m.id << " k=" << k;
    const Vec3 c0 = turned(pa.bbox.min, k), c1 = turned(pa.bbox.max, k);
    const Vec3 lo{std::min(c0.x, c1.x), std::min(c0.y, c1.y), std::min(c0.z, c1.z)};
    const Vec3 hi{std::max(c0.x, c1.x), std::max(c0.y, c1.y), std::max(c0.z, c1.z)};
    const double tol = 1e-6 * size;
    EXPECT_NEAR(pb.bbox.min.x, lo.x, tol) << m.id << " k=" << k;
    EXPECT_NEAR(pb.bbox.min.y, lo.y, tol) << m.id << " k=" << k;
    EXPECT_NEAR(pb.bbox.min.z, lo.z, tol) << m.id << " k=" << k;
    EXPECT_NEAR(pb.bbox.max.x, hi.x, tol) << m.id << " k=" << k;
    EXPECT_NEAR(pb.bbox.max.y, hi.y, tol) << m.id << " k=" << k;
    EXPECT_NEAR(pb.bbox.max.z, hi.z, tol) << m.id << " k=" << k;
  }
}

TEST(TurnKernel, HandBuiltBracketTurnsAsOneSolid) { expect_turns_with_the_solid(turn_models::bracket(), {1, 2, 3, -1}); }

// The decoded turned vector builds the turned decoded solid too (flipped planes included: the
// bracket's +X wall and -Y cut pass through -X).
TEST(TurnKernel, TurnedVectorsBuildTheTurnedSolid) {
  auto vec = encode(turn_models::bracket());
  ASSERT_TRUE(vec.ok()) << vec.error().message;
  auto base = decode(*vec);
  ASSERT_TRUE(base.ok());
  auto a = compile_model(*base);
  ASSERT_TRUE(a.ok()) << a.error().message;
  const ShapeProperties pa = shape_properties(*a);
  for (int k = 1; k <= 3; ++k) {
    auto t = turn_vec(*vec, k);
    ASSERT_TRUE(t.ok()) << t.error().message;
    auto back = decode(*t);
    ASSERT_TRUE(back.ok());
    auto b = compile_model(*back);
    ASSERT_TRUE(b.ok()) << "k=" << k << ": " << b.error().message;
    const ShapeProperties pb = shape_properties(*b);
    EXPECT_NEAR(pb.volume, pa.volume, 1e-6 * pa.volume) << "k=" << k;
    EXPECT_NEAR(pb.area, pa.area, 1e-6 * pa.area) << "k=" << k;
  }
}

TEST(TurnKernel, F360ValModelsTurnAsTheirSolids) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  int checked = 0;
  for (const std::string& id : f360_val_ids(3)) {
    if (checked == 4) break;
    auto m = read_cad_json(shared_data_dir() + "/f360/json/" + id + ".json");
    ASSERT_TRUE(m.ok()) << m.error().message;
    if (!compile_model(*m).ok()) continue;  // not this test's business
    expect_turns_with_the_solid(*m, {1 + checked % 3});
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

}  // namespace
}  // namespace cadcrafter::testing
