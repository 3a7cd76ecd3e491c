// `cadcrafter convert` and `cadcrafter check` run as a user runs them: exit codes, messages,
// files written (and not written), and their content read back.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "geom/mesh_io.h"
#include "geom/mesh_measure.h"
#include "kernel/export.h"
#include "cli/cli_support.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

const std::string kBracket = testing::source_dir() + "/examples/l_bracket.json";
// Hand-computed, see examples/l_bracket.json. The file is in cm (no length_unit: F360's unit);
// `check` reports cm^3; STEP read back and STL are in mm, hence kBracketVolumeMm3.
constexpr double kBracketVolume = 35.43638494654885;
constexpr double kBracketVolumeMm3 = kBracketVolume * 1000.0;

TEST(CliConvert, EveryFormatFromTheExample) {
  TempDir dir;
  for (const char* ext : {"step", "stp", "stl", "glb", "obj", "py", "json", "h5"}) {
    const std::string out = dir / (std::string("bracket.") + ext);
    const ProcessRun r = cadcrafter("convert '" + kBracket + "' -o '" + out + "'", dir);
    EXPECT_EQ(r.code, 0) << ext << ": " << r.err;
    EXPECT_TRUE(fs::is_regular_file(out)) << ext;
    EXPECT_GT(fs::file_size(out), 100u) << ext;
  }
  auto step = import_step(dir / "bracket.step");
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_NEAR(shape_properties(*step).volume, kBracketVolumeMm3, 1e-6 * kBracketVolumeMm3);
  auto stl = read_stl(dir / "bracket.stl");
  ASSERT_TRUE(stl.ok());
  EXPECT_NEAR(mesh_volume(*stl), kBracketVolumeMm3, 2e-3 * kBracketVolumeMm3);
  // The written cad_json and .h5 convert on again to the same solid (the .h5 one in DeepCAD's frame).
  const ProcessRun again = cadcrafter("convert '" + (dir / "bracket.json") + "' -o '" + (dir / "again.step") + "'", dir);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NEAR(shape_properties(*import_step(dir / "again.step")).volume, kBracketVolumeMm3, 1e-6 * kBracketVolumeMm3);
  const ProcessRun from_h5 = cadcrafter("convert '" + (dir / "bracket.h5") + "' -o '" + (dir / "h5.stl") + "'", dir);
  EXPECT_EQ(from_h5.code, 0) << from_h5.err;
  if (std::system("python3 -c 'import ast' 2>/dev/null") == 0) {
    const std::string cmd = "python3 -c \"import ast,sys; ast.parse(open(sys.argv[1]).read())\" '" + (dir / "bracket.py") + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "build123d script does not parse";
  }
}

TEST(CliConvert, RefusesOverwriteAndBadInputWithoutPartialFiles) {
  TempDir dir;
  const std::string out = dir / "mine.step";
  std::ofstream(out) << "precious";
  ProcessRun r = cadcrafter("convert '" + kBracket + "' -o '" + out + "'", dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(out), "precious");
  r = cadcrafter("convert '" + kBracket + "' -o '" + out + "' --force", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(slurp(out).find("ISO-10303-21"), std::string::npos);

  // Broken JSON, a model that does not build, an unknown format: exit 1, file named, no output.
  std::ofstream(dir / "broken.json") << "{\"entities\": ";
  r = cadcrafter("convert '" + (dir / "broken.json") + "' -o '" + (dir / "broken.step") + "'", dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("broken.json"), std::string::npos) << r.err;
  r = cadcrafter("convert '" + kBracket + "' -o '" + (dir / "x.dwg") + "'", dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(".dwg"), std::string::npos) << r.err;
  r = cadcrafter("convert '" + (dir / "missing.json") + "' -o '" + (dir / "m.glb") + "'", dir);
  EXPECT_EQ(r.code, 1);
  r = cadcrafter("convert '" + kBracket + "' -o '" + (dir / "no/such/dir/x.step") + "'", dir);
  EXPECT_EQ(r.code, 1);
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir.path())) left.push_back(entry.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"broken.json", "mine.step"}));
}

TEST(CliCheck, OneJsonLinePerModelAndExitCode) {
  TempDir dir;
  ProcessRun r = cadcrafter("check -q '" + kBracket + "'", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["id"], "l_bracket");
  EXPECT_TRUE(j["valid"].get<bool>());
  EXPECT_NEAR(j["volume"].get<double>(), kBracketVolume, 1e-6);
  EXPECT_NE(r.err.find("1 valid"), std::string::npos) << r.err;

  std::ofstream(dir / "broken.json") << "not json";
  r = cadcrafter("check -q --threads 2 '" + kBracket + "' '" + (dir / "broken.json") + "' -o '" + (dir / "out.jsonl") + "'", dir);
  EXPECT_EQ(r.code, 1);  // not every model is valid
  std::ifstream lines(dir / "out.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0]["valid"].get<bool>());
  EXPECT_FALSE(rows[1]["valid"].get<bool>());
  EXPECT_NE(rows[1]["reason"].get<std::string>().find("broken.json"), std::string::npos);
  // The jsonl file is not overwritten without --force.
  r = cadcrafter("check -q '" + kBracket + "' -o '" + (dir / "out.jsonl") + "'", dir);
  EXPECT_EQ(r.code, 1);
}

TEST(CliCheck, ManifestSplitWithOracleAndRoundTrip) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  TempDir dir;
  const ProcessRun r = cadcrafter("check -q --manifest '" + testing::shared_data_dir() + "/f360/manifest.csv' --split val --limit 6 --roundtrip", dir);
  ASSERT_TRUE(r.code == 0 || r.code == 1) << r.err;
  std::istringstream lines(r.out);
  int n = 0, matched = 0, roundtrips = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.contains("expected_volume"));
    matched += j.value("oracle_match", false);
    ASSERT_TRUE(j.contains("roundtrip"));
    roundtrips += j["roundtrip"].value("encoded", false);
  }
  EXPECT_EQ(n, 6);
  EXPECT_EQ(matched, 6);
  EXPECT_GT(roundtrips, 0);
  EXPECT_NE(r.err.find("oracle matches 6/6"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("roundtrip:"), std::string::npos) << r.err;
}

// `train dpo` and `train distill` are the train-dpo / train-distill commands (their own options).
TEST(CliHelp, TrainDpoAndDistillAreTheFineTuningCommands) {
  TempDir dir;
  if (cadcrafter("train-dpo --help", dir).code != 0) GTEST_SKIP() << "built without LibTorch";
  for (const char* stage : {"dpo", "distill"}) {
    const ProcessRun spaced = cadcrafter(std::string("train ") + stage + " --help", dir);
    const ProcessRun hyphen = cadcrafter(std::string("train-") + stage + " --help", dir);
    EXPECT_EQ(spaced.code, 0) << spaced.err;
    EXPECT_EQ(spaced.out, hyphen.out) << stage;
  }
  EXPECT_NE(cadcrafter("train dpo --help", dir).out.find("--beta"), std::string::npos);
  EXPECT_NE(cadcrafter("train nonsense", dir).code, 0);
}

TEST(CliHelp, ConvertAndCheckDescribeThemselves) {
  TempDir dir;
  for (const char* cmd : {"convert", "check"}) {
    const ProcessRun r = cadcrafter(std::string(cmd) + " --help", dir);
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("--force"), std::string::npos) << cmd;
  }
}

}  // namespace
}  // namespace cadcrafter
