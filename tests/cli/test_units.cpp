// Units and scale as a user meets them: `convert` declares the model's unit in STEP (the
// example is in cm) and honours --unit / --size; `reconstruct --size 40mm` gives a STEP that
// OCCT reads back with a 40 mm longest side; bad sizes are refused with a clear message.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "data/generator.h"
#include "kernel/check.h"
#include "kernel/export.h"
#include "kernel/tessellate.h"
#include "render/camera.h"
#include "render/image_io.h"
#include "render/render_views.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

const std::string kBracket = testing::source_dir() + "/examples/l_bracket.json";  // 8 x 5 x 5, in cm

double longest_side_mm(const std::string& step) {
  auto solid = import_step(step);
  EXPECT_TRUE(solid.ok()) << step << ": " << (solid.ok() ? "" : solid.error().message);
  if (!solid.ok()) return 0;
  const BoundingBox b = shape_properties(*solid).bbox;
  return std::max({b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z});
}

TEST(CliUnits, ConvertDeclaresTheUnitAndScales) {
  TempDir dir;
  const auto convert = [&](const std::string& out, const std::string& extra) {
    return cadcrafter("convert '" + kBracket + "' -o '" + (dir / out) + "' " + extra, dir);
  };
  ProcessRun r = convert("cm.step", "");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(slurp(dir / "cm.step").find("SI_UNIT(.CENTI.,.METRE.)"), std::string::npos);
  EXPECT_NEAR(longest_side_mm(dir / "cm.step"), 80.0, 1e-6);
  EXPECT_NE(r.out.find("cm^3"), std::string::npos) << r.out;
  // --unit says what the numbers are.
  r = convert("in.step", "--unit in");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NEAR(longest_side_mm(dir / "in.step"), 8 * 25.4, 1e-6);
  // --size scales to a real size, written in mm (also into the cad_json).
  r = convert("40.step", "--size 40mm");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(slurp(dir / "40.step").find("SI_UNIT(.MILLI.,.METRE.)"), std::string::npos);
  EXPECT_NEAR(longest_side_mm(dir / "40.step"), 40.0, 1e-6);
  r = convert("40.json", "--size 4cm");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "40.json"))["properties"]["length_unit"], "mm");
  r = cadcrafter("convert '" + (dir / "40.json") + "' -o '" + (dir / "again.step") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NEAR(longest_side_mm(dir / "again.step"), 40.0, 1e-6);
  // Bad values: exit 1, a message naming the value, no file.
  for (const char* bad : {"abc", "-3mm", "0mm", "40"}) {
    r = convert("bad.step", std::string("--size '") + bad + "'");
    EXPECT_EQ(r.code, 1) << bad;
    EXPECT_NE(r.err.find(std::string("'") + bad + "'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("40mm"), std::string::npos) << r.err;  // shows the expected form
  }
  r = convert("bad.step", "--unit furlong");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("furlong"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "bad.step"));
}

bool has_reconstruct(const TempDir& dir) { return cadcrafter("reconstruct --help", dir).code == 0; }

// A depth/normal view pair of a procedural part (reconstruct --inputs depth-normal needs no weights).
std::string write_view(const TempDir& dir) {
  CheckOptions check;
  check.keep_solid = true;
  const auto part = check_model(generate_model(GeneratorOptions{}, 5), check);
  EXPECT_TRUE(part.valid) << part.reason;
  const Mesh mesh = tessellate(part.solid);
  const Mesh unit = apply_normalization(mesh, unit_sphere_normalization(mesh));
  const RenderedView v = render_view(unit, look_at_camera(120, 30, 3, 45, 128));
  EXPECT_TRUE(write_png(dir / "part_depth.png", depth_image(v)));
  EXPECT_TRUE(write_png(dir / "part_normal.png", normal_image(v)));
  return dir / "part_depth.png";
}

TEST(CliUnits, ReconstructSize40mmGivesA40mmStep) {
  TempDir dir;
  if (!has_reconstruct(dir)) GTEST_SKIP() << "cadcrafter was built without LibTorch (no reconstruct)";
  const std::string depth = write_view(dir);
  const std::string common = "reconstruct '" + depth + "' --inputs depth-normal --candidates procedural --samples 1 -q ";
  ProcessRun r = cadcrafter(common + "--size 40mm -o '" + (dir / "out") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(dir / "out/candidate_01/model.step")) << r.out;
  EXPECT_NEAR(longest_side_mm(dir / "out/candidate_01/model.step"), 40.0, 0.005 * 40.0);
  const auto run = nlohmann::json::parse(slurp(dir / "out/run.json"));
  EXPECT_DOUBLE_EQ(run["options"]["size"]["mm"].get<double>(), 40.0);
  EXPECT_NE(slurp(dir / "out/index.md").find("40 mm"), std::string::npos);
  // Bad sizes: exit 1 with the value and the expected form, no output folder.
  for (const char* bad : {"abc", "-3mm", "0mm"}) {
    r = cadcrafter(common + "--size '" + bad + "' -o '" + (dir / "bad") + "'", dir);
    EXPECT_EQ(r.code, 1) << bad;
    EXPECT_NE(r.err.find(std::string("'") + bad + "'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("e.g. 40mm"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "bad"));
  // The help states the default.
  r = cadcrafter("reconstruct --help", dir);
  EXPECT_NE(r.out.find("--size"), std::string::npos);
  EXPECT_NE(r.out.find("100 mm"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace cadcrafter
