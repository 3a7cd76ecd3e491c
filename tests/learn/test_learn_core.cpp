// Vocabulary, batching, masks, losses, metrics, configs and data loading of the learning layer.
#include <cmath>
#include <fstream>

#include "cad/cad_vec.h"
#include "learn/training/ae_trainer.h"
#include "learn/eval/cad_eval.h"
#include "learn/data/cad_tokens.h"
#include "learn/training/checkpoint.h"
#include "learn/training/losses.h"
#include "learn/data/vec_dataset.h"
#include "learn_test_data.h"
#include "test_support.h"

namespace cadcrafter::learn {
namespace {
using testdata::row;

TEST(LearnTokens, ArgumentMaskIsTheCodecs) {
  for (int c = 0; c < kNumCommands; ++c)
    for (int a = 0; a < kNumArgs; ++a)
      EXPECT_EQ(command_args_mask()[c][a], cadcrafter::command_args_mask()[c][a]) << "cmd " << c << " arg " << a;
}

TEST(LearnTokens, BatchPadsWithEosRows) {
  VecRows a = {row(kSol), row(kLine, {{1, 5}, {2, 6}}), row(kEos)};
  VecRows b = {row(kSol), row(kCircle, {{1, 1}, {2, 2}, {5, 3}}), row(kExt, {{6, 7}, {15, 0}, {16, 0}}), row(kEos)};
  auto batch = make_vec_batch({&a, &b});
  ASSERT_EQ(batch.commands.sizes(), (std::vector<int64_t>{2, 4}));
  ASSERT_EQ(batch.args.sizes(), (std::vector<int64_t>{2, 4, 16}));
  EXPECT_EQ(batch.commands[0][3].item<int64_t>(), kEos);
  EXPECT_EQ(batch.args[0][3].max().item<int64_t>(), -1);
  EXPECT_EQ(batch.args[1][1][4].item<int64_t>(), 3);
  EXPECT_EQ(batch.args[1][2][5].item<int64_t>(), 7);
  // Fixed length: padded to 60, or truncated with a forced final EOS.
  EXPECT_EQ(make_vec_batch({&a}, kMaxSeqLen).commands.size(1), kMaxSeqLen);
  auto cut = make_vec_batch({&b}, 2);
  EXPECT_EQ(cut.commands[0][1].item<int64_t>(), kEos);
}

TEST(LearnTokens, PaddingAndGroupMasks) {
  auto commands = torch::tensor({kSol, kLine, kExt, kSol, kCircle, kExt, kEos, kEos}, torch::kLong).unsqueeze(0);
  auto before = rows_before_eos(commands).to(torch::kLong);
  auto through = rows_through_first_eos(commands).to(torch::kLong);
  auto group = extrude_group_index(commands);
  EXPECT_TRUE(torch::equal(before, torch::tensor({1, 1, 1, 1, 1, 1, 0, 0}, torch::kLong).unsqueeze(0)));
  EXPECT_TRUE(torch::equal(through, torch::tensor({1, 1, 1, 1, 1, 1, 1, 0}, torch::kLong).unsqueeze(0)));
  EXPECT_TRUE(torch::equal(group, torch::tensor({0, 0, 0, 1, 1, 1, 2, 2}, torch::kLong).unsqueeze(0)));
}

TEST(LearnTokens, LogitsToVecsMasksUnusedArgsAndStopsAtEos) {
  auto cmd_logits = torch::zeros({1, 4, kNumCommands});
  auto arg_logits = torch::zeros({1, 4, kNumArgs, kArgClasses});
  cmd_logits[0][0][kLine] = 1;
  cmd_logits[0][1][kEos] = 1;
  cmd_logits[0][2][kLine] = 1;  // after EOS: dropped
  arg_logits.index_put_({0, 0, torch::indexing::Slice(), 43}, 1.0);  // every arg says 42
  auto vecs = logits_to_vecs(cmd_logits, arg_logits);
  ASSERT_EQ(vecs.size(), 1u);
  ASSERT_EQ(vecs[0].size(), 2u);
  EXPECT_EQ(vecs[0][0][1], 42);
  EXPECT_EQ(vecs[0][0][2], 42);
  EXPECT_EQ(vecs[0][0][3], -1);  // a Line has no alpha
  EXPECT_EQ(vecs[0][1][0], kEos);
}

// The grammar decoder returns the most likely well-formed command sequence: where argmax would
// start a sketch with a Line or close a loop of two lines, it pays the least log-probability to
// repair it, and it leaves an already well-formed argmax sequence alone.
TEST(LearnTokens, GrammarDecodingRepairsWithTheLeastCost) {
  auto commands_of = [](const std::vector<std::vector<float>>& rows) {
    auto logits = torch::full({1, static_cast<int64_t>(rows.size()), kNumCommands}, -10.0f);
    for (size_t i = 0; i < rows.size(); ++i)
      for (int c = 0; c < kNumCommands; ++c) logits[0][static_cast<int64_t>(i)][c] = rows[i][static_cast<size_t>(c)];
    return logits;
  };
  // Columns: Line, Arc, Circle, EOS, SOL, Ext.
  // Well formed already: SOL Circle Ext EOS EOS.
  auto good = commands_of({{0, 0, 0, 0, 5, 0}, {0, 0, 5, 0, 0, 0}, {0, 0, 0, 0, 0, 5}, {0, 0, 0, 5, 0, 0}, {0, 0, 0, 5, 0, 0}});
  EXPECT_EQ(grammar_commands(torch::log_softmax(good[0], -1)), (std::vector<int>{kSol, kCircle, kExt, kEos, kEos}));
  // Argmax: Line Circle Ext EOS EOS (no SOL); row 0 prefers Line only slightly over SOL.
  auto no_sol = commands_of({{3, 0, 0, 0, 2.5, 0}, {0, 0, 5, 0, 0, 0}, {0, 0, 0, 0, 0, 5}, {0, 0, 0, 5, 0, 0}, {0, 0, 0, 5, 0, 0}});
  EXPECT_EQ(grammar_commands(torch::log_softmax(no_sol[0], -1)), (std::vector<int>{kSol, kCircle, kExt, kEos, kEos}));
  // Argmax: SOL Line Line Ext EOS EOS: two lines enclose nothing; an Arc is the cheapest fix.
  auto two_lines = commands_of({{0, 0, 0, 0, 5, 0}, {5, 1, 0, 0, 0, 0}, {5, 4, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 5},
                                {0, 0, 0, 5, 0, 0}, {0, 0, 0, 5, 0, 0}});
  EXPECT_EQ(grammar_commands(torch::log_softmax(two_lines[0], -1)), (std::vector<int>{kSol, kLine, kArc, kExt, kEos, kEos}));
  // Too short for any sequence: empty (callers keep argmax).
  EXPECT_TRUE(grammar_commands(torch::zeros({3, kNumCommands})).empty());
  // Through logits_to_vecs: used arguments never take the "unused" class.
  auto args = torch::zeros({1, 5, kNumArgs, kArgClasses});
  args.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(), 0}, 9.0);  // "unused" wins...
  args.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(), 8}, 1.0);  // ...then level 7
  auto vecs = logits_to_vecs(no_sol, args, CommandDecoding::kGrammar);
  ASSERT_EQ(vecs[0].size(), 4u);  // cut after the first EOS
  EXPECT_EQ(vecs[0][0][0], kSol);
  EXPECT_EQ(vecs[0][1][1], 7);   // circle centre x
  EXPECT_EQ(vecs[0][1][3], -1);  // alpha: not a circle's
  CommandDecoding d;
  EXPECT_TRUE(parse_decoding("grammar", &d));
  EXPECT_EQ(d, CommandDecoding::kGrammar);
  EXPECT_FALSE(parse_decoding("beam", &d));
}

// Counted entries get known logits, everything the masks must exclude gets huge wrong ones:
// the loss matches the hand computation only if the masks are right.
TEST(LearnLoss, MasksFollowDeepCad) {
  VecRows target = {row(kSol), row(kLine, {{1, 100}, {2, 7}}),
                    row(kExt, {{6, 1}, {7, 2}, {8, 3}, {9, 4}, {10, 5}, {11, 6}, {12, 7}, {13, 8}, {14, 9}, {15, 1}, {16, 0}}),
                    row(kEos)};
  auto batch = make_vec_batch({&target}, 5);
  auto cmd_logits = torch::zeros({1, 5, kNumCommands});
  cmd_logits[0][1][kLine] = 2.0;
  cmd_logits[0][4].fill_(100.0);  // after the first EOS: must be ignored
  cmd_logits[0][4][kEos] = -100.0;
  auto args_logits = torch::zeros({1, 5, kNumArgs, kArgClasses});
  auto used = command_args_mask_tensor().index({batch.commands[0]}).to(torch::kBool);  // [5, 16]
  for (int i = 0; i < 5; ++i)
    for (int a = 0; a < kNumArgs; ++a)
      if (!used[i][a].item<bool>()) args_logits[0][i][a][5] = 50.0;  // unused: must be ignored
  args_logits[0][1][0][101] = 3.0;                                      // Line x = 100 -> class 101

  auto loss = cad_loss(cmd_logits, args_logits, batch);
  const double expected_cmd = (3 * std::log(6.0) + std::log(std::exp(2.0) + 5.0) - 2.0) / 4.0;
  const double expected_args = (12 * std::log(257.0) + std::log(std::exp(3.0) + 256.0) - 3.0) / 13.0;
  EXPECT_NEAR(loss.command.item<double>(), expected_cmd, 1e-5);
  EXPECT_NEAR(loss.args.item<double>(), expected_args, 1e-5);
  EXPECT_NEAR(loss.total.item<double>(), expected_cmd + 2.0 * expected_args, 1e-5);
}

TEST(LearnMetrics, AccuracyAsDeepCadCountsIt) {
  VecRows target = {row(kSol), row(kLine, {{1, 100}, {2, 100}}), row(kArc, {{1, 50}, {2, 60}, {3, 10}, {4, 1}}),
                    row(kExt, {{6, 128}, {7, 128}, {8, 128}, {9, 128}, {10, 128}, {11, 128}, {12, 128}, {13, 128},
                               {14, 128}, {15, 1}, {16, 0}}),
                    row(kEos)};
  VecRows predicted = target;
  predicted[1][1] = 102;  // within 3 levels
  predicted[1][2] = 97;   // 3 off: wrong
  predicted[2][3] = 12;   // alpha within tolerance
  predicted[2][4] = 0;    // arc flag must be exact
  VecRows wrong_cmd = predicted;
  wrong_cmd[3] = row(kLine, {{1, 1}, {2, 1}});
  auto a = sequence_accuracy(wrong_cmd, target);
  EXPECT_EQ(a.command_count, 4);
  EXPECT_DOUBLE_EQ(a.command, 0.75);
  EXPECT_EQ(a.param_count, 6);  // Line 2 + Arc 4; the Ext row has the wrong command
  EXPECT_NEAR(a.param, 4.0 / 6.0, 1e-12);

  predicted[3][6] = 130;  // ok
  predicted[3][7] = 125;  // wrong
  predicted[3][15] = 2;   // b must be exact
  auto b = sequence_accuracy(predicted, target);
  EXPECT_DOUBLE_EQ(b.command, 1.0);
  EXPECT_EQ(b.param_count, 17);
  EXPECT_NEAR(b.param, 13.0 / 17.0, 1e-12);  // Line 1/2 + Arc 3/4 + Ext 9/11

  auto s = summarize_accuracy({a, b});
  EXPECT_NEAR(s.command, 0.875, 1e-12);
  EXPECT_EQ(sequence_accuracy(target, target).param, 1.0);
}

TEST(LearnSchedule, WarmupThenCosine) {
  EXPECT_NEAR(learning_rate_at(0, 1.0, 10, 110, "cosine"), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate_at(9, 1.0, 10, 110, "cosine"), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate_at(60, 1.0, 10, 110, "cosine"), 0.55, 1e-9);
  EXPECT_NEAR(learning_rate_at(110, 1.0, 10, 110, "cosine"), 0.1, 1e-9);
  EXPECT_NEAR(learning_rate_at(100, 1.0, 10, 110, "constant"), 1.0, 1e-12);
}

TEST(LearnConfig, RejectsTyposAndBadValues) {
  testing::TempDir dir;
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "c.json") << text;
    return load_ae_config(dir / "c.json");
  };
  auto ok = write(R"({"model": {"d_model": 64, "n_heads": 4}, "train": {"max_steps": 7}})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->model.d_model, 64);
  EXPECT_EQ(ok->train.max_steps, 7);
  EXPECT_EQ(ok->model.ff_dim, AutoencoderOptions{}.ff_dim);  // defaults kept
  auto typo = write(R"({"model": {"d_modle": 64}})");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().message.find("d_modle"), std::string::npos);
  EXPECT_FALSE(write(R"({"model": {"d_model": 30, "n_heads": 4}})").ok());
  EXPECT_FALSE(write(R"({"train": {"lr_schedule": "linear"}})").ok());
  EXPECT_FALSE(write("{not json").ok());
  EXPECT_FALSE(load_ae_config(dir / "missing.json").ok());
  for (const char* name : {"ae_small.json", "ae_paper.json", "ae_tiny.json"}) {
    auto shipped = load_ae_config(testing::source_dir() + "/configs/" + name);
    EXPECT_TRUE(shipped.ok()) << name << ": " << (shipped.ok() ? "" : shipped.error().message);
  }
  auto small = load_ae_config(testing::source_dir() + "/configs/ae_small.json");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(nlohmann::json(small->model), nlohmann::json(small_ae_config().model));
  EXPECT_EQ(nlohmann::json(small->train), nlohmann::json(small_ae_config().train));
}

TEST(LearnData, ReadsVecJsonlWithSplitsAndRejectsBadLines) {
  testing::TempDir dir;
  std::ofstream(dir / "vec.jsonl") << R"({"id": "a", "vec": [[4,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1],[3,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1]]})"
                                   << "\n"
                                   << R"({"id": "b", "rejected": "MAX_N_EXT: too many"})" << "\n"
                                   << R"({"id": "c", "vec": [[0,1,2,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1]]})" << "\n";
  std::ofstream(dir / "manifest.csv") << "id,x,split\r\na,1,train\r\nc,2,val\r\n";
  auto ds = load_vec_dataset(dir.path());
  ASSERT_TRUE(ds.ok()) << ds.error().message;
  ASSERT_EQ(ds->samples.size(), 2u);
  EXPECT_EQ(ds->split_indices("train").size(), 1u);
  EXPECT_EQ(ds->split_indices("val").size(), 1u);
  EXPECT_EQ(ds->samples[1].rows.back()[0], kEos);  // an EOS is appended when missing

  std::ofstream(dir / "bad.jsonl") << R"({"id": "a", "vec": [[4, 1, 2]]})" << "\n";
  auto bad = read_vec_jsonl(dir / "bad.jsonl", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad.jsonl:1"), std::string::npos);
  EXPECT_FALSE(load_vec_dataset(dir / "nowhere").ok());
}

TEST(LearnData, GoldenF360SplitCounts) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  auto ds = load_vec_dataset(testing::shared_data_dir());
  ASSERT_TRUE(ds.ok()) << ds.error().message;
  // golden/README.md: 5,236 encoded train and 648 val F360 vectors (+18 DeepCAD, unlisted).
  EXPECT_EQ(ds->split_indices("train").size(), 5236u);
  EXPECT_EQ(ds->split_indices("val").size(), 648u);
}

TEST(LearnData, BucketedBatchesCoverEveryIndexOnceAndAreDeterministic) {
  auto ds = testdata::random_dataset(100, 3);
  auto idx = ds.split_indices("train");
  auto a = make_length_bucketed_batches(idx, ds.samples, 8, 5, 0);
  auto b = make_length_bucketed_batches(idx, ds.samples, 8, 5, 0);
  auto c = make_length_bucketed_batches(idx, ds.samples, 8, 5, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<size_t> seen;
  for (const auto& batch : a) seen.insert(seen.end(), batch.begin(), batch.end());
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, idx);
}

// Four small solids that build, as quantised DeepCAD vectors: a cube, a thin plate and a
// narrow bar (squares / rectangles on XY extruded along +z) and a cylinder.
std::vector<VecRows> hand_made_solids() {
  auto ext = [](int e1) { return row(kExt, {{6, 128}, {7, 128}, {8, 128}, {9, 128}, {10, 128}, {11, 128}, {12, 96}, {13, e1}, {14, 128}, {15, 0}, {16, 0}}); };
  auto rect = [&](int x1, int y1, int e1) {
    return VecRows{row(kSol),
                   row(kLine, {{1, x1}, {2, 128}}),
                   row(kLine, {{1, x1}, {2, y1}}),
                   row(kLine, {{1, 128}, {2, y1}}),
                   row(kLine, {{1, 128}, {2, 128}}),
                   ext(e1),
                   row(kEos)};
  };
  return {rect(223, 223, 224),  // cube
          rect(223, 223, 140),  // plate
          rect(150, 223, 224),  // bar
          {row(kSol), row(kCircle, {{1, 176}, {2, 176}, {5, 48}}), ext(224), row(kEos)}};
}

TEST(LearnEval, ChanceLevelNextToThePredictions) {
  const std::vector<VecRows> solids = hand_made_solids();
  std::vector<VecRows> targets_store = solids;
  targets_store.push_back({row(kEos)});  // a ground truth that does not build: left out
  std::vector<const VecRows*> targets;
  for (const auto& t : targets_store) targets.push_back(&t);
  CadEvalOptions options;
  options.progress = false;
  options.n_points = 500;

  // Perfect predictions: both distances are 0, chance is well above.
  const CadEvalReport perfect = evaluate_sequences(targets_store, targets, options);
  EXPECT_EQ(perfect.gt_valid, 4);
  ASSERT_EQ(perfect.chamfer.size(), 4u);
  ASSERT_EQ(perfect.chamfer_rotation_free.size(), 4u);
  ASSERT_EQ(perfect.chance_chamfer.size(), 4u);  // one pair per buildable ground truth
  ASSERT_EQ(perfect.chance_chamfer_rotation_free.size(), 4u);
  EXPECT_EQ(perfect.chamfer_median, 0.0);
  EXPECT_EQ(perfect.chamfer_rotation_free_median, 0.0);
  EXPECT_GT(perfect.chance_chamfer_median, 1e-3);
  EXPECT_GT(perfect.chance_chamfer_rotation_free_median, 1e-3);
  for (double v : perfect.chance_chamfer) EXPECT_GT(v, 0.0);
  // Per model, in the order of the targets: the one that did not build is NaN (null in JSON).
  ASSERT_EQ(perfect.chamfer_rotation_free_per_model.size(), 5u);
  EXPECT_EQ(perfect.chamfer_rotation_free_per_model[0], 0.0);
  EXPECT_TRUE(std::isnan(perfect.chamfer_rotation_free_per_model[4]));

  // Predicting another model's ground truth, the derangement's partner (k + 2 of 4): the
  // prediction figures are the chance figures.
  std::vector<VecRows> partner = {solids[2], solids[3], solids[0], solids[1], {row(kEos)}};
  const CadEvalReport shifted = evaluate_sequences(partner, targets, options);
  ASSERT_EQ(shifted.chamfer.size(), 4u);
  EXPECT_DOUBLE_EQ(shifted.chamfer_median, perfect.chance_chamfer_median);
  EXPECT_DOUBLE_EQ(shifted.chamfer_rotation_free_median, perfect.chance_chamfer_rotation_free_median);
  EXPECT_EQ(shifted.chance_chamfer, perfect.chance_chamfer);  // chance depends on the targets only

  // The bar predicted turned 90 degrees about z (x and y swapped): far in the view frame,
  // as close as two samplings in the rotation-free one.
  std::vector<VecRows> turned = targets_store;
  turned[2] = VecRows{row(kSol),
                      row(kLine, {{1, 223}, {2, 128}}),
                      row(kLine, {{1, 223}, {2, 150}}),
                      row(kLine, {{1, 128}, {2, 150}}),
                      row(kLine, {{1, 128}, {2, 128}}),
                      solids[2][5],
                      row(kEos)};
  const CadEvalReport turn = evaluate_sequences(turned, targets, options);
  ASSERT_EQ(turn.chamfer.size(), 4u);
  EXPECT_GT(turn.chamfer[2], 1e-2);
  EXPECT_LT(turn.chamfer_rotation_free[2], 0.1 * turn.chamfer[2]);
  EXPECT_LT(turn.chamfer_rotation_free[2], 0.1 * perfect.chance_chamfer_rotation_free_median);

  const nlohmann::json j = report_to_json(perfect);
  for (const char* key : {"chamfer_median", "chamfer_rotation_free_median", "chance_chamfer_median",
                          "chance_chamfer_rotation_free_median", "chance_pairs", "chamfer_rotation_free_per_model"})
    EXPECT_TRUE(j["geometry"].contains(key)) << key;
  EXPECT_TRUE(j["geometry"]["chamfer_rotation_free_per_model"][4].is_null());
  EXPECT_EQ(j["geometry"]["chance_pairs"], 4);
  const std::string md = report_to_markdown("t", perfect);
  EXPECT_NE(md.find("| median rotation-free CD"), std::string::npos) << md;
  EXPECT_NE(md.find("| chance: median CD"), std::string::npos) << md;
  EXPECT_NE(md.find("| chance: median rotation-free CD"), std::string::npos) << md;

  // Fewer than two buildable ground truths: no chance level.
  const std::vector<const VecRows*> one = {targets[0]};
  const CadEvalReport single = evaluate_sequences({solids[0]}, one, options);
  EXPECT_TRUE(single.chance_chamfer.empty());
  EXPECT_FALSE(report_to_json(single)["geometry"].contains("chance_chamfer_median"));
}

TEST(LearnEval, ChanceLevelOnSharedValModels) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  auto ds = load_vec_dataset(testing::shared_data_dir());
  ASSERT_TRUE(ds.ok()) << ds.error().message;
  auto idx = ds->split_indices("val");
  ASSERT_GE(idx.size(), 6u);
  std::vector<VecRows> rows;
  std::vector<const VecRows*> targets;
  for (size_t k = 0; k < 6; ++k) rows.push_back(ds->samples[idx[k]].rows);
  for (const auto& r : rows) targets.push_back(&r);
  CadEvalOptions options;
  options.progress = false;
  const CadEvalReport r = evaluate_sequences(rows, targets, options);
  ASSERT_GE(r.gt_valid, 2);
  EXPECT_EQ(r.chance_chamfer.size(), static_cast<size_t>(r.gt_valid));
  EXPECT_GT(r.chance_chamfer_median, r.chamfer_median);
  EXPECT_GT(r.chance_chamfer_rotation_free_median, r.chamfer_rotation_free_median);
  EXPECT_GT(r.chance_chamfer_rotation_free_median, 1e-4);
}

}  // namespace
}  // namespace cadcrafter::learn
