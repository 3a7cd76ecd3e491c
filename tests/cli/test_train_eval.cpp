// The learning commands as a user runs them, at smoke-test size: `dataset build` -> `train ae`
// -> `train backbone` -> `train diffusion` -> `eval` of the autoencoder and of the diffusion
// model (1 and 4 views, with the retrieval baseline).
// Checks exit codes, run folders and the reports' fields; model quality is measured elsewhere
// (docs/models.md). Skips when the program was built without LibTorch.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "render/image_io.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

nlohmann::json json_file(const std::string& path) {
  const std::string text = slurp(path);
  return nlohmann::json::parse(text, nullptr, false);
}

TEST(CliTrainEval, ThreeStagesThenEval) {
  TempDir dir;
  if (cadcrafter("train --help", dir).code != 0) GTEST_SKIP() << "built without LibTorch";
  const std::string configs = testing::source_dir() + "/configs/";
  const std::string data = dir / "data";
  auto r = cadcrafter("dataset build --source synth:12 --sets 1 --size 32 --rgb -q -o '" + data + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;

  r = cadcrafter("train ae --data '" + data + "' --config " + configs + "ae_tiny.json --max-steps 6 -q -o '" +
                     (dir / "ae") + "'",
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(dir / "ae/model.pt"));
  r = cadcrafter("train backbone --data '" + data + "' --ae '" + (dir / "ae") + "' --config " + configs +
                     "backbone_tiny.json -q -o '" + (dir / "backbone") + "'",
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(dir / "backbone/backbone.pt"));
  // A diffusion stage without its backbone names what is missing.
  r = cadcrafter("train diffusion --data '" + data + "' --ae '" + (dir / "ae") + "' --config " + configs +
                     "diffusion_tiny.json -q -o '" + (dir / "nope") + "'",
                 dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("backbone"), std::string::npos) << r.err;
  r = cadcrafter("train diffusion --data '" + data + "' --ae '" + (dir / "ae") + "' --backbone '" + (dir / "backbone") +
                     "' --config " + configs + "diffusion_tiny.json -q -o '" + (dir / "diffusion") + "'",
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(dir / "diffusion/model.pt"));
  EXPECT_TRUE(fs::is_regular_file(dir / "diffusion/features.pt"));  // the frozen backbone's cache

  // Synthetic sources are all "train": score that split.
  r = cadcrafter("eval --model '" + (dir / "ae") + "' --data '" + data + "' --split train -q -o '" + (dir / "eval_ae") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto ae = json_file(dir / "eval_ae/eval.json");
  ASSERT_TRUE(ae.contains("reconstruction")) << ae.dump();
  for (const char* k : {"command_accuracy", "parameter_accuracy"})
    EXPECT_TRUE(ae["reconstruction"].contains(k)) << k << " in " << ae["reconstruction"].dump();
  for (const char* k : {"invalid_ratio", "chamfer_median"})
    EXPECT_TRUE(ae["reconstruction"]["geometry"].contains(k)) << k << " in " << ae["reconstruction"].dump();
  for (const char* views : {"1", "4"}) {
    const std::string out = dir / (std::string("eval_d") + views);
    r = cadcrafter("eval --model '" + (dir / "diffusion") + "' --data '" + data + "' --split train --views " + views +
                       " --limit 4 -q -o '" + out + "'",
                   dir);
    ASSERT_EQ(r.code, 0) << r.err;
    auto d = json_file(out + "/eval.json");
    EXPECT_EQ(d["views"], std::stoi(views));
    EXPECT_EQ(d["inputs"], "depth-normal");
    EXPECT_TRUE(d["diffusion"]["geometry"].contains("invalid_ratio")) << d.dump();
    EXPECT_TRUE(d["retrieval_baseline"]["geometry"].contains("chamfer_median")) << d.dump();
    EXPECT_TRUE(fs::is_regular_file(out + "/eval.md"));
  }
  // Photo-like renders through the shipped estimator, as a user's photos would go.
  r = cadcrafter("eval --model '" + (dir / "diffusion") + "' --data '" + data +
                     "' --split train --inputs photo --views 4 --limit 3 -q -o '" + (dir / "eval_photo") + "'",
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto p = json_file(dir / "eval_photo/eval.json");
  EXPECT_EQ(p["inputs"], "photo");
  EXPECT_EQ(p["diffusion"]["sequences"], 3);
  // ... which needs photo-like renders in the dataset.
  const std::string plain = dir / "plain";
  ASSERT_EQ(cadcrafter("dataset build --source synth:2 --sets 1 --size 32 -q -o '" + plain + "'", dir).code, 0);
  r = cadcrafter("eval --model '" + (dir / "diffusion") + "' --data '" + plain + "' --split train --inputs photo -q", dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--rgb"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cadcrafter
