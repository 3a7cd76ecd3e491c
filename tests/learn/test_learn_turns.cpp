// Autoencoder training on all four quarter turns (train.turn_augment): the variants of a
// sequence are its decoded turns, the option parses, and a run with it trains.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cad/cad_vec.h"
#include "cad/turn.h"
#include "cad/turn_support.h"
#include "learn/training/ae_trainer.h"
#include "learn/data/vec_dataset.h"
#include "learn_test_data.h"
#include "test_support.h"

namespace cadcrafter::learn {
namespace {

VecRows vec_of(const CadModel& m) {
  auto v = encode(m);
  EXPECT_TRUE(v.ok()) << m.id << ": " << (v.ok() ? "" : v.error().message);
  return v.ok() ? *v : VecRows{};
}

TEST(LearnTurns, VariantsAreTheDecodedTurns) {
  CadModel wall = testing::turn_models::bracket();
  wall.extrudes.resize(2);  // plate + a wall on a +X plane, which must flip at k = 2
  VecDataset data;
  data.samples = {{"bracket", "train", vec_of(testing::turn_models::bracket())},
                  {"wall", "train", vec_of(wall)},
                  // Decodes, but to a sketch of size 0 that does not encode: no turn.
                  {"point", "train",
                   {testdata::row(kSol), testdata::row(kLine, {{1, 128}, {2, 128}}),
                    testdata::row(kLine, {{1, 128}, {2, 128}}),
                    testdata::row(kExt, {{6, 128}, {7, 128}, {8, 128}, {9, 128}, {10, 128}, {11, 128}, {12, 10},
                                         {13, 140}, {14, 128}, {15, 0}, {16, 0}}),
                    testdata::row(kEos)}},
                  // Does not decode at all.
                  {"empty", "train", {testdata::row(kEos)}}};
  size_t total = 0;
  for (const auto& s : data.samples) {
    const auto variants = quarter_turn_variants(s.rows);
    ASSERT_GE(variants.size(), 1u) << s.id;
    ASSERT_LE(variants.size(), 4u) << s.id;
    EXPECT_EQ(variants[0], s.rows) << s.id;
    total += variants.size();
    if (s.id == "point" || s.id == "empty") {
      EXPECT_EQ(variants.size(), 1u) << s.id;
      continue;
    }
    ASSERT_EQ(variants.size(), 4u) << s.id;
    auto base = decode(s.rows);
    ASSERT_TRUE(base.ok());
    for (int k = 1; k < 4; ++k) {
      EXPECT_EQ(variants[static_cast<size_t>(k)].size(), s.rows.size()) << s.id << " k=" << k;
      auto turned = decode(variants[static_cast<size_t>(k)]);
      ASSERT_TRUE(turned.ok()) << s.id << " k=" << k;
      EXPECT_LT(testing::model_distance(*turned, turn_about_z(*base, k)), 1e-9) << s.id << " k=" << k;
    }
  }
  EXPECT_EQ(total, 10u);  // 4 + 4 + 1 + 1 of at most 4 x 4
}

TEST(LearnTurns, ConfigOptionDefaultsOffAndParses) {
  EXPECT_FALSE(small_ae_config().train.turn_augment);
  auto on = parse_ae_config(nlohmann::json::parse(R"({"train": {"turn_augment": true}})"), "test");
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_TRUE(on->train.turn_augment);
  EXPECT_TRUE(nlohmann::json(on->train).at("turn_augment").get<bool>());
  auto old = load_ae_config(testing::source_dir() + "/configs/ae_small.json");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->train.turn_augment);
  EXPECT_FALSE(parse_ae_config(nlohmann::json::parse(R"({"train": {"turn_augment": "yes"}})"), "test").ok());
  EXPECT_FALSE(parse_ae_config(nlohmann::json::parse(R"({"train": {"turn_augmnet": true}})"), "test").ok());
}

TEST(LearnTurns, TrainingDrawsTurnedVariants) {
  torch::set_num_threads(1);
  auto data = testdata::random_dataset(16, 5);
  AeConfig config;
  config.model.d_model = 32;
  config.model.n_heads = 4;
  config.model.ff_dim = 64;
  config.model.encoder_layers = 1;
  config.model.decoder_layers = 1;
  config.model.z_dim = 32;
  config.model.arg_embed_dim = 8;
  config.train.batch_size = 8;
  config.train.max_steps = 2;
  config.train.val_every = 0;
  config.train.turn_augment = true;
  testing::TempDir dir;
  RunContext ctx;
  ctx.run_dir = dir / "run";
  ctx.progress = false;
  auto summary = train_autoencoder(data, config, ctx);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->steps, 2);
  std::ifstream in(dir / "run/run.json");
  const auto info = nlohmann::json::parse(in);
  const size_t train = data.split_indices("train").size();
  EXPECT_GE(info.at("turn_variants").get<size_t>(), train);
  EXPECT_LE(info.at("turn_variants").get<size_t>(), 4 * train);
  auto saved = load_ae_config(dir / "run/config.json");
  ASSERT_TRUE(saved.ok());
  EXPECT_TRUE(saved->train.turn_augment);
}

}  // namespace
}  // namespace cadcrafter::learn
