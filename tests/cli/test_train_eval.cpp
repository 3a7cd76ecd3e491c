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
#include "util/atomic_file.h"

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
  // Answers are scored re-encoded in the targets' centred frame unless --raw-answers, and a model
  // none of whose samples builds gets the repaired one unless --no-repair.
  const auto d4 = json_file(dir / "eval_d4/eval.json");
  EXPECT_EQ(d4["answers_centred"], true);
  EXPECT_EQ(d4["repair"]["enabled"], true);
  EXPECT_LE(d4["repair"]["repaired"].get<int>(), d4["repair"]["no_sample_built"].get<int>());
  EXPECT_LE(d4["repair"]["no_sample_built"].get<int>(), 4);
  r = cadcrafter("eval --model '" + (dir / "diffusion") + "' --data '" + data +
                     "' --split train --views 1 --limit 2 --raw-answers --no-repair -q -o '" + (dir / "eval_raw") + "'",
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto raw = json_file(dir / "eval_raw/eval.json");
  EXPECT_EQ(raw["answers_centred"], false);
  EXPECT_EQ(raw["repair"]["enabled"], false);
  EXPECT_EQ(raw["repair"]["repaired"], 0);

  // A retrieval-augmented model (configs/diffusion_rag.json at toy size) edits the parts of a part
  // index nearest to the views: eval needs that index and says so.
  auto rag = nlohmann::json::parse(slurp(configs + "diffusion_tiny.json"));
  rag["denoiser"]["neighbours"] = 2;
  rag["denoiser"]["neighbour_residual"] = true;
  rag["diffusion"]["frame"] = "view";
  rag["train"]["max_steps"] = 4;
  ASSERT_TRUE(write_file_atomically(dir / "rag.json", rag.dump(2)));
  r = cadcrafter("train diffusion --data '" + data + "' --ae '" + (dir / "ae") + "' --backbone '" + (dir / "backbone") +
                     "' --config '" + (dir / "rag.json") + "' -q -o '" + (dir / "rag") + "'",
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string rag_eval = "eval --model '" + (dir / "rag") + "' --data '" + data + "' --split train --views 4 --limit 3 -q";
  r = cadcrafter(rag_eval + " -o '" + (dir / "eval_rag0") + "'", dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--index"), std::string::npos) << r.err;
  r = cadcrafter("index build --data '" + data + "' --backbone '" + (dir / "backbone") + "' -q -o '" + (dir / "index") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = cadcrafter(rag_eval + " --index '" + (dir / "index") + "' -o '" + (dir / "eval_rag") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto g = json_file(dir / "eval_rag/eval.json");
  EXPECT_EQ(g["neighbours"], 2);
  EXPECT_EQ(g["diffusion"]["sequences"], 3);
  EXPECT_NE(slurp(dir / "eval_rag/eval.md").find("editing the 2 nearest parts"), std::string::npos);

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

// Shape-level features -> part index -> retrieval eval, as a user runs them: `train backbone`
// with the contrastive objective needs no autoencoder; `index build` refuses to overwrite;
// `eval --model <index>` reports identity retrieval, the view frame and the chance level.
TEST(CliTrainEval, ContrastiveBackboneIndexAndRetrievalEval) {
  TempDir dir;
  if (cadcrafter("train --help", dir).code != 0) GTEST_SKIP() << "built without LibTorch";
  const std::string data = dir / "data";
  auto r = cadcrafter("dataset build --source synth:12 --sets 2 --size 32 -q -o '" + data + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string config = dir / "bb.json";
  ASSERT_TRUE(write_file_atomically(config, R"({"kind": "backbone", "backbone": {"base_channels": 4, "feature_dim": 8},
    "image_size": 32, "views_per_sample": 4, "objective": "contrastive", "estimator_like": 0.5,
    "train": {"batch_size": 4, "max_steps": 4, "log_every": 2, "val_every": 0, "checkpoint_every": 2}})"));
  r = cadcrafter("train backbone --data '" + data + "' --config '" + config + "' -q -o '" + (dir / "bb") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(dir / "bb/backbone.pt"));
  EXPECT_TRUE(fs::is_regular_file(dir / "bb/views-train.pt"));  // the framed-view cache
  // The regression objective still needs an autoencoder, and says so.
  r = cadcrafter("train backbone --data '" + data + "' -q -o '" + (dir / "bb2") + "'", dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--ae"), std::string::npos) << r.err;

  r = cadcrafter("index build --data '" + data + "' --backbone '" + (dir / "bb") + "' --views 2 -q -o '" + (dir / "index") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = cadcrafter("index build --data '" + data + "' --backbone '" + (dir / "bb") + "' -q -o '" + (dir / "index") + "'", dir);
  EXPECT_NE(r.code, 0);  // never replaced without --force
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  r = cadcrafter("index info -o '" + (dir / "index") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("12 parts"), std::string::npos) << r.out;

  r = cadcrafter("eval --model '" + (dir / "index") + "' --data '" + data + "' --split train --views 4 -q -o '" +
                     (dir / "eval_index") + "'",
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto e = json_file(dir / "eval_index/eval.json");
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["task"], "image_to_cad_retrieval");
  EXPECT_EQ(e["frame"], "view");
  EXPECT_EQ(e["identity_retrieval"]["available"], true);
  EXPECT_EQ(e["identity_retrieval"]["models"], 12);
  EXPECT_GE(e["identity_retrieval"]["top5"].get<double>(), e["identity_retrieval"]["top1"].get<double>());
  EXPECT_EQ(e["target_quarter_turns"].size(), 12u);
  EXPECT_TRUE(e["retrieval"]["geometry"].contains("chance_chamfer_rotation_free_median"));
  EXPECT_TRUE(e["retrieval"]["geometry"].contains("chamfer_centred_median"));
  EXPECT_EQ(e["vec_frame"]["targets"], "centred");  // datasets are built in the centred frame
  EXPECT_EQ(e["vec_frame"]["answers"], "centred");
}

// Photo pairs: a backbone config's photo_data sends the photo-like renders of training parts
// through the estimator once (cached in the run), pairs them with renders of the same parts,
// and refuses data it cannot use with a message that says why.
TEST(CliTrainEval, BackbonePhotoPairsGoThroughTheEstimator) {
  TempDir dir;
  if (cadcrafter("train --help", dir).code != 0) GTEST_SKIP() << "built without LibTorch";
  const std::string data = dir / "data", photos = dir / "photos";
  auto r = cadcrafter("dataset build --source synth:6 --sets 2 --size 32 -q -o '" + data + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = cadcrafter("dataset build --source synth:6 --sets 1 --views 2 --size 64 --rgb -q -o '" + photos + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto write_config = [&](const std::string& path, const std::string& photo_data) {
    return write_file_atomically(path, R"({"kind": "backbone", "backbone": {"base_channels": 4, "feature_dim": 8},
      "image_size": 32, "views_per_sample": 4, "objective": "contrastive", "photo_data": ")" + photo_data + R"(", "photo_share": 1.0,
      "train": {"batch_size": 4, "max_steps": 3, "log_every": 1, "val_every": 0, "checkpoint_every": 3}})");
  };
  ASSERT_TRUE(write_config(dir / "bb.json", photos));
  r = cadcrafter("train backbone --data '" + data + "' --config '" + (dir / "bb.json") + "' -q -o '" + (dir / "bb") + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("photo pairs: 6 training parts with 12 estimated views"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_regular_file(dir / "bb/views-photo.pt"));
  EXPECT_TRUE(fs::is_regular_file(dir / "bb/backbone.pt"));
  // A dataset without photo-like renders, and a missing estimator, are refused before training.
  ASSERT_TRUE(write_config(dir / "bad.json", data));
  r = cadcrafter("train backbone --data '" + data + "' --config '" + (dir / "bad.json") + "' -q -o '" + (dir / "bb2") + "'", dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--rgb"), std::string::npos) << r.err;
  r = cadcrafter("train backbone --data '" + data + "' --config '" + (dir / "bb.json") + "' --estimator '" + (dir / "none.pt") +
                     "' -q -o '" + (dir / "bb3") + "'",
                 dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("estimator"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cadcrafter
