// Noise schedule, samplers, the diffusion/geometry networks and the TorchScript backbone.
#include <torch/script.h>

#include <cmath>
#include <fstream>

#include "learn/training/condition_trainer.h"
#include "learn/networks/geometry_encoder.h"
#include "learn/networks/image_backbone.h"
#include "learn/networks/latent_diffusion.h"
#include "learn/networks/noise_schedule.h"
#include "learn/networks/samplers.h"
#include "test_support.h"

namespace cadcrafter::learn {
namespace {

// A small denoiser over z_dim latents with a 16-wide condition.
LatentDenoiserOptions small_denoiser(int64_t z_dim, int64_t d_model, int64_t n_heads, int64_t layers) {
  LatentDenoiserOptions o;
  o.z_dim = z_dim;
  o.cond_dim = 16;
  o.d_model = d_model;
  o.n_heads = n_heads;
  o.ff_dim = 2 * d_model;
  o.layers = layers;
  return o;
}

TEST(LearnDiffusion, LinearScheduleMatchesDdpm) {
  NoiseSchedule s(1000, "linear");
  EXPECT_NEAR(s.betas()[0].item<double>(), 1e-4, 1e-12);
  EXPECT_NEAR(s.betas()[999].item<double>(), 0.02, 1e-12);
  // abar_T of DDPM's schedule is ~4e-5: the last step is (almost) pure noise.
  EXPECT_LT(s.abar(999), 1e-4);
  EXPECT_GT(s.abar(0), 0.9998);
  NoiseSchedule c(1000, "cosine");
  EXPECT_LT(c.abar(999), 1e-6);
  EXPECT_THROW(NoiseSchedule(1000, "quadratic"), std::invalid_argument);
}

TEST(LearnDiffusion, TimestepsDescendAndCoverTheRange) {
  auto ts = sampling_timesteps(1000, 50);
  ASSERT_EQ(ts.size(), 50u);
  EXPECT_EQ(ts.front(), 999);
  EXPECT_EQ(ts.back(), 0);
  EXPECT_TRUE(std::is_sorted(ts.rbegin(), ts.rend()));
  EXPECT_EQ(sampling_timesteps(1000, 1000).size(), 1000u);
}

// With an oracle denoiser that always answers the same z0, both samplers must land on it:
// DDIM exactly (eta = 0), DDPM too because its last step returns the prediction.
TEST(LearnDiffusion, SamplersReachAnOracleTarget) {
  NoiseSchedule s(1000);
  auto target = torch::linspace(-0.9, 0.9, 8).unsqueeze(0).expand({3, 8}).contiguous();
  Denoiser oracle = [&](const torch::Tensor&, const torch::Tensor&) { return target; };
  SamplerOptions o;
  o.steps = 20;
  EXPECT_TRUE(torch::allclose(sample_ddim(oracle, s, 3, 8, o), target, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(sample_ddpm(oracle, s, 3, 8, o), target, 1e-5, 1e-5));
}

TEST(LearnDiffusion, SamplersAreDeterministicForASeed) {
  torch::manual_seed(0);
  LatentDenoiser net(small_denoiser(16, 32, 4, 1));
  net->eval();
  auto cond = torch::randn({2, 16});
  auto views = torch::randn({2, 4, 16});
  Denoiser d = [&](const torch::Tensor& z, const torch::Tensor& t) { return net->forward(z, t, cond, views); };
  NoiseSchedule s(1000);
  SamplerOptions so;
  so.steps = 10;
  so.seed = 42;
  so.eta = 0.5;
  for (auto sampler : {&sample_ddpm, &sample_ddim}) {
    auto a = sampler(d, s, 2, 16, so, torch::kCPU);
    torch::manual_seed(123);  // the global RNG must not matter
    auto b = sampler(d, s, 2, 16, so, torch::kCPU);
    EXPECT_TRUE(torch::equal(a, b));
    SamplerOptions other = so;
    other.seed = 43;
    EXPECT_FALSE(torch::equal(a, sampler(d, s, 2, 16, other, torch::kCPU)));
    EXPECT_EQ(a.sizes(), (std::vector<int64_t>{2, 16}));
  }
}

TEST(LearnGeometryEncoder, ShapesMaskingAndViewCount) {
  torch::manual_seed(0);
  GeometryEncoderOptions o;
  o.feature_dim = 24;
  o.d_model = 32;
  o.n_heads = 4;
  o.ff_dim = 64;
  o.layers = 2;
  GeometryEncoder enc(o);
  enc->eval();
  auto feats = torch::randn({2, 4, 2, 24});
  auto full = enc->forward(feats);
  EXPECT_EQ(full.condition.sizes(), (std::vector<int64_t>{2, 32}));
  EXPECT_EQ(full.tokens.sizes(), (std::vector<int64_t>{2, 8, 32}));
  // Masking views 1..3 must equal running on view 0 alone (RoPE is relative: position 0 either way).
  auto present = torch::tensor({1, 0, 0, 0}, torch::kBool).unsqueeze(0).expand({2, 4});
  auto masked = enc->forward(feats, present);
  auto single = enc->forward(feats.narrow(1, 0, 1));
  EXPECT_TRUE(torch::allclose(masked.condition, single.condition, 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(full.condition, single.condition, 1e-3, 1e-3));
  EXPECT_NEAR(cosine_distillation_loss(full.condition, full.condition).item<double>(), 0.0, 1e-6);
}

TEST(LearnBackbone, ConvBackboneShapes) {
  ConvBackboneOptions o;
  o.base_channels = 8;
  o.feature_dim = 40;
  ConvBackbone net(o);
  EXPECT_EQ(net->forward(torch::zeros({3, 3, 64, 64})).sizes(), (std::vector<int64_t>{3, 40}));
  ConvFeatureExtractor extractor(net);
  EXPECT_EQ(extractor.feature_dim(), 40);
  EXPECT_EQ(extractor.extract(torch::zeros({1, 3, 32, 32})).size(1), 40);
}

// A tiny TorchScript module written here (mean colour + spatial max per channel -> 6 features)
// stands in for an external backbone such as a traced DINOv2.
TEST(LearnBackbone, LoadsATorchScriptBackbone) {
  testing::TempDir dir;
  torch::jit::Module m("TinyBackbone");
  m.define(R"(
    def forward(self, x):
        return torch.cat([x.mean(dim=[2, 3]), x.amax(dim=[2, 3])], dim=1)
  )");
  m.save(dir / "tiny.pt");
  auto backbone = TorchScriptBackbone::load(dir / "tiny.pt");
  ASSERT_TRUE(backbone.ok()) << backbone.error().message;
  EXPECT_EQ((*backbone)->feature_dim(), 6);
  auto images = torch::rand({2, 3, 16, 16});
  auto f = (*backbone)->extract(images);
  EXPECT_TRUE(torch::allclose(f.narrow(1, 0, 3), images.mean({2, 3})));

  auto missing = TorchScriptBackbone::load(dir / "missing.pt");
  EXPECT_FALSE(missing.ok());
  std::ofstream(dir / "junk.pt") << "not torchscript";
  auto junk = TorchScriptBackbone::load(dir / "junk.pt");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().message.find("not a TorchScript module"), std::string::npos);
  torch::jit::Module bad("Bad");
  bad.define(R"(
    def forward(self, x):
        return x
  )");
  bad.save(dir / "bad.pt");
  EXPECT_FALSE(TorchScriptBackbone::load(dir / "bad.pt").ok());  // returns images, not [1, F]
}

TEST(LearnDiffusion, ShippedConfigsParseAndTyposFail) {
  auto read = [](const std::string& name) {
    std::ifstream in(testing::source_dir() + "/configs/" + name);
    return nlohmann::json::parse(in);
  };
  auto diffusion = parse_diffusion_config(read("diffusion_small.json"), "diffusion_small.json");
  ASSERT_TRUE(diffusion.ok()) << diffusion.error().message;
  EXPECT_EQ(diffusion->diffusion.timesteps, 1000);
  EXPECT_EQ(diffusion->denoiser.cond_dim, diffusion->geometry.d_model);
  auto backbone = parse_backbone_config(read("backbone_small.json"), "backbone_small.json");
  ASSERT_TRUE(backbone.ok()) << backbone.error().message;
  auto typo = parse_diffusion_config(nlohmann::json{{"diffusion", {{"sampler_steps", 5}}}}, "x");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().message.find("sampler_steps"), std::string::npos);
  EXPECT_FALSE(parse_diffusion_config(nlohmann::json{{"diffusion", {{"sampler", "euler"}}}}, "x").ok());
}

// The prior on features: one training step changes the weights, and the output has z's shape.
TEST(LearnDiffusion, ConditionalPriorTrainsOneStep) {
  torch::manual_seed(0);
  DiffusionConfig c;
  c.geometry.feature_dim = 12;
  c.geometry.d_model = 16;
  c.geometry.n_heads = 2;
  c.geometry.ff_dim = 32;
  c.geometry.layers = 1;
  c.denoiser.z_dim = 8;
  c.denoiser.cond_dim = 16;
  c.denoiser.d_model = 16;
  c.denoiser.n_heads = 2;
  c.denoiser.ff_dim = 32;
  c.denoiser.layers = 1;
  ConditionalPrior prior(c);
  NoiseSchedule s(1000);
  auto z0 = torch::rand({4, 8}) * 2 - 1;
  auto t = torch::tensor({0, 10, 500, 999}, torch::kLong);
  auto feats = torch::randn({4, 4, 2, 12});
  auto present = torch::tensor({1, 1, 0, 0}, torch::kBool).unsqueeze(0).expand({4, 4}).contiguous();
  auto pred = prior->forward(s.add_noise(z0, t, torch::randn({4, 8})), t, feats, present);
  EXPECT_EQ(pred.sizes(), z0.sizes());
  torch::optim::Adam opt(prior->parameters(), torch::optim::AdamOptions(1e-3));
  auto before = prior->denoiser->parameters()[0].detach().clone();
  torch::mse_loss(pred, z0).backward();
  opt.step();
  EXPECT_FALSE(torch::equal(before, prior->denoiser->parameters()[0]));
}

// Retrieval augmentation: absent neighbours are masked (the prediction is exactly the one without
// neighbour tokens), present ones change it, and the residual makes the nearest neighbour's latent
// the prediction when the head outputs nothing. The shipped config parses with its neighbours.
TEST(LearnDiffusion, NeighbourTokensAreMaskedAndTheNearestIsTheResidual) {
  torch::manual_seed(3);
  torch::NoGradGuard no_grad;
  LatentDenoiserOptions o = small_denoiser(8, 16, 2, 2);
  o.neighbours = 2;
  LatentDenoiser d(o);
  d->eval();
  auto z = torch::randn({3, 8}), cond = torch::randn({3, 16}), views = torch::randn({3, 4, 16});
  auto t = torch::tensor({5, 300, 900}, torch::kLong);
  auto view_pad = torch::tensor({0, 0, 1, 1}, torch::kBool).unsqueeze(0).expand({3, 4}).contiguous();
  auto nb = torch::randn({3, 2, 8});
  auto none = d->forward(z, t, cond, views, view_pad);
  auto absent = d->forward(z, t, cond, views, view_pad, nb, torch::ones({3, 2}, torch::kBool));
  EXPECT_TRUE(torch::allclose(none, absent, 1e-5, 1e-6)) << (none - absent).abs().max().item<float>();
  auto present = d->forward(z, t, cond, views, view_pad, nb, torch::zeros({3, 2}, torch::kBool));
  EXPECT_GT((present - none).abs().max().item<float>(), 1e-3);
  // Only the second neighbour present: no residual, but its token still counts.
  auto second = d->forward(z, t, cond, views, view_pad, nb, torch::tensor({1, 0}, torch::kBool).unsqueeze(0).expand({3, 2}));
  EXPECT_GT((second - none).abs().max().item<float>(), 1e-4);
  for (auto& p : d->named_parameters())
    if (p.key().rfind("head.", 0) == 0) p.value().zero_();
  auto copy = d->forward(z, t, cond, views, view_pad, nb, torch::zeros({3, 2}, torch::kBool));
  EXPECT_TRUE(torch::allclose(copy, nb.select(1, 0), 1e-6, 1e-6));
  // A model without neighbours ignores them; a bad count in a config is refused.
  o.neighbours = 0;
  LatentDenoiser plain(o);
  EXPECT_TRUE(torch::equal(plain->forward(z, t, cond, views, view_pad), plain->forward(z, t, cond, views, view_pad, nb)));
  std::ifstream in(testing::source_dir() + "/configs/diffusion_rag.json");
  auto rag = parse_diffusion_config(nlohmann::json::parse(in), "diffusion_rag.json");
  ASSERT_TRUE(rag.ok()) << rag.error().message;
  EXPECT_EQ(rag->denoiser.neighbours, 3);
  EXPECT_EQ(rag->diffusion.frame, "view");
  EXPECT_FALSE(parse_diffusion_config(nlohmann::json{{"denoiser", {{"neighbours", -1}}}}, "x").ok());
}

// Sample k of a retrieval-augmented model corrects retrieved part k mod (present parts): the lead
// neighbour rotates over the present ones, the others keep their order, absent ones stay last.
TEST(LearnDiffusion, LeadNeighbourRotatesOverThePresentOnes) {
  auto nb = torch::arange(2 * 3 * 2, torch::kFloat).reshape({2, 3, 2});  // row b, part j: values 6b + 2j, +1
  auto pad = torch::tensor({0, 0, 0, 0, 1, 0}, torch::kBool).reshape({2, 3});  // row 1: part 1 absent
  auto lead_of = [&](int64_t turn) {
    auto [n, p] = lead_neighbours(nb, pad, {turn, turn});
    EXPECT_TRUE(torch::equal(n.sum(1), nb.sum(1)));  // a permutation of each row
    EXPECT_TRUE(torch::equal(p.sum(1), pad.sum(1)));
    return std::make_pair(n, p);
  };
  auto [n0, p0] = lead_of(0);
  EXPECT_TRUE(torch::equal(n0[0], nb[0]));  // turn 0: nothing moves in a full row
  EXPECT_TRUE(torch::equal(n0[1][0], nb[1][0]));
  EXPECT_TRUE(torch::equal(n0[1][1], nb[1][2]));  // ... the absent one goes last
  EXPECT_TRUE(p0[1][2].item<bool>());
  auto [n1, p1] = lead_of(1);
  EXPECT_TRUE(torch::equal(n1[0][0], nb[0][1]));
  EXPECT_TRUE(torch::equal(n1[0][1], nb[0][0]));
  EXPECT_TRUE(torch::equal(n1[0][2], nb[0][2]));
  EXPECT_TRUE(torch::equal(n1[1][0], nb[1][2]));  // the second present part of row 1 is part 2
  EXPECT_FALSE(p1[1][0].item<bool>());
  auto [n5, p5] = lead_of(5);  // 5 mod 3 = 2; 5 mod 2 = 1
  EXPECT_TRUE(torch::equal(n5[0][0], nb[0][2]));
  EXPECT_TRUE(torch::equal(n5[1][0], nb[1][2]));
  auto [na, pa] = lead_neighbours(nb, torch::ones({2, 3}, torch::kBool), {4, 4});  // none present: unchanged
  EXPECT_TRUE(torch::equal(na, nb));
}

}  // namespace
}  // namespace cadcrafter::learn
