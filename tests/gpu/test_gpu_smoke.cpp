// GPU smoke run (ctest label "gpu", not in the default suite): a few hundred optimiser steps of
// each learned stage on CUDA with tiny sizes, through the same code the trainers use. Skips
// (GTEST_SKIP) where this build or machine has no CUDA. Build and run on the GPU machine with
// scripts/device_build.sh.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "learn/data/backbone_input.h"
#include "learn/training/ae_trainer.h"
#include "learn/training/checkpoint.h"
#include "learn/training/condition_trainer.h"
#include "learn/training/distributed.h"
#include "../learn/learn_test_data.h"
#include "test_support.h"

using namespace cadcrafter;
using namespace cadcrafter::learn;

namespace {

#define REQUIRE_CUDA()                                                              \
  do {                                                                              \
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device in this build/machine"; \
  } while (0)

AeConfig tiny_ae(int64_t steps) {
  AeConfig c;
  c.model.d_model = 64;
  c.model.n_heads = 4;
  c.model.ff_dim = 128;
  c.model.encoder_layers = 2;
  c.model.decoder_layers = 2;
  c.model.z_dim = 64;
  c.model.arg_embed_dim = 16;
  c.train.batch_size = 32;
  c.train.lr = 2e-3;
  c.train.warmup_steps = 20;
  c.train.max_steps = steps;
  c.train.log_every = 50;
  c.train.val_every = 0;
  c.train.val_limit = 16;
  c.train.checkpoint_every = 100;
  return c;
}

}  // namespace

TEST(GpuSmoke, ParseDeviceFindsCuda) {
  REQUIRE_CUDA();
  auto d = parse_device("cuda");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->is_cuda());
}

TEST(GpuSmoke, AutoencoderTrainsOnCuda) {
  REQUIRE_CUDA();
  cadcrafter::testing::TempDir dir;
  RunContext ctx;
  ctx.run_dir = dir / "ae";
  ctx.device = torch::Device(torch::kCUDA);
  ctx.progress = false;
  auto data = testdata::random_dataset(96, 5);
  auto summary = train_autoencoder(data, tiny_ae(300), ctx);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->steps, 300);
  EXPECT_LT(summary->final_train_loss, 2.0);  // from ~4.7 (log of the classes) at the start
  EXPECT_GT(summary->val.command, 0.5);
  // The weights load back on the CPU and give the same reconstructions there.
  auto on_cpu = load_autoencoder(ctx.run_dir, torch::Device(torch::kCPU));
  auto on_gpu = load_autoencoder(ctx.run_dir, torch::Device(torch::kCUDA));
  ASSERT_TRUE(on_cpu.ok() && on_gpu.ok());
  std::vector<const VecRows*> inputs;
  for (size_t i = 0; i < 8; ++i) inputs.push_back(&data.samples[i].rows);
  auto z_cpu = encode_latents(*on_cpu, inputs, torch::Device(torch::kCPU));
  auto z_gpu = encode_latents(*on_gpu, inputs, torch::Device(torch::kCUDA));
  EXPECT_LT((z_cpu - z_gpu).abs().max().item<double>(), 1e-3);
}

TEST(GpuSmoke, BackboneAndPriorStepOnCuda) {
  REQUIRE_CUDA();
  const torch::Device cuda(torch::kCUDA);
  torch::manual_seed(0);
  // Image backbone regressing fixed targets from fixed images.
  ConvBackboneOptions bo;
  bo.base_channels = 8;
  bo.feature_dim = 32;
  ConvBackbone backbone(bo);
  backbone->to(cuda);
  torch::optim::Adam opt_b(backbone->parameters(), torch::optim::AdamOptions(1e-3));
  auto images = torch::rand({16, 3, 64, 64}).to(cuda);
  auto target = torch::randn({16, 32}).to(cuda);
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    auto loss = torch::mse_loss(backbone->forward(images), target);
    distributed_step(nullptr, loss, *backbone, opt_b, 1.0);
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, 0.5 * first);

  // Geometry encoder + denoiser (the diffusion stage's module) on random features.
  DiffusionConfig dc;
  dc.geometry.feature_dim = 32;
  dc.geometry.d_model = 32;
  dc.geometry.n_heads = 4;
  dc.geometry.ff_dim = 64;
  dc.denoiser.z_dim = 16;
  dc.denoiser.cond_dim = 32;
  dc.denoiser.d_model = 32;
  dc.denoiser.n_heads = 4;
  dc.denoiser.ff_dim = 64;
  dc.denoiser.layers = 2;
  ConditionalPrior prior(dc);
  prior->to(cuda);
  torch::optim::Adam opt_p(prior->parameters(), torch::optim::AdamOptions(1e-3));
  auto features = torch::randn({16, 4, 2, 32}).to(cuda);
  auto present = torch::ones({16, 4}, torch::kBool).to(cuda);
  auto z0 = torch::randn({16, 16}).to(cuda);
  first = last = 0;
  for (int step = 0; step < 200; ++step) {
    auto t = torch::randint(0, 1000, {16}, torch::TensorOptions().dtype(torch::kLong)).to(cuda);
    auto loss = torch::mse_loss(prior->forward(z0 * 0.5, t, features, present), z0);
    distributed_step(nullptr, loss, *prior, opt_p, 1.0);
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, first);
}
