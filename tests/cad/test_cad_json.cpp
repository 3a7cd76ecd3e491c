// cad_json reading and writing: DeepCAD's from_dict semantics, geometric invariants of what
// we read, write/re-read round trips, and clear errors on bad input.
#include <cmath>
#include <filesystem>

#include "cad/golden_support.h"
#include "util/atomic_file.h"

namespace cadcrafter::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Curve line(double x0, double y0, double x1, double y1) {
  Curve c;
  c.type = CurveType::kLine;
  c.start = {x0, y0};
  c.end = {x1, y1};
  return c;
}

Curve circle(double cx, double cy, double r) {
  Curve c;
  c.type = CurveType::kCircle;
  c.center = {cx, cy};
  c.radius = r;
  return c;
}

// A 2 x 1 plate in the XY plane with a round hole, extruded 0.5 along +z.
CadModel plate_with_hole() {
  CadModel m;
  m.id = "plate";
  Extrude e;
  Loop outer;
  outer.curves = {line(0, 0, 2, 0), line(2, 0, 2, 1), line(2, 1, 0, 1), line(0, 1, 0, 0)};
  Loop hole;
  hole.curves = {circle(1, 0.5, 0.25)};
  e.profile.loops = {outer, hole};
  e.extent_one = 0.5;
  m.extrudes.push_back(e);
  m.bbox.min = {0, 0, 0};
  m.bbox.max = {2, 1, 0.5};
  return m;
}

json plate_json() { return json::parse(to_cad_json(plate_with_hole())); }

std::string parse_error(const json& j) {
  const auto r = parse_cad_json(j.dump(), "bad.json");
  return r.ok() ? std::string("(parsed fine)") : r.error().message;
}

double dist(Vec2 a, Vec2 b) { return std::hypot(a.x - b.x, a.y - b.y); }

TEST(CadJson, ReadsEveryF360AndDeepCadFile) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  int files = 0, failures = 0;
  for (const char* dir : {"/f360/json", "/deepcad/json"}) {
    for (const auto& e : fs::directory_iterator(shared_data_dir() + dir)) {
      ++files;
      const auto m = read_cad_json(e.path().string());
      if (!m.ok()) {
        ++failures;
        ADD_FAILURE() << m.error().message;
      }
    }
  }
  EXPECT_EQ(files, 6524 + 25);
  EXPECT_EQ(failures, 0);
}

// What we read must be real geometry: arcs pass through start/mid/end, loops are closed
// chains, planes are orthonormal and right-handed.
TEST(CadJson, F360GeometryInvariantsHold) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  int arcs = 0, loops = 0, checked = 0;
  for (const auto& e : fs::directory_iterator(shared_data_dir() + "/f360/json")) {
    if (checked++ % 4 != 0) continue;  // every 4th file keeps the default suite quick
    const auto m = read_cad_json(e.path().string());
    ASSERT_TRUE(m.ok()) << m.error().message;
    for (const auto& ext : m->extrudes) {
      const SketchPlane& p = ext.plane;
      const Vec3 n = p.normal, x = p.x_axis, y = p.y_axis;
      EXPECT_NEAR(x.x * y.x + x.y * y.y + x.z * y.z, 0.0, 1e-6) << m->id;
      // y = z cross x for the F360 transforms.
      EXPECT_NEAR(n.y * x.z - n.z * x.y, y.x, 1e-6) << m->id;
      EXPECT_NEAR(n.z * x.x - n.x * x.z, y.y, 1e-6) << m->id;
      EXPECT_NEAR(n.x * x.y - n.y * x.x, y.z, 1e-6) << m->id;
      for (const auto& loop : ext.profile.loops) {
        ++loops;
        const auto& cs = loop.curves;
        for (size_t i = 0; i < cs.size(); ++i) {
          const Curve& c = cs[i];
          if (c.type == CurveType::kArc) {
            ++arcs;
            const double tol = 1e-6 * std::max(1.0, c.radius);
            EXPECT_NEAR(dist(c.start, c.center), c.radius, tol) << m->id;
            EXPECT_NEAR(dist(c.mid, c.center), c.radius, tol) << m->id;
            EXPECT_NEAR(dist(c.end, c.center), c.radius, tol) << m->id;
          }
          if (cs.size() > 1 && c.type != CurveType::kCircle) {
            const Curve& next = cs[(i + 1) % cs.size()];
            EXPECT_LT(dist(c.end, deepcad::start_point(next)), 1e-6) << m->id << " loop not chained at curve " << i;
          }
        }
      }
    }
  }
  EXPECT_GT(arcs, 1000);
  EXPECT_GT(loops, 3000);
}

TEST(CadJson, SplitsFeaturesPerProfileLikeFromDict) {
  json j = plate_json();
  // Give E1 two profiles of the same sketch: NewBody then Join.
  j["entities"]["S1"]["profiles"]["P2"] = j["entities"]["S1"]["profiles"]["P1"];
  j["entities"]["E1"]["profiles"].push_back(json{{"profile", "P2"}, {"sketch", "S1"}});
  // A Cut feature with the same two profiles stays Cut for both; an empty feature vanishes.
  j["entities"]["E2"] = j["entities"]["E1"];
  j["entities"]["E2"]["operation"] = "CutFeatureOperation";
  j["entities"]["E3"] = j["entities"]["E1"];
  j["entities"]["E3"]["profiles"] = json::array();
  j["sequence"].push_back(json{{"index", 2}, {"type", "ExtrudeFeature"}, {"entity", "E3"}});
  j["sequence"].push_back(json{{"index", 3}, {"type", "ExtrudeFeature"}, {"entity", "E2"}});
  const auto m = parse_cad_json(j.dump(), "split.json");
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->extrudes.size(), 4u);
  EXPECT_EQ(m->extrudes[0].operation, Operation::kNewBody);
  EXPECT_EQ(m->extrudes[1].operation, Operation::kJoin);
  EXPECT_EQ(m->extrudes[2].operation, Operation::kCut);
  EXPECT_EQ(m->extrudes[3].operation, Operation::kCut);
  EXPECT_EQ(m->id, "split");
}

TEST(CadJson, DeepCadFileWithEmptyNewBodyStartsWithJoin) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  const auto m = read_cad_json(shared_data_dir() + "/deepcad/json/00000073.json");
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_FALSE(m->extrudes.empty());
  EXPECT_EQ(m->extrudes[0].operation, Operation::kJoin);
  const auto all_empty = read_cad_json(shared_data_dir() + "/deepcad/json/00000076.json");
  ASSERT_TRUE(all_empty.ok());
  EXPECT_TRUE(all_empty->extrudes.empty());
}

TEST(CadJson, ReordersLoopsAndCurvesLikeDeepCad) {
  json j = plate_json();
  // Put the hole first and start the outer loop at a different corner, clockwise.
  auto& loops = j["entities"]["S1"]["profiles"]["P1"]["loops"];
  std::swap(loops[0], loops[1]);
  auto& curves = loops[1]["profile_curves"];
  json cw = json::array();
  for (int i = 3; i >= 0; --i) {
    json c = curves[(i + 2) % 4];
    std::swap(c["start_point"], c["end_point"]);
    cw.push_back(c);
  }
  curves = cw;
  const auto m = parse_cad_json(j.dump(), "reorder.json");
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Profile& p = m->extrudes[0].profile;
  ASSERT_EQ(p.loops.size(), 2u);
  ASSERT_EQ(p.loops[0].curves.size(), 4u);  // outer loop first again (smaller min corner)
  const auto& outer = p.loops[0].curves;
  EXPECT_EQ(outer[0].start.x, 0.0);  // starts at the left-most, lowest point
  EXPECT_EQ(outer[0].start.y, 0.0);
  EXPECT_EQ(outer[0].end.x, 2.0);  // and runs counter-clockwise
  EXPECT_EQ(outer[0].end.y, 0.0);
  // The re-ordered model encodes exactly like the original.
  const auto a = encode(plate_with_hole()), b = encode(*m);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

// Writing and re-reading gives the same model and the same DeepCAD vector, for real files.
TEST(CadJson, WriteReadRoundTripPreservesModelAndVector) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  TempDir tmp;
  const auto golden = load_golden_vecs();
  int round_trips = 0;
  for (size_t i = 0; i < golden.size(); i += 7) {
    const auto m = read_cad_json(golden_json_path(golden[i]));
    ASSERT_TRUE(m.ok());
    const std::string out = tmp / (m->id + ".json");
    ASSERT_TRUE(write_cad_json(*m, out).ok());
    const auto again = read_cad_json(out);
    ASSERT_TRUE(again.ok()) << again.error().message;
    ASSERT_EQ(again->extrudes.size(), m->extrudes.size()) << m->id;
    for (size_t e = 0; e < m->extrudes.size(); ++e) {
      const Extrude &x = m->extrudes[e], &y = again->extrudes[e];
      EXPECT_EQ(x.operation, y.operation);
      EXPECT_EQ(x.extent_type, y.extent_type);
      EXPECT_EQ(x.extent_one, y.extent_one);
      EXPECT_EQ(x.extent_two, y.extent_two);
      EXPECT_EQ(x.plane.origin.x, y.plane.origin.x);
      ASSERT_EQ(x.profile.loops.size(), y.profile.loops.size()) << m->id;
      for (size_t k = 0; k < x.profile.loops.size(); ++k) {
        ASSERT_EQ(x.profile.loops[k].curves.size(), y.profile.loops[k].curves.size()) << m->id;
        for (size_t c = 0; c < x.profile.loops[k].curves.size(); ++c) {
          const Curve &p = x.profile.loops[k].curves[c], &q = y.profile.loops[k].curves[c];
          EXPECT_EQ(p.type, q.type) << m->id;
          EXPECT_LT(dist(deepcad::start_point(p), deepcad::start_point(q)), 1e-12) << m->id;
          EXPECT_LT(dist(deepcad::end_point(p), deepcad::end_point(q)), 1e-12) << m->id;
        }
      }
    }
    const auto v1 = encode(*m), v2 = encode(*again);
    ASSERT_EQ(v1.ok(), v2.ok()) << m->id;
    if (v1.ok()) {
      EXPECT_EQ(*v1, *v2) << m->id;
    } else {
      EXPECT_EQ(rejection_category(v1.error().message), rejection_category(v2.error().message));
    }
    ++round_trips;
  }
  EXPECT_GT(round_trips, 900);
}

// ---- bad input ----------------------------------------------------------------------------

TEST(CadJsonBadInput, MissingFileIsAnIoError) {
  const auto r = read_cad_json("/nonexistent/model.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_NE(r.error().message.find("/nonexistent/model.json"), std::string::npos);
}

TEST(CadJsonBadInput, TruncatedAndCorruptJson) {
  const std::string text = plate_json().dump();
  for (size_t cut : {size_t{0}, size_t{1}, text.size() / 3, text.size() - 1}) {
    const auto r = parse_cad_json(text.substr(0, cut), "cut.json");
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.error().code, ErrorCode::kParse);
    EXPECT_EQ(r.error().message.rfind("cut.json: not valid JSON", 0), 0u) << r.error().message;
  }
  EXPECT_NE(parse_cad_json("[1, 2, 3]", "array.json").error().message.find("expected an object"), std::string::npos);
}

TEST(CadJsonBadInput, NanAndInfinityAreRejected) {
  std::string text = plate_json().dump();
  const std::string key = "\"radius\":0.25";
  ASSERT_NE(text.find(key), std::string::npos);
  std::string nan_text = text;
  nan_text.replace(nan_text.find(key), key.size(), "\"radius\":NaN");
  const auto r = parse_cad_json(nan_text, "nan.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("NaN/Infinity are not allowed"), std::string::npos) << r.error().message;
  std::string huge = text;
  huge.replace(huge.find(key), key.size(), "\"radius\":1e999");
  const auto h = parse_cad_json(huge, "huge.json");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("overflow parsing '1e999'"), std::string::npos) << h.error().message;
}

TEST(CadJsonBadInput, UnknownCurveTypeNamesThePath) {
  json j = plate_json();
  j["entities"]["S1"]["profiles"]["P1"]["loops"][1]["profile_curves"][0]["type"] = "NurbsCurve3D";
  const std::string msg = parse_error(j);
  EXPECT_NE(msg.find("bad.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("NurbsCurve3D"), std::string::npos) << msg;
  EXPECT_NE(msg.find("entities.S1.profiles.P1.loops[1].profile_curves[0].type"), std::string::npos) << msg;
}

TEST(CadJsonBadInput, MissingKeysAndWrongTypes) {
  {
    json j = plate_json();
    j["entities"]["E1"].erase("extent_one");
    EXPECT_NE(parse_error(j).find("entities.E1: missing key \"extent_one\""), std::string::npos) << parse_error(j);
  }
  {
    json j = plate_json();
    j["entities"]["E1"]["extent_one"]["distance"]["value"] = "ten";
    EXPECT_NE(parse_error(j).find("expected a number, found string"), std::string::npos) << parse_error(j);
  }
  {
    json j = plate_json();
    j["entities"]["S1"]["transform"]["origin"]["z"] = nullptr;
    EXPECT_NE(parse_error(j).find("entities.S1.transform.origin.z"), std::string::npos) << parse_error(j);
  }
  {
    json j = plate_json();
    j["sequence"] = json::object();
    EXPECT_NE(parse_error(j).find("sequence: expected an array"), std::string::npos) << parse_error(j);
  }
  {
    json j = plate_json();
    j["entities"]["E1"]["profiles"][0]["sketch"] = "S9";
    EXPECT_NE(parse_error(j).find("missing key \"S9\""), std::string::npos) << parse_error(j);
  }
  {
    json j = plate_json();
    j.erase("properties");
    EXPECT_NE(parse_error(j).find("missing key \"properties\""), std::string::npos) << parse_error(j);
  }
  {
    json j = plate_json();
    j["entities"]["E1"]["operation"] = "MergeFeatureOperation";
    EXPECT_NE(parse_error(j).find("unknown operation"), std::string::npos) << parse_error(j);
  }
  {
    json j = plate_json();
    j["entities"]["E1"]["start_extent"]["type"] = "OffsetStartDefinition";
    const auto r = parse_cad_json(j.dump(), "offset.json");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  }
}

TEST(CadJsonBadInput, EmptyLoopsAndProfilesAreErrorsButEmptyFeaturesVanish) {
  {
    json j = plate_json();
    j["entities"]["S1"]["profiles"]["P1"]["loops"][1]["profile_curves"] = json::array();
    EXPECT_NE(parse_error(j).find("loop has no curves"), std::string::npos) << parse_error(j);
  }
  {
    json j = plate_json();
    j["entities"]["S1"]["profiles"]["P1"]["loops"] = json::array();
    EXPECT_NE(parse_error(j).find("profile has no loops"), std::string::npos) << parse_error(j);
  }
  {
    json j = plate_json();
    j["entities"]["E1"]["profiles"] = json::array();
    const auto r = parse_cad_json(j.dump(), "empty.json");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->extrudes.empty());
    const auto v = encode(*r);  // ... and DeepCAD's encoder then fails with ValueError
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().message.rfind("exception ValueError", 0), 0u);
  }
}

TEST(CadJsonBadInput, WriteFailureLeavesNoFile) {
  TempDir tmp;
  const std::string path = tmp / "no_such_dir/out.json";
  EXPECT_FALSE(write_cad_json(plate_with_hole(), path).ok());
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace cadcrafter::testing
