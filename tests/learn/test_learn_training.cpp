// The autoencoder's shapes and invariants, overfitting, and checkpoint/resume.
#include <filesystem>
#include <fstream>

#include "learn/training/ae_trainer.h"
#include "learn/networks/cad_autoencoder.h"
#include "learn/training/checkpoint.h"
#include "learn_test_data.h"
#include "test_support.h"

namespace cadcrafter::learn {
namespace {

AutoencoderOptions tiny_options() {
  AutoencoderOptions o;
  o.d_model = 32;
  o.n_heads = 4;
  o.ff_dim = 64;
  o.encoder_layers = 1;
  o.decoder_layers = 2;
  o.z_dim = 32;
  o.arg_embed_dim = 8;
  return o;
}

TEST(LearnAutoencoder, OutputShapes) {
  torch::manual_seed(0);
  CadAutoencoder model(tiny_options());
  std::mt19937 rng(1);
  auto a = testdata::random_vec(rng, 1), b = testdata::random_vec(rng, 2);
  auto batch = make_vec_batch({&a, &b});
  auto out = model->forward(batch.commands, batch.args);
  const int64_t len = batch.commands.size(1);
  EXPECT_EQ(out.z.sizes(), (std::vector<int64_t>{2, 32}));
  EXPECT_EQ(out.command_logits.sizes(), (std::vector<int64_t>{2, len, kNumCommands}));
  EXPECT_EQ(out.args_logits.sizes(), (std::vector<int64_t>{2, len, kNumArgs, kArgClasses}));
  EXPECT_LE(out.z.abs().max().item<float>(), 1.0f);  // tanh bottleneck
  EXPECT_EQ(model->decode(out.z).command_logits.size(1), kMaxSeqLen);
}

// The decoder's causal attention makes a short decode the exact prefix of the full one, and the
// encoder ignores EOS padding: the two facts that let training run only the rows a batch needs.
TEST(LearnAutoencoder, PaddingAndDecodeLengthDoNotChangeResults) {
  torch::manual_seed(0);
  CadAutoencoder model(tiny_options());
  model->eval();
  std::mt19937 rng(2);
  auto v = testdata::random_vec(rng, 2);
  auto short_batch = make_vec_batch({&v});
  auto long_batch = make_vec_batch({&v}, kMaxSeqLen);
  auto z_short = model->encode(short_batch.commands, short_batch.args);
  auto z_long = model->encode(long_batch.commands, long_batch.args);
  EXPECT_TRUE(torch::allclose(z_short, z_long, 1e-5, 1e-6));
  auto full = model->decode(z_short, kMaxSeqLen);
  auto prefix = model->decode(z_short, 12);
  EXPECT_TRUE(torch::allclose(prefix.command_logits, full.command_logits.narrow(1, 0, 12), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(prefix.args_logits, full.args_logits.narrow(1, 0, 12), 1e-5, 1e-5));
}

TEST(LearnAutoencoder, TinyModelOverfitsAHandfulOfSequences) {
  torch::manual_seed(0);
  AutoencoderOptions o = tiny_options();
  o.d_model = 64;
  o.ff_dim = 128;
  o.z_dim = 64;
  CadAutoencoder model(o);
  std::mt19937 rng(7);
  std::vector<VecRows> seqs;
  for (int i = 0; i < 6; ++i) seqs.push_back(testdata::random_vec(rng, 1 + i % 2));
  std::vector<const VecRows*> ptrs;
  for (const auto& s : seqs) ptrs.push_back(&s);
  auto batch = make_vec_batch(ptrs);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < 150; ++step) {
    model->train();
    auto out = model->forward(batch.commands, batch.args);
    auto loss = cad_loss(out.command_logits, out.args_logits, batch);
    opt.zero_grad();
    loss.total.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    opt.step();
  }
  auto predicted = reconstruct(model, ptrs, torch::kCPU);
  std::vector<SequenceAccuracy> per;
  for (size_t i = 0; i < seqs.size(); ++i) per.push_back(sequence_accuracy(predicted[i], seqs[i]));
  auto summary = summarize_accuracy(per);
  EXPECT_EQ(summary.command, 1.0);
  EXPECT_GT(summary.param, 0.5);  // far above chance (~2%): the arguments are being learnt too
}

AeConfig tiny_config(int64_t max_steps) {
  AeConfig c;
  c.model = tiny_options();
  c.train.batch_size = 8;
  c.train.lr = 2e-3;
  c.train.warmup_steps = 3;
  c.train.max_steps = max_steps;
  c.train.log_every = 2;
  c.train.val_every = 4;
  c.train.checkpoint_every = 3;
  return c;
}

std::vector<torch::Tensor> weights_of(const std::string& path) {
  CadAutoencoder model(tiny_options());
  EXPECT_TRUE(load_weights(path, *model).ok());
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

TEST(LearnTraining, ResumeAfterStopContinuesIdentically) {
  torch::set_num_threads(1);
  auto data = testdata::random_dataset(48, 11);
  testing::TempDir dir;
  RunContext straight;
  straight.run_dir = dir / "straight";
  straight.seed = 4;
  straight.progress = false;
  auto a = train_autoencoder(data, tiny_config(10), straight);
  ASSERT_TRUE(a.ok()) << a.error().message;

  RunContext interrupted = straight;
  interrupted.run_dir = dir / "resumed";
  interrupted.stop_after_steps = 5;  // like a kill right after the step-5 checkpoint
  ASSERT_TRUE(train_autoencoder(data, tiny_config(10), interrupted).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "resumed/model.pt"));
  // Without --resume an existing run is refused rather than overwritten.
  RunContext again = interrupted;
  again.stop_after_steps = 0;
  EXPECT_FALSE(train_autoencoder(data, tiny_config(10), again).ok());
  again.resume = true;
  auto b = train_autoencoder(data, tiny_config(10), again);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->steps, 10);

  auto wa = weights_of(dir / "straight/model.pt"), wb = weights_of(dir / "resumed/model.pt");
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i])) << "parameter " << i;

  // The log of the resumed run has each step once, like the straight run's.
  auto count_rows = [](const std::string& path) {
    std::ifstream in(path);
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  };
  EXPECT_EQ(count_rows(dir / "straight/log.csv"), count_rows(dir / "resumed/log.csv"));
}

TEST(LearnTraining, ResumeWithoutCheckpointAndCorruptCheckpointFailCleanly) {
  auto data = testdata::random_dataset(16, 1);
  testing::TempDir dir;
  RunContext ctx;
  ctx.run_dir = dir / "run";
  ctx.resume = true;
  ctx.progress = false;
  auto r = train_autoencoder(data, tiny_config(4), ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nothing to resume"), std::string::npos);

  std::filesystem::create_directories(dir / "run");
  std::ofstream(dir / "run/checkpoint.pt") << "not a checkpoint";
  auto c = train_autoencoder(data, tiny_config(4), ctx);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("checkpoint.pt"), std::string::npos);
}

// train.init_from: a fresh run starts at another run's weights (fine-tuning), and refuses a
// source whose model options differ (its tensors would not fit) or a folder without a model.
TEST(LearnTraining, InitFromStartsAtTheSourceRunsWeights) {
  torch::set_num_threads(1);
  auto data = testdata::random_dataset(24, 5);
  testing::TempDir dir;
  RunContext source;
  source.run_dir = dir / "source";
  source.seed = 2;
  source.progress = false;
  ASSERT_TRUE(train_autoencoder(data, tiny_config(6), source).ok());

  // One step at a negligible learning rate: the weights stay where they started.
  auto config = tiny_config(1);
  config.train.lr = 1e-12;
  config.train.val_every = 0;
  config.train.init_from = dir / "source";
  RunContext tuned = source;
  tuned.run_dir = dir / "tuned";
  tuned.seed = 9;  // another seed: without init_from the start would be another random model
  ASSERT_TRUE(train_autoencoder(data, config, tuned).ok());
  auto ws = weights_of(dir / "source/model.pt"), wt = weights_of(dir / "tuned/model.pt");
  ASSERT_EQ(ws.size(), wt.size());
  for (size_t i = 0; i < ws.size(); ++i) EXPECT_TRUE(torch::allclose(ws[i], wt[i], 0.0, 1e-6)) << "parameter " << i;
  auto saved = load_ae_config(dir / "tuned/config.json");
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->train.init_from, dir / "source");

  config.train.init_from.clear();
  RunContext fresh = tuned;
  fresh.run_dir = dir / "fresh";
  ASSERT_TRUE(train_autoencoder(data, config, fresh).ok());
  auto wf = weights_of(dir / "fresh/model.pt");
  bool differs = false;
  for (size_t i = 0; i < ws.size(); ++i) differs = differs || !torch::allclose(ws[i], wf[i], 0.0, 1e-6);
  EXPECT_TRUE(differs);

  auto wider = config;
  wider.model.d_model = 64;
  wider.train.init_from = dir / "source";
  RunContext mismatch = tuned;
  mismatch.run_dir = dir / "mismatch";
  auto r = train_autoencoder(data, wider, mismatch);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("model options differ"), std::string::npos) << r.error().message;

  config.train.init_from = dir / "nowhere";
  RunContext missing = tuned;
  missing.run_dir = dir / "missing";
  auto m = train_autoencoder(data, config, missing);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("nowhere"), std::string::npos) << m.error().message;
}

}  // namespace
}  // namespace cadcrafter::learn
