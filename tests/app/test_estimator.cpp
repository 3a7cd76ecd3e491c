// The depth/normal/mask estimator: output shapes and conventions, the scale-and-shift
// alignment, save/load, and that a tiny network overfits a few rendered views (the losses
// and gradients are wired up right).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/generator.h"
#include "learn/networks/estimator.h"
#include "learn/training/estimator_trainer.h"
#include "learn/inference/photo_estimator.h"
#include "test_support.h"

namespace cadcrafter::learn {
namespace {

using cadcrafter::testing::TempDir;

// The small network most tests build: 32x32 input, base 8 channels, 2 levels.
EstimatorOptions tiny_options() {
  EstimatorOptions o;
  o.image_size = 32;
  o.base_channels = 8;
  o.levels = 2;
  return o;
}

TEST(Estimator, OutputShapesAndUnitNormals) {
  torch::manual_seed(0);
  DepthNormalEstimator net(tiny_options());
  const auto out = net->forward(torch::rand({3, 3, 32, 32}));
  EXPECT_EQ(out.depth.sizes(), (std::vector<int64_t>{3, 1, 32, 32}));
  EXPECT_EQ(out.normal.sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
  EXPECT_EQ(out.mask_logits.sizes(), (std::vector<int64_t>{3, 1, 32, 32}));
  const auto norms = out.normal.norm(2, 1);
  EXPECT_NEAR(norms.min().item<float>(), 1.0f, 1e-4);
  EXPECT_NEAR(norms.max().item<float>(), 1.0f, 1e-4);
  EXPECT_THROW(net->forward(torch::rand({1, 3, 30, 30})), c10::Error);  // not a multiple of 4
}

// core_downsample 2: the U-Net runs on the input averaged down 2x and a full-size stage adds
// a residual that starts at zero, so a core copied from a half-size estimator reproduces that
// estimator's output, bilinearly up-sampled, until training moves the residual.
TEST(Estimator, TwoScaleNetworkStartsAtItsHalfSizeCore) {
  torch::manual_seed(3);
  EstimatorOptions small;
  small.image_size = 16;
  small.base_channels = 8;
  small.levels = 2;
  DepthNormalEstimator half(small);
  EstimatorOptions big = small;
  big.image_size = 32;
  big.core_downsample = 2;
  big.fine_channels = 6;
  DepthNormalEstimator full(big);
  auto copied = init_core_from(full, half);
  ASSERT_TRUE(copied.ok()) << copied.error().message;
  EXPECT_EQ(*copied, static_cast<int64_t>(half->parameters().size() + half->buffers().size()));
  half->eval();
  full->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({2, 3, 32, 32});
  const auto coarse = half->forward(torch::nn::functional::avg_pool2d(x, torch::nn::functional::AvgPool2dFuncOptions(2)));
  const auto fine = full->forward(x);
  ASSERT_EQ(fine.depth.sizes(), (std::vector<int64_t>{2, 1, 32, 32}));
  const auto up = [](const torch::Tensor& t) {
    return torch::nn::functional::interpolate(t, torch::nn::functional::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{32, 32})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false));
  };
  EXPECT_TRUE(torch::allclose(fine.depth, up(coarse.depth), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(fine.mask_logits, up(coarse.mask_logits), 1e-4, 1e-5));
  // A size the core cannot halve and pool twice is refused.
  EXPECT_THROW(full->forward(torch::rand({1, 3, 36, 36})), c10::Error);
  // A source that does not fit entirely (other widths) is refused.
  EstimatorOptions other;
  other.image_size = 16;
  other.base_channels = 6;
  other.levels = 1;
  DepthNormalEstimator unrelated(other);
  EXPECT_FALSE(init_core_from(unrelated, full).ok());
  // The options survive a save/load round trip.
  TempDir tmp;
  ASSERT_TRUE(save_estimator(tmp / "two_scale.pt", full));
  auto loaded = load_estimator(tmp / "two_scale.pt");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ((*loaded)->options().core_downsample, 2);
  EXPECT_EQ((*loaded)->options().fine_channels, 6);
  EXPECT_TRUE(torch::allclose((*loaded)->forward(x).normal, fine.normal));
}

TEST(Estimator, SoftIoUTermIsZeroForAPerfectMaskAndCountsWhenWeighted) {
  EstimatorTargets t;
  t.depth = torch::rand({2, 1, 8, 8}) + 2.0;
  t.normal = torch::nn::functional::normalize(torch::randn({2, 3, 8, 8}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  t.mask = torch::zeros({2, 1, 8, 8});
  t.mask.slice(2, 2, 6).fill_(1.0);
  EstimatorOutput out;
  out.depth = t.depth;
  out.normal = t.normal;
  out.mask_logits = (t.mask * 2 - 1) * 50.0;
  EXPECT_LT(estimator_losses(out, t).mask_iou.item<float>(), 1e-6);
  out.mask_logits = torch::zeros_like(t.mask);  // p = 0.5 everywhere
  EstimatorLossWeights w;
  const auto plain = estimator_losses(out, t, w);
  w.mask_iou = 2.0;
  const auto weighted = estimator_losses(out, t, w);
  // Soft intersection 0.5 * 32, soft union 32 + 0.5 * 64 - 0.5 * 32 = 48: IoU 1/3.
  EXPECT_NEAR(plain.mask_iou.item<float>(), 2.0f / 3.0f, 1e-5);
  EXPECT_NEAR((weighted.total - plain.total).item<float>(), 2.0f * 2.0f / 3.0f, 1e-4);
}

TEST(Estimator, AlignScaleShiftRecoversAnAffineMap) {
  const auto pred = torch::rand({2, 1, 8, 8});
  const auto target = pred * 3.0 - 0.5;
  auto mask = torch::zeros({2, 1, 8, 8});
  mask.slice(2, 2, 6).fill_(1.0);
  const auto aligned = align_scale_shift(pred, target, mask);
  EXPECT_LT(((aligned - target) * mask).abs().max().item<float>(), 1e-4);
}

// Mirror averaging: an output whose mirror pass agrees with it (mirrored back, normal x negated,
// depth at another scale and shift) comes back unchanged; and the averaged network is exactly
// mirror-equivariant in its mask and normals, whatever the weights.
TEST(Estimator, MirrorAveragingKeepsAnAgreeingPassAndIsMirrorEquivariant) {
  torch::manual_seed(3);
  EstimatorOutput plain;
  plain.depth = torch::rand({2, 1, 8, 8}) + 1.0;
  plain.normal = torch::nn::functional::normalize(torch::randn({2, 3, 8, 8}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  plain.mask_logits = torch::randn({2, 1, 8, 8}) * 4.0;
  auto mirrored_normal = plain.normal.flip({3});
  mirrored_normal = torch::cat({-mirrored_normal.slice(1, 0, 1), mirrored_normal.slice(1, 1, 3)}, 1);
  const EstimatorOutput mirrored{plain.depth.flip({3}) * 2.5 - 4.0, mirrored_normal, plain.mask_logits.flip({3})};
  const auto avg = average_with_mirror(plain, mirrored);
  const auto on_mask = (plain.mask_logits > 0).to(torch::kFloat);
  EXPECT_LT(((avg.depth - plain.depth) * on_mask).abs().max().item<float>(), 1e-4);
  EXPECT_LT((avg.normal - plain.normal).abs().max().item<float>(), 1e-5);
  EXPECT_LT((avg.mask_logits - plain.mask_logits).abs().max().item<float>(), 1e-6);

  // A disagreeing pass moves the answer: the average is not just `plain`.
  const EstimatorOutput other{mirrored.depth, -mirrored.normal, -mirrored.mask_logits};
  EXPECT_GT((average_with_mirror(plain, other).mask_logits - plain.mask_logits).abs().max().item<float>(), 0.1);

  DepthNormalEstimator net(tiny_options());
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({2, 3, 32, 32});
  EXPECT_GT((net->forward(x.flip({3})).mask_logits.flip({3}) - net->forward(x).mask_logits).abs().max().item<float>(), 1e-3)
      << "an untrained network is not mirror-equivariant by itself";
  const auto a = forward_mirror_averaged(net, x);
  const auto b = forward_mirror_averaged(net, x.flip({3}));
  EXPECT_LT((b.mask_logits.flip({3}) - a.mask_logits).abs().max().item<float>(), 1e-4);
  auto b_normal = b.normal.flip({3});
  b_normal = torch::cat({-b_normal.slice(1, 0, 1), b_normal.slice(1, 1, 3)}, 1);
  EXPECT_LT((b_normal - a.normal).abs().max().item<float>(), 1e-4);
}

TEST(Estimator, PerfectPredictionHasZeroGeometryLoss) {
  EstimatorTargets t;
  t.depth = torch::rand({2, 1, 8, 8}) + 2.0;
  t.normal = torch::nn::functional::normalize(torch::randn({2, 3, 8, 8}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  t.mask = (torch::rand({2, 1, 8, 8}) > 0.3).to(torch::kFloat);
  EstimatorOutput out;
  out.depth = t.depth * 0.1 + 7.0;  // any scale and shift
  out.normal = t.normal;
  out.mask_logits = (t.mask * 2 - 1) * 50.0;
  const auto l = estimator_losses(out, t);
  EXPECT_LT(l.depth.item<float>(), 1e-3);
  EXPECT_LT(l.normal.item<float>(), 1e-5);
  EXPECT_LT(l.mask.item<float>(), 1e-6);
  EstimatorMetrics sums;
  accumulate_metrics(out, t, &sums);
  const auto m = finish_metrics(sums);
  EXPECT_EQ(m.images, 2);
  EXPECT_LT(m.depth_abs_rel, 1e-4);
  EXPECT_LT(m.normal_angle_deg, 0.1);
  EXPECT_DOUBLE_EQ(m.mask_iou, 1.0);
}

TEST(Estimator, SaveLoadRoundTripAndPhotoEstimator) {
  TempDir tmp;
  torch::manual_seed(1);
  DepthNormalEstimator net(tiny_options());
  net->eval();
  ASSERT_TRUE(save_estimator(tmp / "e.pt", net));
  auto loaded = load_estimator(tmp / "e.pt");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ((*loaded)->options().base_channels, 8);
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({1, 3, 32, 32});
  EXPECT_TRUE(torch::allclose(net->forward(x).depth, (*loaded)->forward(x).depth));

  auto photo = PhotoEstimator::load(tmp / "e.pt");
  ASSERT_TRUE(photo.ok()) << photo.error().message;
  EXPECT_EQ(photo->input_size(), 32);
  EXPECT_EQ(photo->kind(), "cadcrafter-estimator");
  Image8 im{32, 32, 3, std::vector<uint8_t>(32 * 32 * 3, 90)};
  auto maps = photo->estimate(im);
  ASSERT_TRUE(maps.ok());
  EXPECT_EQ(maps->depth.size(), 32u * 32u);
  EXPECT_EQ(maps->normal.size(), 32u * 32u * 3u);
  EXPECT_FALSE(photo->estimate(Image8{16, 16, 3, std::vector<uint8_t>(16 * 16 * 3)}).ok());
  // Mirror averaging is on by default and matches the network-level function; off, the plain pass.
  EXPECT_TRUE(photo->mirror_average());
  Image8 ramp{32, 32, 3, std::vector<uint8_t>(32 * 32 * 3)};
  for (size_t i = 0; i < ramp.pixels.size(); ++i) ramp.pixels[i] = static_cast<uint8_t>((i * 7) % 251);
  const auto x_ramp = torch::from_blob(ramp.pixels.data(), {1, 32, 32, 3}, torch::kUInt8).permute({0, 3, 1, 2}).to(torch::kFloat) / 255.0;
  auto averaged = photo->estimate(ramp);
  photo->set_mirror_average(false);
  auto plain_maps = photo->estimate(ramp);
  ASSERT_TRUE(averaged.ok() && plain_maps.ok());
  const auto want_avg = torch::sigmoid(forward_mirror_averaged(net, x_ramp).mask_logits).flatten();
  const auto want_plain = torch::sigmoid(net->forward(x_ramp).mask_logits).flatten();
  for (int64_t i : {0, 100, 517, 1023}) {
    EXPECT_NEAR(averaged->mask[static_cast<size_t>(i)], want_avg[i].item<float>(), 1e-5);
    EXPECT_NEAR(plain_maps->mask[static_cast<size_t>(i)], want_plain[i].item<float>(), 1e-5);
  }

  // Not weights at all: a clear refusal, not a crash.
  std::FILE* f = std::fopen((tmp / "junk.pt").c_str(), "wb");
  std::fputs("junk", f);
  std::fclose(f);
  auto junk = PhotoEstimator::load(tmp / "junk.pt");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().message.find("junk.pt"), std::string::npos);
}

TEST(Estimator, TinyNetworkOverfitsRenderedViews) {
  std::vector<CadModel> models = {generate_model(GeneratorOptions{}, 11)};
  EstimatorDataOptions data;
  data.views_per_model = 4;
  data.image_size = 32;
  data.seed = 3;
  data.threads = 1;
  data.progress = false;
  const auto samples = render_estimator_samples(models, data);
  ASSERT_EQ(samples.size(), 4u);
  std::vector<const EstimatorSample*> all;
  for (const auto& s : samples) all.push_back(&s);
  const auto batch = make_estimator_batch(all, 32, false, nullptr);
  EXPECT_EQ(batch.rgb.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  EXPECT_GT(batch.target.mask.sum().item<float>(), 50.0f);
  // Ground-truth visible normals face the camera (n.z < 0 in the OpenCV camera frame).
  const auto nz = (batch.target.normal.slice(1, 2, 3) * batch.target.mask).sum() / batch.target.mask.sum();
  EXPECT_LT(nz.item<float>(), -0.2f);

  torch::manual_seed(0);
  torch::set_num_threads(1);
  DepthNormalEstimator net(tiny_options());
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(3e-3));
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    const auto l = estimator_losses(net->forward(batch.rgb), batch.target);
    l.total.backward();
    opt.step();
    if (step == 0) first = l.total.item<double>();
    last = l.total.item<double>();
  }
  EXPECT_LT(last, 0.4 * first) << "first " << first << " last " << last;
  const auto m = evaluate_estimator(net, samples);
  EXPECT_GT(m.mask_iou, 0.8);
}

TEST(Estimator, ExcludedStyleFamiliesAreNeverRenderedAndAreReportedApart) {
  EstimatorDataOptions data;
  data.generated_models = 3;
  data.views_per_model = 8;
  data.image_size = 32;
  data.threads = 1;
  data.progress = false;
  data.exclude_families = {"metal", "mat", "room"};
  data.fov_max_deg = 80.0f;
  auto samples = make_estimator_samples(data);
  ASSERT_TRUE(samples.ok()) << samples.error().message;
  ASSERT_EQ(samples->size(), 24u);
  for (const auto& s : *samples) {
    EXPECT_NE(s.material, "metal");
    EXPECT_NE(s.background, "mat");
    EXPECT_NE(s.background, "room");
    EXPECT_FALSE(s.material.empty());
  }
  data.exclude_families = {"chrome"};
  auto bad = make_estimator_samples(data);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("chrome"), std::string::npos);

  // Per-family figures: every sample counts once per material and once per background.
  torch::manual_seed(0);
  EstimatorOptions o;
  o.image_size = 16;
  o.base_channels = 4;
  o.levels = 2;
  DepthNormalEstimator net(o);
  const auto by_family = evaluate_estimator_by_family(net, *samples);
  int64_t materials = 0, backgrounds = 0;
  for (const auto& [family, m] : by_family) {
    (family.rfind("material/", 0) == 0 ? materials : backgrounds) += m.images;
    EXPECT_GE(m.mask_iou, 0.0);
    EXPECT_LE(m.mask_iou, 1.0);
  }
  EXPECT_EQ(materials, 24);
  EXPECT_EQ(backgrounds, 24);
}

// A run stopped at step 3 and resumed ends with exactly the weights of an uninterrupted run
// (optimizer state, step and the data-order RNG all come back from checkpoint.pt).
TEST(Estimator, ResumedTrainingMatchesAnUninterruptedRun) {
  TempDir tmp;
  EstimatorConfig c;
  c.model.image_size = 16;
  c.model.base_channels = 4;
  c.model.levels = 2;
  c.data.generated_models = 2;
  c.data.views_per_model = 4;
  c.data.threads = 1;
  c.validation.generated_models = 1;
  c.validation.views_per_model = 4;
  c.validation.seed = 99;
  c.validation.threads = 1;
  c.train.batch_size = 4;
  c.train.steps = 6;
  c.train.warmup_steps = 2;
  c.train.log_every = 1;
  c.train.photometric = 1.0f;  // its draws come from the run's rng, which the checkpoint carries
  torch::set_num_threads(1);
  const std::string whole = tmp / "whole", split = tmp / "split";
  auto a = train_estimator(c, whole, 5, false);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->steps, 6);

  EstimatorConfig first = c;
  first.train.stop_after = 3;
  auto b1 = train_estimator(first, split, 5, false);
  ASSERT_TRUE(b1.ok()) << b1.error().message;
  EXPECT_EQ(b1->steps, 3);
  ASSERT_TRUE(std::filesystem::exists(split + "/checkpoint.pt"));
  auto b2 = train_estimator(c, split, 5, false, /*resume=*/true);
  ASSERT_TRUE(b2.ok()) << b2.error().message;
  EXPECT_EQ(b2->resumed_from, 3);
  EXPECT_EQ(b2->steps, 6);

  auto wa = load_estimator(whole + "/estimator.pt");
  auto wb = load_estimator(split + "/estimator.pt");
  ASSERT_TRUE(wa.ok() && wb.ok());
  const auto pa = (*wa)->parameters(), pb = (*wb)->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
  // The log has one row per step, none repeated by the resumed sitting.
  std::ifstream log(split + "/log.csv");
  std::string line;
  int rows = -1;  // header
  while (std::getline(log, line)) ++rows;
  EXPECT_EQ(rows, 6);
  EXPECT_DOUBLE_EQ(a->final_loss, b2->final_loss);

  // Resuming where there is no checkpoint is a clear error.
  auto none = train_estimator(c, tmp / "none", 5, false, true);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("checkpoint"), std::string::npos);
}

// Photometric jitter: off at strength 0; at 1 it changes photos (not their shape or range), the
// same for the same seed, and by a different amount per photo; the fixed foreign colour shifts
// do what their names say. The config carries the strength.
TEST(Estimator, PhotometricJitterAndForeignColourShifts) {
  torch::manual_seed(3);
  const auto rgb = torch::rand({6, 3, 16, 16});
  std::mt19937_64 a(11);
  EXPECT_TRUE(torch::equal(photometric_jitter(rgb, 0.0f, a), rgb));
  const auto ja = photometric_jitter(rgb, 1.0f, a);
  std::mt19937_64 a2(11);
  (void)photometric_jitter(rgb, 0.0f, a2);
  const auto ja2 = photometric_jitter(rgb, 1.0f, a2);
  EXPECT_TRUE(torch::equal(ja, ja2)) << "same seed, same jitter";
  ASSERT_EQ(ja.sizes(), rgb.sizes());
  EXPECT_GE(ja.min().item<float>(), 0.0f);
  EXPECT_LE(ja.max().item<float>(), 1.0f);
  EXPECT_GT((ja - rgb).abs().mean().item<float>(), 0.01f);
  const auto change = (ja - rgb).mean({1, 2, 3});  // per photo
  EXPECT_GT(change.std().item<float>(), 0.005f) << "every photo gets its own draw";

  const auto grey = torch::full({1, 3, 4, 4}, 0.5f);
  const auto shifts = foreign_colour_shifts();
  ASSERT_EQ(shifts.size(), 4u);
  for (const auto& [name, shift] : shifts) {
    const auto out = shift(rgb);
    EXPECT_EQ(out.sizes(), rgb.sizes()) << name;
    EXPECT_GE(out.min().item<float>(), 0.0f) << name;
    EXPECT_LE(out.max().item<float>(), 1.0f) << name;
    EXPECT_GT((out - rgb).abs().mean().item<float>(), 0.01f) << name;
  }
  EXPECT_NEAR(shifts[0].second(grey).mean().item<float>(), std::pow(0.5f, 1.8f), 1e-5);  // gamma 1.8 darkens
  const auto warm = shifts[2].second(torch::rand({1, 3, 8, 8}));
  EXPECT_GT(warm.select(1, 0).mean().item<float>(), warm.select(1, 2).mean().item<float>()) << "warm: red over blue";

  auto parsed = parse_estimator_config(nlohmann::json{{"train", {{"photometric", 0.7}}}}, "test");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_FLOAT_EQ(parsed->train.photometric, 0.7f);
  EXPECT_FLOAT_EQ(estimator_config_to_json(*parsed)["train"]["photometric"].get<float>(), 0.7f);
  EXPECT_FLOAT_EQ(small_estimator_config().train.photometric, 0.0f);
}

}  // namespace
}  // namespace cadcrafter::learn
