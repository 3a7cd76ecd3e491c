// Length units: parsing user-written lengths ("40mm", "1.5in"), conversion to millimetres,
// scaling a model, and the unit a cad_json carries (properties.length_unit; F360 files are cm).
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cad/cad_json.h"
#include "cad/units.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

using nlohmann::json;

TEST(Units, ParsesLengthsWithAUnit) {
  struct Case {
    const char* text;
    double value;
    LengthUnit unit;
    double mm;
  };
  for (const Case& c : {Case{"40mm", 40, LengthUnit::kMillimetre, 40}, Case{"4cm", 4, LengthUnit::kCentimetre, 40},
                        Case{"1.5in", 1.5, LengthUnit::kInch, 38.1}, Case{"0.04m", 0.04, LengthUnit::kMetre, 40},
                        Case{" 40 mm ", 40, LengthUnit::kMillimetre, 40}, Case{"2 inches", 2, LengthUnit::kInch, 50.8},
                        Case{"12.5MM", 12.5, LengthUnit::kMillimetre, 12.5}, Case{"3e1mm", 30, LengthUnit::kMillimetre, 30}}) {
    auto l = parse_length(c.text);
    ASSERT_TRUE(l.ok()) << c.text << ": " << l.error().message;
    EXPECT_DOUBLE_EQ(l->value, c.value) << c.text;
    EXPECT_EQ(l->unit, c.unit) << c.text;
    EXPECT_NEAR(l->millimetres(), c.mm, 1e-12) << c.text;
  }
  EXPECT_EQ(format_length(*parse_length("1.5in")), "1.5 in");
  EXPECT_EQ(format_length(*parse_length("40mm")), "40 mm");
}

TEST(Units, RejectsBadLengthsWithAClearMessage) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : {Case{"abc", "does not start with a number"}, Case{"", "empty"}, Case{"40", "no unit"},
                        Case{"-3mm", "greater than zero"}, Case{"0mm", "greater than zero"},
                        Case{"40 furlongs", "unknown unit 'furlongs'"}, Case{"40mm x", "unknown unit"},
                        Case{"1e999mm", "not finite"}, Case{"nan mm", "not finite"}}) {
    auto l = parse_length(c.text);
    ASSERT_FALSE(l.ok()) << c.text;
    EXPECT_EQ(l.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(l.error().message.find(c.says), std::string::npos) << c.text << ": " << l.error().message;
    EXPECT_NE(l.error().message.find("e.g. 40mm"), std::string::npos) << l.error().message;
  }
  EXPECT_FALSE(parse_length_unit("yards").ok());
  EXPECT_EQ(*parse_length_unit("Inch"), LengthUnit::kInch);
  EXPECT_DOUBLE_EQ(millimetres_per_unit(LengthUnit::kCentimetre), 10.0);
  EXPECT_DOUBLE_EQ(millimetres_per_unit(LengthUnit::kInch), 25.4);
}

CadModel plate() {
  CadModel m;
  m.id = "plate";
  Extrude e;
  Curve c;
  c.type = CurveType::kCircle;
  c.center = {1, 2};
  c.radius = 0.5;
  Curve a;
  a.type = CurveType::kArc;
  a.start = {0, 0};
  a.mid = {1, 1};
  a.end = {2, 0};
  a.center = {1, 0};
  a.radius = 1;
  a.start_angle = 0.25;
  e.profile.loops = {Loop{{a}}, Loop{{c}}};
  e.plane.origin = {1, -2, 3};
  e.extent_one = 2;
  e.extent_two = -1;
  e.sketch_pos = {4, 5, 6};
  e.sketch_size = 3;
  m.extrudes = {e};
  m.bbox = {{-1, -2, -3}, {1, 2, 3}};
  m.unit = LengthUnit::kCentimetre;
  return m;
}

TEST(Units, ScaleModelScalesLengthsNotDirections) {
  const CadModel m = plate();
  const CadModel s = scale_model(m, 10.0, LengthUnit::kMillimetre);
  EXPECT_EQ(s.unit, LengthUnit::kMillimetre);
  const Extrude &e = s.extrudes[0], &o = m.extrudes[0];
  EXPECT_DOUBLE_EQ(e.plane.origin.z, 30);
  EXPECT_DOUBLE_EQ(e.plane.x_axis.x, 1);  // a direction
  EXPECT_DOUBLE_EQ(e.extent_one, 20);
  EXPECT_DOUBLE_EQ(e.extent_two, -10);
  EXPECT_DOUBLE_EQ(e.sketch_pos.y, 50);
  EXPECT_DOUBLE_EQ(e.sketch_size, 30);
  const Curve& arc = e.profile.loops[0].curves[0];
  EXPECT_DOUBLE_EQ(arc.mid.x, 10);
  EXPECT_DOUBLE_EQ(arc.end.x, 20);
  EXPECT_DOUBLE_EQ(arc.radius, 10);
  EXPECT_DOUBLE_EQ(arc.start_angle, o.profile.loops[0].curves[0].start_angle);  // an angle
  EXPECT_DOUBLE_EQ(e.profile.loops[1].curves[0].center.y, 20);
  EXPECT_DOUBLE_EQ(e.profile.loops[1].curves[0].radius, 5);
  EXPECT_DOUBLE_EQ(s.bbox.max.z, 30);
  // Converting units keeps the real size: 1 cm = 10 mm, 1 in = 2.54 cm.
  const CadModel mm = convert_model_unit(m, LengthUnit::kMillimetre);
  EXPECT_DOUBLE_EQ(mm.extrudes[0].extent_one, 20);
  const CadModel in = convert_model_unit(m, LengthUnit::kInch);
  EXPECT_NEAR(in.extrudes[0].extent_one, 2 / 2.54, 1e-12);
  EXPECT_EQ(in.unit, LengthUnit::kInch);
}

TEST(Units, CadJsonCarriesItsUnit) {
  CadModel m = plate();
  m.unit = LengthUnit::kInch;
  const json j = json::parse(to_cad_json(m));
  EXPECT_EQ(j["properties"]["length_unit"], "in");
  auto back = parse_cad_json(j.dump(), "plate");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->unit, LengthUnit::kInch);
  // Without the key: the F360 data's unit.
  json bare = j;
  bare["properties"].erase("length_unit");
  back = parse_cad_json(bare.dump(), "plate");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->unit, LengthUnit::kCentimetre);
  // A unit we do not know is an error that names the key.
  json odd = j;
  odd["properties"]["length_unit"] = "furlong";
  auto bad = parse_cad_json(odd.dump(), "plate");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("properties.length_unit"), std::string::npos) << bad.error().message;
}

TEST(Units, F360FilesReadAsCentimetres) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  const std::string dir = testing::shared_data_dir() + "/f360/json";
  auto it = std::filesystem::directory_iterator(dir);
  ASSERT_NE(it, std::filesystem::directory_iterator());
  auto m = read_cad_json(it->path().string());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->unit, LengthUnit::kCentimetre);
}

}  // namespace
}  // namespace cadcrafter
