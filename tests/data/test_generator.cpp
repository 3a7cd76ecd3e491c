// The procedural generator: deterministic, within DeepCAD's limits, arcs with DeepCAD's
// bookkeeping, closed loops, a correct bounding box, valid solids, no duplicates.
#include <cmath>
#include <map>
#include <set>

#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "data/generator.h"
#include "data/sketch_shapes.h"
#include "kernel/check.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

constexpr double kPi = 3.14159265358979323846;

double dist(Vec2 a, Vec2 b) { return std::hypot(a.x - b.x, a.y - b.y); }

std::string vec_key(const CadModel& m) {
  auto v = encode(m);
  if (!v.ok()) return "rejected";
  std::string key;
  for (const auto& row : *v)
    for (int x : row) key += std::to_string(x) + ",";
  return key;
}

TEST(Generator, SameSeedSameModelDifferentSeedDifferentModel) {
  GeneratorOptions o;
  for (uint64_t seed : {1ull, 42ull, 123456789ull}) {
    EXPECT_EQ(to_cad_json(generate_model(o, seed)), to_cad_json(generate_model(o, seed)));
  }
  std::set<std::string> distinct;
  for (uint64_t seed = 0; seed < 50; ++seed) distinct.insert(to_cad_json(generate_model(o, seed)));
  EXPECT_GE(distinct.size(), 48u);
}

TEST(Generator, ArcsCarryDeepCadBookkeepingAndLoopsAreClosed) {
  GeneratorOptions o;
  int arcs = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    const CadModel m = generate_model(o, seed);
    for (const Extrude& e : m.extrudes) {
      for (size_t li = 0; li < e.profile.loops.size(); ++li) {
        const Loop& loop = e.profile.loops[li];
        ASSERT_FALSE(loop.curves.empty());
        for (size_t i = 0; i < loop.curves.size(); ++i) {
          const Curve& c = loop.curves[i];
          if (c.type != CurveType::kCircle) {
            const Curve& next = loop.curves[(i + 1) % loop.curves.size()];
            EXPECT_LT(dist(c.end, next.start), 1e-9) << "seed " << seed << " loop not closed";
          } else {
            EXPECT_EQ(loop.curves.size(), 1u);
            EXPECT_GT(c.radius, 0);
          }
          if (c.type != CurveType::kArc) continue;
          ++arcs;
          const double sweep = c.end_angle - c.start_angle;
          EXPECT_EQ(c.start_angle, 0.0);
          EXPECT_GT(sweep, 0);
          EXPECT_LT(sweep, 2 * kPi);
          EXPECT_NEAR(std::hypot(c.ref_vec.x, c.ref_vec.y), 1.0, 1e-12);
          EXPECT_NEAR(dist(c.start, c.center), c.radius, 1e-9 * (1 + c.radius));
          EXPECT_NEAR(dist(c.end, c.center), c.radius, 1e-9 * (1 + c.radius));
          // ref_vec points at the counter-clockwise starting end; the other end is sweep further.
          const double a0 = std::atan2(c.ref_vec.y, c.ref_vec.x);
          const Vec2 ccw_start{c.center.x + c.radius * std::cos(a0), c.center.y + c.radius * std::sin(a0)};
          const Vec2 ccw_end{c.center.x + c.radius * std::cos(a0 + sweep), c.center.y + c.radius * std::sin(a0 + sweep)};
          const bool forward = dist(ccw_start, c.start) < 1e-7 && dist(ccw_end, c.end) < 1e-7;
          const bool backward = dist(ccw_start, c.end) < 1e-7 && dist(ccw_end, c.start) < 1e-7;
          EXPECT_TRUE(forward || backward) << "seed " << seed;
          const Vec2 mid{c.center.x + c.radius * std::cos(a0 + sweep / 2), c.center.y + c.radius * std::sin(a0 + sweep / 2)};
          EXPECT_LT(dist(mid, c.mid), 1e-9 * (1 + c.radius));
        }
      }
    }
  }
  EXPECT_GT(arcs, 100);
}

TEST(Generator, EncodesLikeItsCadJsonReadBack) {
  // The generator returns models in DeepCAD's reading order, so the vector of the in-memory
  // model is the vector DeepCAD would compute from the written file.
  GeneratorOptions o;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    const CadModel m = generate_model(o, seed);
    auto reread = parse_cad_json(to_cad_json(m), "seed");
    ASSERT_TRUE(reread.ok()) << reread.error().message;
    auto a = encode(m), b = encode(*reread);
    ASSERT_TRUE(a.ok() && b.ok()) << "seed " << seed;
    EXPECT_EQ(*a, *b) << "seed " << seed;
  }
}

TEST(SketchShapes, AreasAndOrientationOfTheBuildingBlocks) {
  using namespace shapes;
  const double w = 4, h = 3, r = 0.5;
  EXPECT_NEAR(loop_signed_area(rectangle_loop({1, 2}, w, h)), w * h, 1e-12);
  EXPECT_NEAR(loop_signed_area(rounded_rectangle_loop({1, 2}, w, h, r)), w * h - (4 - kPi) * r * r, 1e-12);
  EXPECT_NEAR(loop_signed_area(slot_loop({0, 0}, 3, r, 0.7)), 2 * r * 3 + kPi * r * r, 1e-12);
  EXPECT_NEAR(loop_signed_area(reversed_loop(slot_loop({0, 0}, 3, r, 0.7))), -(2 * r * 3 + kPi * r * r), 1e-12);
  // Mirroring keeps a loop counter-clockwise and its area.
  const Loop rr = rounded_rectangle_loop({1, 2}, w, h, r);
  EXPECT_NEAR(loop_signed_area(mirrored_loop_v(rr)), loop_signed_area(rr), 1e-12);
  // A half circle bulging outwards from a chord on the x axis: area pi r^2 / 2, box to y = r.
  Loop half;
  half.curves.push_back(make_line({-1, 0}, {1, 0}));
  half.curves.push_back(make_arc_through_chord({1, 0}, {-1, 0}, kPi));
  EXPECT_NEAR(loop_signed_area(half), kPi / 2, 1e-12);
  const Box2 box = loop_box(half);
  EXPECT_NEAR(box.max.y, 1.0, 1e-12);
  EXPECT_NEAR(box.min.y, 0.0, 1e-12);
  EXPECT_NEAR(box.min.x, -1.0, 1e-12);
}

TEST(Generator, StaysWithinDeepCadLimitsAndEncodes) {
  for (int complexity : {1, 2, 3}) {
    GeneratorOptions o;
    o.complexity = complexity;
    int encoded = 0;
    for (uint64_t seed = 0; seed < 300; ++seed) {
      const CadModel m = generate_model(o, seed);
      ASSERT_FALSE(m.extrudes.empty());
      EXPECT_EQ(m.extrudes[0].operation, Operation::kNewBody);
      EXPECT_EQ(check_limits(m, o), "") << "seed " << seed;
      const auto v = encode(m);
      if (v.ok()) {
        ++encoded;
        EXPECT_EQ(static_cast<int>(v->size()), count_rows(m)) << "seed " << seed;
      }
    }
    EXPECT_GE(encoded, 297) << "complexity " << complexity;
  }
}

TEST(Generator, MostRawModelsAreValidSolidsInsideTheirBox) {
  GeneratorOptions o;
  int valid = 0;
  const int n = 150;
  for (uint64_t seed = 1000; seed < 1000 + n; ++seed) {
    const CadModel m = generate_model(o, seed);
    const CheckResult r = check_model(m);
    if (!r.valid) continue;
    ++valid;
    EXPECT_GT(r.volume, 0);
    // The additive box contains the solid (cuts only shrink it).
    const double tol = 1e-6 * (1 + std::fabs(m.bbox.max.x - m.bbox.min.x));
    EXPECT_LE(m.bbox.min.x, r.bbox.min.x + tol) << "seed " << seed;
    EXPECT_LE(m.bbox.min.y, r.bbox.min.y + tol) << "seed " << seed;
    EXPECT_LE(m.bbox.min.z, r.bbox.min.z + tol) << "seed " << seed;
    EXPECT_GE(m.bbox.max.x, r.bbox.max.x - tol) << "seed " << seed;
    EXPECT_GE(m.bbox.max.y, r.bbox.max.y - tol) << "seed " << seed;
    EXPECT_GE(m.bbox.max.z, r.bbox.max.z - tol) << "seed " << seed;
  }
  EXPECT_GE(valid, n * 85 / 100);
}

TEST(Generator, ValidModelsAreValidDistinctAndIndependentOfThreads) {
  GeneratorOptions o;
  auto checker = [](const CadModel& m) -> Status {
    const CheckResult r = check_model(m);
    if (!r.valid) return Status::fail(r.code, r.reason);
    if (!encode(m).ok()) return Status::fail(ErrorCode::kRejected, "encoder");
    return {};
  };
  GenerationReport report;
  const auto one = generate_valid_models(o, 7, 40, checker, vec_key, 1, &report);
  const auto two = generate_valid_models(o, 7, 40, checker, vec_key, 2);
  ASSERT_EQ(one.size(), 40u);
  ASSERT_EQ(two.size(), 40u);
  std::set<std::string> keys;
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].seed, two[i].seed);
    EXPECT_TRUE(check_model(one[i].model).valid);
    EXPECT_TRUE(keys.insert(vec_key(one[i].model)).second) << "duplicate at " << i;
  }
  EXPECT_GE(report.attempts, 40);
}

TEST(Generator, DuplicatesAreReplacedInIndexOrder) {
  // A coarse key (the number of extrudes) forces collisions: the result must still have
  // distinct keys, and the first index keeps its first attempt.
  GeneratorOptions o;
  o.complexity = 3;
  auto key = [](const CadModel& m) { return std::to_string(m.extrudes.size()); };
  GenerationReport report;
  const auto models = generate_valid_models(o, 11, 4, {}, key, 2, &report);
  std::set<std::string> keys;
  for (const auto& g : models) EXPECT_TRUE(keys.insert(key(g.model)).second);
  EXPECT_EQ(models[0].seed, derive_seed(11, 0, 0));
  EXPECT_GT(report.rejected_duplicate, 0);
}

}  // namespace
}  // namespace cadcrafter
