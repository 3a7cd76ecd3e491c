// `cadcrafter eval --pipeline`: the whole reconstruct pipeline (app::reconstruct_views) scored on a
// dataset split, at smoke-test size: a tiny contrastive backbone and part index as the weights'
// retrieval/, a tiny dataset; checks the report's fields (the top-1 sources sum to the evaluated
// count) and that bad combinations of options are refused with a message that names them.
// Skips when the program was built without LibTorch.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

nlohmann::json json_file(const std::string& path) { return nlohmann::json::parse(slurp(path), nullptr, false); }

TEST(CliEvalPipeline, TinyIndexAsWeights) {
  TempDir dir;
  if (cadcrafter("train --help", dir).code != 0) GTEST_SKIP() << "built without LibTorch";
  const std::string data = dir / "data", weights = dir / "weights";
  auto r = cadcrafter("dataset build --source synth:6 --sets 2 --size 32 -q -o '" + data + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(write_file_atomically(dir / "bb.json", R"({"kind": "backbone", "backbone": {"base_channels": 4, "feature_dim": 8},
    "image_size": 32, "views_per_sample": 4, "objective": "contrastive",
    "train": {"batch_size": 4, "max_steps": 2, "log_every": 1, "val_every": 0, "checkpoint_every": 2}})"));
  r = cadcrafter("train backbone --data '" + data + "' --config '" + (dir / "bb.json") + "' -q -o '" + (dir / "bb") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  fs::create_directories(weights);
  r = cadcrafter("index build --data '" + data + "' --backbone '" + (dir / "bb") + "' --views 2 -q -o '" + weights +
                     "/retrieval'",
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;

  // Synthetic sources are all "train": score that split.
  const std::string common = "eval --pipeline --weights '" + weights + "' --data '" + data + "' --split train ";
  const std::string out = dir / "pipe";
  r = cadcrafter(common + "--views 4 --limit 3 --no-refine -q -o '" + out + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto e = json_file(out + "/eval.json");
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["task"], "image_to_cad_pipeline");
  EXPECT_EQ(e["evaluated"], 3);
  EXPECT_EQ(e["views"], 4);
  EXPECT_EQ(e["frame"], "view");
  EXPECT_EQ(e["refine"], false);
  EXPECT_EQ(e["per_sample"].size(), 3u);
  int64_t wins = 0;
  double rates = 0;
  for (const auto& [source, count] : e["top1_source_wins"].items()) {
    wins += count.get<int64_t>();
    rates += e["top1_source_win_rate"][source].get<double>();
  }
  EXPECT_EQ(wins, 3) << e["top1_source_wins"].dump();
  EXPECT_NEAR(rates, 1.0, 1e-9);
  EXPECT_EQ(e["pipeline"]["sequences"], 3);
  EXPECT_TRUE(e["pipeline"]["geometry"].contains("chamfer_median")) << e["pipeline"].dump();
  EXPECT_TRUE(e["pipeline"]["geometry"].contains("chamfer_centred_median"));
  EXPECT_TRUE(e["pipeline"]["geometry"].contains("chance_chamfer_median"));
  EXPECT_GT(e["seconds_per_sample"]["mean"].get<double>(), 0.0);
  EXPECT_EQ(e["scores"]["top1_refined"], 0);  // --no-refine
  EXPECT_EQ(e["scores"]["repair"], true);
  EXPECT_LE(e["scores"]["top1_repaired"].get<int>(), 3);
  EXPECT_TRUE(fs::is_regular_file(out + "/eval.md"));
  EXPECT_TRUE(fs::is_regular_file(out + "/run.json"));

  // One view, retrieval alone, refined within a small evaluation budget of the clock.
  r = cadcrafter(common + "--views 1 --limit 1 --candidates retrieval --refine-seconds 0.5 -q -o '" + (dir / "pipe1") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto one = json_file(dir / "pipe1/eval.json");
  EXPECT_EQ(one["views"], 1);
  EXPECT_EQ(one["refine"], true);
  EXPECT_EQ(one["top1_source_wins"]["retrieval"].get<int64_t>() + one["top1_source_wins"]["procedural"].get<int64_t>() +
                one["top1_source_wins"]["diffusion"].get<int64_t>() + one["top1_source_wins"]["none"].get<int64_t>(),
            1);

  // Bad combinations, each refused with a message that names the problem.
  struct Bad {
    std::string args, says;
  };
  const std::vector<Bad> bad = {
      {common + "--model '" + weights + "/retrieval'", "--model"},
      {common + "--frame model", "view frame"},
      {common + "--no-refine --refine-seconds 3", "contradict"},
      {common + "--index '" + weights + "/retrieval'", "--index"},
      {common + "--inputs photo", "--rgb"},
      {common + "--candidates diffusion", "diffusion"},
      {common + "--samples 0", "--samples"},
      {"eval --pipeline --weights '" + (dir / "none") + "' --data '" + data + "' --split train", "weights"},
      {"eval --model '" + weights + "/retrieval' --data '" + data + "' --split train --no-refine", "--pipeline"},
      {"eval --data '" + data + "' --split train", "--model"},
  };
  for (const auto& b : bad) {
    r = cadcrafter(b.args + " -q -o '" + (dir / "bad") + "'", dir);
    EXPECT_EQ(r.code, 1) << b.args;
    EXPECT_NE(r.err.find(b.says), std::string::npos) << b.args << "\n" << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "bad"));
}

}  // namespace
}  // namespace cadcrafter
