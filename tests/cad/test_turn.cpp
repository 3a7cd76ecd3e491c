// Quarter turns about +Z (cad/turn.h): exact on the continuous model, and through DeepCAD's
// quantised vectors the same geometry to within a quantisation step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "cad/deepcad_sketch.h"
#include "cad/turn.h"
#include "cad/turn_support.h"
#include "test_support.h"

namespace cadcrafter::testing {
namespace {

using namespace turn_models;  // NOLINT: the shared builders

// A unit cube sketched on a plane with normal -X: DeepCAD's phi cannot represent it.
CadModel cube_facing_minus_x() {
  CadModel m;
  m.id = "cube";
  m.extrudes.push_back(extrude(plane({0, 0, 0}, {0, 0, 1}, {0, 1, 0}), {polygon({{0, 0}, {1, 0}, {1, 1}, {0, 1}})},
                               Operation::kNewBody, ExtentType::kOneSide, 1.0));
  m.bbox.min = {-1, 0, 0};
  m.bbox.max = {0, 1, 1};
  deepcad::reorder_model(m);
  return m;
}

CadModel scaled_model(CadModel m, double s) {
  auto sc3 = [s](Vec3& v) { v = {v.x * s, v.y * s, v.z * s}; };
  auto sc2 = [s](Vec2& v) { v = {v.x * s, v.y * s}; };
  for (auto& e : m.extrudes) {
    sc3(e.plane.origin);
    sc3(e.sketch_pos);
    e.extent_one *= s;
    e.extent_two *= s;
    for (auto& l : e.profile.loops)
      for (auto& c : l.curves) {
        sc2(c.start);
        sc2(c.end);
        sc2(c.mid);
        sc2(c.center);
        c.radius *= s;
      }
  }
  sc3(m.bbox.min);
  sc3(m.bbox.max);
  return m;
}

Result<CadModel> read_f360(const std::string& id) { return read_cad_json(shared_data_dir() + "/f360/json/" + id + ".json"); }

void expect_exact_turns(const CadModel& m) {
  EXPECT_TRUE(same_model(turn_about_z(turn_about_z(m, 1), 3), m)) << m.id;
  EXPECT_TRUE(same_model(turn_about_z(turn_about_z(m, 3), 1), m)) << m.id;
  CadModel four = m;
  for (int i = 0; i < 4; ++i) four = turn_about_z(four, 1);
  EXPECT_TRUE(same_model(four, m)) << m.id;
  EXPECT_TRUE(same_model(turn_about_z(turn_about_z(m, 1), 1), turn_about_z(m, 2))) << m.id;
  EXPECT_TRUE(same_model(turn_about_z(m, -1), turn_about_z(m, 3))) << m.id;
  EXPECT_TRUE(same_model(turn_about_z(m, 5), turn_about_z(m, 1))) << m.id;
  EXPECT_TRUE(same_model(turn_about_z(m, 0), m)) << m.id;
  EXPECT_TRUE(same_model(turn_about_z(m, -8), m)) << m.id;
}

TEST(Turn, QuarterTurnMovesPlanesAndBox) {
  const CadModel m = bracket();
  const CadModel t = turn_about_z(m, 1);
  ASSERT_EQ(t.extrudes.size(), m.extrudes.size());
  for (size_t i = 0; i < m.extrudes.size(); ++i) {
    const SketchPlane &a = m.extrudes[i].plane, &b = t.extrudes[i].plane;
    EXPECT_TRUE(same_vec3(b.origin, {-a.origin.y, a.origin.x, a.origin.z}));
    EXPECT_TRUE(same_vec3(b.x_axis, {-a.x_axis.y, a.x_axis.x, a.x_axis.z}));
    EXPECT_TRUE(same_vec3(b.y_axis, {-a.y_axis.y, a.y_axis.x, a.y_axis.z}));
    EXPECT_TRUE(same_vec3(b.normal, {-a.normal.y, a.normal.x, a.normal.z}));
    // Profiles, extents and operations are untouched.
    CadModel pa, pb;
    pa.extrudes = {m.extrudes[i]};
    pb.extrudes = {t.extrudes[i]};
    pb.extrudes[0].plane = pa.extrudes[0].plane;
    pb.extrudes[0].sketch_pos = pa.extrudes[0].sketch_pos;
    EXPECT_TRUE(same_model(pa, pb));
  }
  // Box [0,4]x[0,5]x[0,2] -> [-5,0]x[0,4]x[0,2].
  EXPECT_TRUE(same_vec3(t.bbox.min, {-5, 0, 0}));
  EXPECT_TRUE(same_vec3(t.bbox.max, {0, 4, 2}));
  const CadModel h = turn_about_z(m, 2);
  EXPECT_TRUE(same_vec3(h.bbox.min, {-4, -5, 0}));
  EXPECT_TRUE(same_vec3(h.bbox.max, {0, 0, 2}));
}

// Centring moves every plane by minus the box centre, leaves the sketches alone, makes the box
// symmetric, and commutes with the quarter turns.
TEST(Turn, CentringMovesPlanesByTheBoxCentre) {
  const CadModel m = bracket();  // box [0,4]x[0,5]x[0,2]
  const CadModel c = centred_on(m, m.bbox);
  ASSERT_EQ(c.extrudes.size(), m.extrudes.size());
  for (size_t i = 0; i < m.extrudes.size(); ++i) {
    const SketchPlane &a = m.extrudes[i].plane, &b = c.extrudes[i].plane;
    EXPECT_TRUE(same_vec3(b.origin, {a.origin.x - 2, a.origin.y - 2.5, a.origin.z - 1}));
    EXPECT_TRUE(same_vec3(b.x_axis, a.x_axis));
    EXPECT_TRUE(same_vec3(b.normal, a.normal));
    EXPECT_TRUE(same_vec3(c.extrudes[i].sketch_pos, {m.extrudes[i].sketch_pos.x - 2, m.extrudes[i].sketch_pos.y - 2.5,
                                                     m.extrudes[i].sketch_pos.z - 1}));
  }
  EXPECT_TRUE(same_vec3(c.bbox.min, {-2, -2.5, -1}));
  EXPECT_TRUE(same_vec3(c.bbox.max, {2, 2.5, 1}));
  for (int k = 1; k < 4; ++k) {
    SCOPED_TRACE(k);
    const CadModel turned = turn_about_z(m, k);
    EXPECT_TRUE(same_model(turn_about_z(c, k), centred_on(turned, turned.bbox)));
  }
  // Encoded, the centred model spans DeepCAD's box symmetrically: its longest half-extent (y) is
  // scaled to 0.75, so the encoder's scale is 0.75 / 2.5 instead of 0.75 / 5.
  auto vm = encode(m), vc = encode(c);
  ASSERT_TRUE(vm.ok() && vc.ok());
  auto dc = decode(*vc);
  ASSERT_TRUE(dc.ok());
  EXPECT_NEAR(dc->extrudes[0].extent_one, 0.5 * 0.75 / 2.5, 2.0 / 256);
}

TEST(Turn, TurnsComposeExactly) {
  expect_exact_turns(bracket());
  expect_exact_turns(cube_facing_minus_x());
  auto vec = encode(bracket());
  ASSERT_TRUE(vec.ok()) << vec.error().message;
  auto decoded = decode(*vec);
  ASSERT_TRUE(decoded.ok());
  expect_exact_turns(*decoded);
  if (shared_data_dir().empty()) return;
  const auto ids = f360_val_ids();
  for (size_t i = 0; i < std::min<size_t>(ids.size(), 20); ++i) {
    auto m = read_f360(ids[i]);
    ASSERT_TRUE(m.ok()) << m.error().message;
    expect_exact_turns(*m);
  }
}

// DeepCAD decodes a -X normal as +X with the sketch mirrored; with_encodable_planes flips the
// plane first, so the vector decodes to the model itself.
TEST(Turn, EncodablePlanesKeepANegativeXNormal) {
  const CadModel m = cube_facing_minus_x();
  const CadModel normalised = scaled_model(m, 0.75);  // max |bbox coordinate| is 1
  auto naive = encode(m);
  ASSERT_TRUE(naive.ok());
  auto naive_back = decode(*naive);
  ASSERT_TRUE(naive_back.ok());
  EXPECT_GT(model_distance(*naive_back, normalised), 0.5);  // mirrored onto the other side of x = 0

  const CadModel fixed = with_encodable_planes(m);
  EXPECT_GT(fixed.extrudes[0].plane.normal.x, 0.0);
  EXPECT_LT(model_distance(fixed, m), 1e-12);  // same prism, other representation
  auto vec = encode(fixed);
  ASSERT_TRUE(vec.ok()) << vec.error().message;
  auto back = decode(*vec);
  ASSERT_TRUE(back.ok());
  EXPECT_LT(model_distance(*back, normalised), 1e-9);
}

TEST(Turn, EncodablePlanesSettleGammaAtMinusPi) {
  // An XY sketch turned twice has x axis -X: gamma = pi, which would clip to 255.
  CadModel m = bracket();
  m.extrudes.resize(1);
  const CadModel t = turn_about_z(m, 2);
  auto naive = encode(t);
  ASSERT_TRUE(naive.ok());
  EXPECT_EQ((*naive)[naive->size() - 2][kColGamma], 255);
  auto vec = encode(with_encodable_planes(t));
  ASSERT_TRUE(vec.ok());
  EXPECT_EQ((*vec)[vec->size() - 2][kColGamma], 0);
  auto back = decode(*vec);
  ASSERT_TRUE(back.ok());
  auto ref = decode(*encode(m));
  ASSERT_TRUE(ref.ok());
  EXPECT_LT(model_distance(*back, turn_about_z(*ref, 2)), 1e-9);
}

TEST(Turn, TurnVecOfAHandBuiltBracket) {
  auto vec = encode(bracket());
  ASSERT_TRUE(vec.ok()) << vec.error().message;
  auto base = decode(*vec);
  ASSERT_TRUE(base.ok());
  for (int k = -1; k <= 4; ++k) {
    auto t = turn_vec(*vec, k);
    ASSERT_TRUE(t.ok()) << k << ": " << t.error().message;
    EXPECT_TRUE(validate_vec(*t).ok()) << k;
    auto back = decode(*t);
    ASSERT_TRUE(back.ok());
    EXPECT_LT(model_distance(*back, turn_about_z(*base, k)), 1e-9) << "k=" << k;
  }
  // Four single turns come back to the same solid, but the -Y cut plane comes back flipped:
  // its normal passes -X on the way, which only the flipped plane can represent.
  CadVec four = *vec;
  for (int i = 0; i < 4; ++i) four = *turn_vec(four, 1);
  EXPECT_LT(model_distance(*decode(four), *base), 1e-9);
  EXPECT_FALSE(turn_vec({eos_row()}, 1).ok());
}

// Every F360 val model that encodes (the first 300): turn_vec for k = 1, 2, 3 succeeds and
// decodes to the turned decoded model. Prints how often that is exact.
TEST(Turn, QuantisedTurnsOfF360ValModels) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  const size_t cap = 300;
  const double exact = 1e-6;
  const double step = 2.0 / 256;  // one quantisation step of a position in the normalised frame
  struct Count {
    int exact = 0, step = 0;
    void add(double d, double e, double s) {
      exact += d <= e;
      this->step += d <= s;
    }
  };
  int models = 0, not_turnable = 0, identity = 0, turns = 0, turned_ok = 0, plain_ok = 0, models_all_exact = 0;
  int four_same = 0, four_same_geometry = 0;
  Count turned, plain;
  std::vector<double> worst;
  for (const std::string& id : f360_val_ids()) {
    if (static_cast<size_t>(models) >= cap) break;
    auto m = read_f360(id);
    if (!m.ok()) continue;
    auto v = encode(*m);
    if (!v.ok()) continue;
    ++models;
    auto base = decode(*v);
    ASSERT_TRUE(base.ok()) << id;
    auto same = turn_vec(*v, 0);
    if (!same.ok()) {
      // decode(v) does not encode again (a sketch quantised to size 0): no turn can either.
      ++not_turnable;
      for (int k = 1; k <= 3; ++k) EXPECT_FALSE(turn_vec(*v, k).ok()) << id;
      continue;
    }
    identity += *same == *v;
    bool all_exact = true;
    double model_worst = 0;
    for (int k = 1; k <= 3; ++k) {
      ++turns;
      auto t = turn_vec(*v, k);
      EXPECT_TRUE(t.ok()) << id << " k=" << k << ": " << (t.ok() ? "" : t.error().message);
      if (!t.ok()) {
        all_exact = false;
        continue;
      }
      ++turned_ok;
      EXPECT_TRUE(validate_vec(*t).ok()) << id << " k=" << k;
      const CadModel want = turn_about_z(*base, k);
      const double d = model_distance(*decode(*t), want);
      turned.add(d, exact, step);
      model_worst = std::max(model_worst, d);
      all_exact = all_exact && d <= exact;
      auto p = encode(want);  // for comparison: DeepCAD's encoder on the turned model as it is
      if (p.ok()) {
        ++plain_ok;
        plain.add(model_distance(*decode(*p), want), exact, step);
      }
    }
    worst.push_back(model_worst);
    models_all_exact += all_exact;
    CadVec four = *v;
    bool four_ok = true;
    for (int i = 0; i < 4 && four_ok; ++i) {
      auto t = turn_vec(four, 1);
      four_ok = t.ok();
      if (four_ok) four = *t;
    }
    four_same += four_ok && four == *v;
    four_same_geometry += four_ok && model_distance(*decode(four), *base) <= exact;
  }
  std::sort(worst.begin(), worst.end());
  auto pct = [&](double q) { return worst.empty() ? 0.0 : worst[static_cast<size_t>(q * (worst.size() - 1))]; };
  const int n = models - not_turnable;
  std::printf("quarter turns of %d F360 val models (%d not turnable: decode(v) does not encode); turn_vec(v, 0) == v "
              "for %d / %d\n",
              models, not_turnable, identity, n);
  std::printf("  k = 1, 2, 3: %d / %d encode; decoded = turn_about_z(decode(v), k) within 1e-6: %d turns (%d / %d "
              "models all three), within one step (%.4f): %d; worst per model median %.2g, p95 %.2g, max %.2g\n",
              turned_ok, turns, turned.exact, models_all_exact, n, step, turned.step, pct(0.5), pct(0.95), pct(1.0));
  std::printf("  plain encode(turn_about_z(decode(v), k)) for comparison: within 1e-6 %d / %d, within one step %d\n",
              plain.exact, plain_ok, plain.step);
  std::printf("  4 single turns: vector identical %d / %d, same geometry %d\n", four_same, n, four_same_geometry);
  ASSERT_EQ(models, static_cast<int>(cap));
  EXPECT_LE(not_turnable, 3);
  EXPECT_EQ(identity, n);
  EXPECT_EQ(turned_ok, turns);
  // Measured when written: 871 / 897 exact, 896 within one step, 4 turns 260 / 299 identical
  // and 285 the same geometry. The inexact ones are flipped planes whose mirrored sketch starts
  // at another point (re-encoded) and extents of -1 that flip to +1 (clipped to 255).
  EXPECT_GE(turned.exact, turns * 95 / 100);
  EXPECT_GE(turned.step, turns * 99 / 100);
  EXPECT_GE(four_same, n * 85 / 100);
  EXPECT_GE(four_same_geometry, n * 93 / 100);
}

}  // namespace
}  // namespace cadcrafter::testing
