// `cadcrafter info`: listings of .json and .h5 files, --vec, --json, and exit 1 on bad files.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cad/cad_h5.h"
#include "cad/cad_json.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter::testing {
namespace {

struct InfoRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

InfoRun run_info(const std::string& args) {
  const std::string cmd = binary_dir() + "/cadcrafter info " + args + " 2>&1";
  InfoRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(CliInfo, ListsACadJsonFileWithItsVector) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  const InfoRun r = run_info(shared_data_dir() + "/f360/json/100243_9fb796fe_0005.json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("extrude 0: NewBodyFeatureOperation, OneSideFeatureExtentType"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("loop 0 (outer): 4 curves"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 Line    x=223 y=128"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("theta=192 phi=192 gamma=64 px=32 py=128 pz=151 s=3 e1=161"), std::string::npos) << r.out;
}

TEST(CliInfo, VecAndJsonOutputsOfAnH5File) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  const std::string file = shared_data_dir() + "/golden/h5/00000007.h5";
  const InfoRun vec = run_info("--vec " + file);
  ASSERT_EQ(vec.exit_code, 0) << vec.out;
  EXPECT_EQ(vec.out.substr(0, 68), "   4  -1  -1  -1  -1  -1  -1  -1  -1  -1  -1  -1  -1  -1  -1  -1  -1");
  const InfoRun js = run_info("--json " + file);
  ASSERT_EQ(js.exit_code, 0) << js.out;
  const auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j.at("kind"), "cad_vec");
  EXPECT_EQ(j.at("vec").size(), read_cad_vec_h5(file)->size());
  EXPECT_EQ(j.at("model").at("extrudes").size(), 1u);
}

TEST(CliInfo, ReportsDeepCadRejections) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  const InfoRun r = run_info(shared_data_dir() + "/f360/json/100155_57ec5fc6_0000.json");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("DeepCAD rejects this model: MAX_N_EXT:"), std::string::npos) << r.out;
}

TEST(CliInfo, BadFilesExitOneWithTheFileName) {
  TempDir tmp;
  const InfoRun missing = run_info(tmp / "missing.json");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("missing.json"), std::string::npos) << missing.out;

  ASSERT_TRUE(write_file_atomically(tmp / "broken.json", "{\"entities\": {").ok());
  const InfoRun broken = run_info(tmp / "broken.json");
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find("broken.json: not valid JSON"), std::string::npos) << broken.out;

  ASSERT_TRUE(write_file_atomically(tmp / "broken.h5", "not hdf5").ok());
  const InfoRun h5 = run_info(tmp / "broken.h5");
  EXPECT_EQ(h5.exit_code, 1);
  EXPECT_NE(h5.out.find("broken.h5: not an HDF5 file"), std::string::npos) << h5.out;

  const InfoRun other = run_info(tmp / "x.stl");
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.out.find("unknown file type"), std::string::npos) << other.out;

  EXPECT_EQ(run_info("--help").exit_code, 0);
}

// A STEP file is read back with OpenCASCADE (the web page's browser test checks its downloads so).
TEST(CliInfo, ReadsAStepFileBack) {
  TempDir tmp;
  const std::string step = tmp / "bracket.step";
  const std::string convert = binary_dir() + "/cadcrafter convert " + source_dir() + "/examples/l_bracket.json -o " + step +
                              " --size 40mm > /dev/null 2>&1";
  ASSERT_EQ(std::system(convert.c_str()), 0);
  const InfoRun r = run_info(step + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kind"], "step");
  EXPECT_EQ(j["unit"], "mm");
  EXPECT_EQ(j["solids"], 1);
  EXPECT_GT(j["volume"].get<double>(), 0.0);
  const auto size = j["size"].get<std::vector<double>>();
  EXPECT_NEAR(std::max({size[0], size[1], size[2]}), 40.0, 1e-3);
  const InfoRun text = run_info(step);
  EXPECT_NE(text.out.find("(STEP, read by OpenCASCADE)"), std::string::npos) << text.out;

  ASSERT_TRUE(write_file_atomically(tmp / "junk.step", "ISO-10303-21; nothing").ok());
  const InfoRun junk = run_info(tmp / "junk.step");
  EXPECT_EQ(junk.exit_code, 1);
  EXPECT_NE(junk.out.find("junk.step: not a readable STEP file"), std::string::npos) << junk.out;
}

}  // namespace
}  // namespace cadcrafter::testing
