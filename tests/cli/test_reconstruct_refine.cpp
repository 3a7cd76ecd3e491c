// `reconstruct --no-refine` and `--refine-seconds S` as a user types them: parsed and recorded in
// run.json; negative, NaN, infinite or non-numeric seconds are refused with a message naming the
// option, exit code 1 and no output folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "data/generator.h"
#include "kernel/check.h"
#include "kernel/tessellate.h"
#include "render/camera.h"
#include "render/image_io.h"
#include "render/render_views.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

// A depth/normal view pair of a procedural part (reconstruct --inputs depth-normal needs no weights).
std::string write_part_view(const TempDir& dir) {
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

TEST(CliReconstruct, RefineOptions) {
  TempDir dir;
  if (cadcrafter("reconstruct --help", dir).code != 0) GTEST_SKIP() << "cadcrafter was built without LibTorch";
  const std::string common = "reconstruct '" + write_part_view(dir) +
                             "' --inputs depth-normal --candidates procedural --samples 1 -q ";
  // --refine-seconds S: recorded, and the candidate's report says what the refinement did.
  ProcessRun r = cadcrafter(common + "--refine-seconds 0.7 -o '" + (dir / "refined") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto run = nlohmann::json::parse(slurp(dir / "refined/run.json"));
  EXPECT_DOUBLE_EQ(run["options"]["refine_seconds"].get<double>(), 0.7);
  EXPECT_EQ(run["options"]["refine"], true);
  EXPECT_EQ(run["options"]["repair"], true);  // the default
  EXPECT_TRUE(run["timings_s"].contains("refine"));
  auto report = nlohmann::json::parse(slurp(dir / "refined/candidate_01/report.json"));
  EXPECT_EQ(report["refinement"]["attempted"], true);
  EXPECT_GE(report["refinement"]["score_after"].get<double>(), report["refinement"]["score_before"].get<double>());
  // --no-refine: the stage is skipped and said so.
  r = cadcrafter(common + "--no-refine --no-repair -o '" + (dir / "plain") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  run = nlohmann::json::parse(slurp(dir / "plain/run.json"));
  EXPECT_EQ(run["options"]["refine"], false);
  EXPECT_EQ(run["options"]["repair"], false);
  EXPECT_EQ(run["repaired_proposals"], 0);
  EXPECT_FALSE(run["timings_s"].contains("refine"));
  report = nlohmann::json::parse(slurp(dir / "plain/candidate_01/report.json"));
  EXPECT_EQ(report["refinement"]["attempted"], false);
  // Bad values: exit 1, the option named, no output.
  for (const char* bad : {"-1", "nan", "inf", "1e9"}) {
    r = cadcrafter(common + "--refine-seconds " + bad + " -o '" + (dir / "bad") + "'", dir);
    EXPECT_EQ(r.code, 1) << bad << ": " << r.out;
    EXPECT_NE(r.err.find("--refine-seconds"), std::string::npos) << bad << ": " << r.err;
  }
  r = cadcrafter(common + "--refine-seconds soon -o '" + (dir / "bad") + "'", dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("refine-seconds"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "bad"));
  // The help lists both.
  r = cadcrafter("reconstruct --help", dir);
  EXPECT_NE(r.out.find("--refine-seconds"), std::string::npos);
  EXPECT_NE(r.out.find("--no-refine"), std::string::npos);
  EXPECT_NE(r.out.find("--no-repair"), std::string::npos);
}

}  // namespace
}  // namespace cadcrafter
