// DPO with the code checker (learn/training/dpo_trainer.h): the loss against hand-computed values,
// the pairing rule, resumable collection, and a toy run on the real kernel where a deliberately bad
// model (trained on data half of which decodes to a zero-thickness extrude) learns to stop
// producing invalid solids, while the same run with the preferences reversed makes it worse.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "learn/training/dpo_trainer.h"
#include "util/atomic_file.h"
#include "learn_test_data.h"
#include "test_support.h"

namespace cadcrafter::learn {
namespace {

using testdata::row;

TEST(Dpo, ErrorsAreSummedOverTheLatent) {
  auto z0 = torch::tensor({{1.0, 2.0}, {0.0, 0.0}});
  auto pred = torch::tensor({{0.0, 2.0}, {1.0, 1.0}});
  auto e = z0_errors(z0, pred);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2}));
  EXPECT_FLOAT_EQ(e[0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(e[1].item<float>(), 2.0f);
}

TEST(Dpo, LossMatchesHandComputedValue) {
  // Pair 0: (1.0 - 1.2) - (0.8 - 0.6) = -0.4 -> inside = -beta/2 * -0.4 = 0.4 (beta 2),
  //         loss = -log sigmoid(0.4) = log(1 + e^-0.4) = 0.5130153.
  // Pair 1: (0.5 - 0.5) - (0.3 - 0.4) = 0.1 -> inside = -0.1, loss = log(1 + e^0.1) = 0.7443967.
  auto etw = torch::tensor({1.0, 0.5}, torch::kDouble).requires_grad_(true);
  auto erw = torch::tensor({1.2, 0.5}, torch::kDouble);
  auto etl = torch::tensor({0.8, 0.3}, torch::kDouble).requires_grad_(true);
  auto erl = torch::tensor({0.6, 0.4}, torch::kDouble);
  auto l = diffusion_dpo_loss(etw, erw, etl, erl, 2.0);
  EXPECT_NEAR(l.inside[0].item<double>(), 0.4, 1e-12);
  EXPECT_NEAR(l.inside[1].item<double>(), -0.1, 1e-12);
  EXPECT_NEAR(l.loss.item<double>(), 0.6287060, 1e-6);
  EXPECT_DOUBLE_EQ(l.accuracy, 0.5);
  // Lowering the winner's error or raising the loser's lowers the loss.
  l.loss.backward();
  EXPECT_GT(etw.grad()[0].item<double>(), 0.0);
  EXPECT_LT(etl.grad()[0].item<double>(), 0.0);
  // Policy == reference: log 2 whatever beta.
  auto same = diffusion_dpo_loss(erw, erw, erl, erl, 20.0);
  EXPECT_NEAR(same.loss.item<double>(), std::log(2.0), 1e-12);
  // beta scales the margin: beta 20 on pair 0 alone is -log sigmoid(4).
  auto big = diffusion_dpo_loss(etw.detach().narrow(0, 0, 1), erw.narrow(0, 0, 1), etl.detach().narrow(0, 0, 1), erl.narrow(0, 0, 1), 20.0);
  EXPECT_NEAR(big.loss.item<double>(), std::log1p(std::exp(-4.0)), 1e-9);
}

TEST(Dpo, PairsPreferTheClosestValidSampleOverInvalidAndFarOnes) {
  auto valid = [](double cd) {
    SampleScore s;
    s.valid = true;
    s.chamfer = cd;
    return s;
  };
  SampleScore invalid;
  invalid.reason = "extrude 0: zero extent";
  PairRule rule;
  rule.far_ratio = 2.0;
  rule.max_pairs_per_input = 3;
  // 0.015 is not 2x farther than 0.01: not rejected. Invalid ones come first.
  const std::vector<SampleScore> scores = {valid(0.05), invalid, valid(0.01), valid(0.015)};
  auto pairs = choose_pairs(scores, rule);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].preferred, 2);
  EXPECT_EQ(pairs[0].rejected, 1);
  EXPECT_EQ(pairs[1].preferred, 2);
  EXPECT_EQ(pairs[1].rejected, 0);
  rule.max_pairs_per_input = 1;
  EXPECT_EQ(choose_pairs(scores, rule).size(), 1u);
  EXPECT_TRUE(choose_pairs({invalid, invalid}, rule).empty());          // nothing to prefer
  EXPECT_TRUE(choose_pairs({valid(0.01), valid(0.012)}, rule).empty());  // nothing much worse
}

// ---------------------------------------------------------------- the toy problem

// A 40-level-wide rectangle extruded by the toy latent: z[0] > 0 gives a real thickness, z[0] <= 0
// a zero-distance extrude (the kernel refuses it); z[1] sets the width (0.5 = the ground truth's).
VecRows toy_vec(float a, float b) {
  const int e1 = a > 0 ? 200 : 128;
  const int x1 = 128 + std::clamp(static_cast<int>(std::lround(b * 190.0f)), 8, 127);
  auto ext = row(kExt, {{6, 128}, {7, 128}, {8, 128}, {9, 128}, {10, 128}, {11, 128}, {12, 96}, {13, e1}, {14, 128}, {15, 0}, {16, 0}});
  return {row(kSol), row(kLine, {{1, x1}, {2, 128}}), row(kLine, {{1, x1}, {2, 223}}), row(kLine, {{1, 128}, {2, 223}}),
          row(kLine, {{1, 128}, {2, 128}}), ext, row(kEos)};
}

std::vector<VecRows> toy_decode(const torch::Tensor& z) {
  auto c = z.to(torch::kCPU).contiguous();
  std::vector<VecRows> out;
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back(toy_vec(c[i][0].item<float>(), c[i][1].item<float>()));
  return out;
}

DiffusionConfig toy_config() {
  DiffusionConfig c;
  c.geometry.feature_dim = 4;
  c.geometry.d_model = 16;
  c.geometry.n_heads = 2;
  c.geometry.ff_dim = 32;
  c.geometry.layers = 1;
  c.denoiser.z_dim = 2;
  c.denoiser.cond_dim = 16;
  c.denoiser.d_model = 16;
  c.denoiser.n_heads = 2;
  c.denoiser.ff_dim = 32;
  c.denoiser.layers = 1;
  c.diffusion.max_views = 1;
  return c;
}

// `copies` copies of 4 toy inputs (random features, one view), all with the ground truth toy_vec(1, 0.5).
DpoInputs toy_inputs(const torch::Tensor& features, int64_t copies) {
  DpoInputs in;
  in.features = features.repeat({copies, 1, 1, 1});
  in.present = torch::ones({in.features.size(0), 1}, torch::kBool);
  for (int64_t i = 0; i < in.features.size(0); ++i) in.targets.push_back(toy_vec(1.0f, 0.5f));
  return in;
}

// The deliberately bad model: trained (z0 loss) on targets whose first coordinate is +-0.5 with
// equal odds, so about half of its samples decode to the invalid zero-thickness extrude.
ConditionalPrior bad_model(const torch::Tensor& features, const NoiseSchedule& schedule) {
  torch::manual_seed(3);
  ConditionalPrior prior(toy_config());
  torch::optim::Adam opt(prior->parameters(), torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < 300; ++step) {
    auto idx = torch::randint(0, features.size(0), {64}, torch::kLong);
    auto sign = torch::randint(0, 2, {64}).to(torch::kFloat) * 2 - 1;
    auto z0 = torch::stack({0.5 * sign, 0.5 + 0.05 * torch::randn({64})}, 1);
    auto t = torch::randint(0, schedule.steps(), {64}, torch::kLong);
    auto zt = schedule.add_noise(z0, t, torch::randn_like(z0));
    auto loss = torch::mse_loss(prior->forward(zt, t, features.index({idx}), torch::ones({64, 1}, torch::kBool)), z0);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  return prior;
}

DpoOptions toy_options() {
  DpoOptions o;
  o.pairs = 48;
  o.samples_per_input = 8;
  o.rule.max_pairs_per_input = 4;
  o.max_passes = 6;
  o.chunk_inputs = 4;
  o.sample_steps = 10;
  o.score.n_points = 300;
  o.threads = 2;
  return o;
}

TrainOptions toy_train() {
  TrainOptions t;
  t.max_steps = 60;
  t.batch_size = 32;
  t.lr = 1e-3;
  t.warmup_steps = 0;
  t.lr_schedule = "constant";
  t.log_every = 1000;
  t.val_every = 0;
  return t;
}

ConditionalPrior copy_of(ConditionalPrior& m) {
  ConditionalPrior c(toy_config());
  torch::NoGradGuard no_grad;
  auto src = m->parameters();
  auto dst = c->parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  return c;
}

TEST(Dpo, ToyRunLowersTheInvalidRatioOfABadModelAndReversedPreferencesRaiseIt) {
  torch::manual_seed(1);
  const auto features = torch::randn({4, 1, 2, 4});
  NoiseSchedule schedule(100);
  ConditionalPrior bad = bad_model(features, schedule);
  const DpoInputs train = toy_inputs(features, 1);
  const DpoInputs probe = toy_inputs(features, 16);  // 64 single samples per measurement
  const DpoOptions o = toy_options();

  const auto before = measure_single_samples(bad, schedule, probe, toy_decode, o, /*seed=*/5);
  ASSERT_EQ(before.gt_valid, 64);
  EXPECT_GE(before.invalid_ratio, 0.3) << "the toy model is not bad enough to test anything";

  auto pairs = collect_dpo_pairs(bad, schedule, train, toy_decode, o, /*seed=*/2);
  ASSERT_TRUE(pairs.ok()) << pairs.error().message;
  ASSERT_GE(pairs->size(), 48);
  EXPECT_GT(pairs->invalid_samples, 0);
  int64_t invalid_rejected = 0;
  for (const auto& m : pairs->meta) {
    if (m["why"] == "invalid") {
      ++invalid_rejected;
      EXPECT_FALSE(m["rejected"]["reason"].get<std::string>().empty());  // the checker's reason is kept
      EXPECT_TRUE(m["preferred"]["chamfer"].is_number());
    }
  }
  EXPECT_GT(invalid_rejected, 24);
  // Every preferred latent decodes valid, every "invalid" rejected one invalid.
  EXPECT_TRUE((pairs->z_w.select(1, 0) > 0).all().item<bool>());

  RunContext ctx;  // in memory
  ctx.progress = false;
  ctx.seed = 4;
  ConditionalPrior tuned = copy_of(bad), reference = copy_of(bad);
  auto trained = train_dpo_steps(tuned, reference, schedule, train, *pairs, o.beta, toy_train(), ctx);
  ASSERT_TRUE(trained.ok()) << trained.error().message;
  const auto after = measure_single_samples(tuned, schedule, probe, toy_decode, o, /*seed=*/5);
  EXPECT_LE(after.invalid_ratio, 0.5 * before.invalid_ratio) << before.invalid_ratio << " -> " << after.invalid_ratio;
  ASSERT_TRUE(std::isfinite(after.chamfer_median));
  EXPECT_LE(after.chamfer_median, 2.0 * before.chamfer_median + 1e-4);

  // The same steps with the preferences reversed teach the opposite: the loss is what moves it.
  DpoPairs reversed = *pairs;
  std::swap(reversed.z_w, reversed.z_l);
  ConditionalPrior worse = copy_of(bad), reference2 = copy_of(bad);
  ASSERT_TRUE(train_dpo_steps(worse, reference2, schedule, train, reversed, o.beta, toy_train(), ctx).ok());
  const auto worse_after = measure_single_samples(worse, schedule, probe, toy_decode, o, /*seed=*/5);
  EXPECT_GT(worse_after.invalid_ratio, before.invalid_ratio);
  std::printf("toy DPO: %lld pairs (%lld of %lld samples invalid); invalid ratio %.3f -> %.3f (reversed preferences: %.3f); "
              "median CD %.5f -> %.5f\n",
              static_cast<long long>(pairs->size()), static_cast<long long>(pairs->invalid_samples), static_cast<long long>(pairs->samples),
              before.invalid_ratio, after.invalid_ratio, worse_after.invalid_ratio, before.chamfer_median, after.chamfer_median);
}

TEST(Dpo, CollectionResumesWhereItStopped) {
  torch::manual_seed(1);
  const auto features = torch::randn({4, 1, 2, 4});
  NoiseSchedule schedule(100);
  torch::manual_seed(7);
  ConditionalPrior model(toy_config());  // untrained: samples are spread, some invalid
  const DpoInputs train = toy_inputs(features, 1);
  DpoOptions o = toy_options();
  o.pairs = 12;
  o.chunk_inputs = 1;
  o.score.n_points = 100;
  const testing::TempDir dir;
  const std::string a = dir / "a", b = dir / "b";
  std::filesystem::create_directories(a);
  std::filesystem::create_directories(b);
  auto first = collect_dpo_pairs(model, schedule, train, toy_decode, o, 3, a);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_GE(first->size(), 12);
  ASSERT_LT(first->inputs_done, 4 * o.max_passes);  // stopped early, so the resume has work to do
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(a) / "pairs.jsonl"));
  o.pairs = 24;
  auto resumed = collect_dpo_pairs(model, schedule, train, toy_decode, o, 3, a, /*resume=*/true);
  auto straight = collect_dpo_pairs(model, schedule, train, toy_decode, o, 3, b);
  ASSERT_TRUE(resumed.ok() && straight.ok());
  ASSERT_EQ(resumed->size(), straight->size());
  EXPECT_TRUE(torch::equal(resumed->z_w, straight->z_w));
  EXPECT_TRUE(torch::equal(resumed->z_l, straight->z_l));
  EXPECT_EQ(resumed->input, straight->input);
  EXPECT_EQ(resumed->samples, straight->samples);
  for (size_t i = 0; i < resumed->meta.size(); ++i) EXPECT_EQ(resumed->meta[i], straight->meta[i]);
  // A torn state (collection.json pointing past the saved pairs) fails cleanly.
  ASSERT_TRUE(write_file_atomically((std::filesystem::path(a) / "collection.json").string(), R"({"inputs_done": 99, "pairs": 999})").ok());
  EXPECT_FALSE(collect_dpo_pairs(model, schedule, train, toy_decode, o, 3, a, true).ok());
}

}  // namespace
}  // namespace cadcrafter::learn
