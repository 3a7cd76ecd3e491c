// The learned path end to end at toy size: a dataset of generated parts -> autoencoder ->
// backbone -> latent diffusion -> CadGenerator -> `reconstruct --candidates diffusion` from a
// weights folder laid out like the shipped models/ (relative paths between runs). Sizes are tiny
// so it runs in seconds; what it checks is the plumbing and the contracts (shapes, determinism,
// files), not model quality, which bench/ and docs/models.md measure. Also the backbone input's
// invariants (framing, depth scale/shift invariance).
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "app/reconstruct.h"
#include "data/dataset.h"
#include "learn/data/backbone_input.h"
#include "learn/inference/cad_generator.h"
#include "learn/training/condition_trainer.h"
#include "learn/data/framing.h"
#include "learn/inference/part_index.h"
#include "learn/data/vec_dataset.h"
#include "render/image_io.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter {
namespace {

namespace fs = std::filesystem;
using cadcrafter::testing::TempDir;

// A disc of radius r (pixels) centred at (cx, cy) in an n x n image, depth a tilted plane.
struct Disc {
  torch::Tensor depth, normal, mask;
};
Disc disc(int n, float cx, float cy, float r) {
  auto ys = torch::arange(n, torch::kFloat).view({n, 1}).expand({n, n});
  auto xs = torch::arange(n, torch::kFloat).view({1, n}).expand({n, n});
  Disc d;
  d.mask = ((xs - cx).pow(2) + (ys - cy).pow(2)).le(r * r).to(torch::kFloat);
  d.depth = 2.0f + 0.01f * (xs - cx);
  d.normal = torch::stack({torch::full({n, n}, 0.6f), torch::zeros({n, n}), torch::full({n, n}, -0.8f)});
  return d;
}

TEST(BackboneInput, FramesTheObjectAndIgnoresDepthScaleAndShift) {
  const Disc a = disc(128, 40, 90, 12);
  auto v = learn::backbone_view(a.depth, a.normal, a.mask, 32);
  ASSERT_EQ(v.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  // Framed: the object spans the box minus the margins, centred, wherever it was in the image.
  auto on = v[1][2].ne(0).to(torch::kFloat);
  auto cols = on.sum(0).gt(0).nonzero();
  const double span = static_cast<double>(cols.size(0));
  EXPECT_NEAR(span, 32.0 / (1.0 + 2.0 * learn::kFramingMargin), 2.0);
  EXPECT_NEAR((cols.min().item<double>() + cols.max().item<double>()) / 2.0, 15.5, 1.0);
  // Depth: zero mean on the object, within [-1, 1], background zero.
  auto depth = v[0][0];
  EXPECT_NEAR((depth * on).sum().item<double>() / on.sum().item<double>(), 0.0, 1e-4);
  EXPECT_LE(depth.abs().max().item<double>(), 1.0 + 1e-6);
  EXPECT_EQ((depth * (1 - on)).abs().max().item<double>(), 0.0);
  // The estimator's depth is known only up to scale and shift: the input must not depend on them.
  auto w = learn::backbone_view(a.depth * 7.0 - 3.0, a.normal, a.mask, 32);
  EXPECT_LT((w - v).abs().max().item<double>(), 1e-4);
  // No object: zeros, not NaNs.
  auto empty = learn::backbone_view(a.depth, a.normal, torch::zeros({128, 128}), 32);
  EXPECT_EQ(empty.abs().sum().item<double>(), 0.0);
}

class LearnedPipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    const std::string root = tmp_->path();
    DatasetBuildOptions build;
    build.sources = {*parse_dataset_source("synth:10")};
    build.out_dir = root + "/data";
    build.sets = 2;
    build.size = 32;
    build.progress = false;
    auto built = build_dataset(build);
    ASSERT_TRUE(built.ok()) << built.error().message;

    learn::RunContext ctx;
    ctx.progress = false;
    ctx.seed = 3;
    learn::AeConfig ae;
    ae.model = {16, 2, 32, 1, 1, 16, 4, 0.0};
    ae.train.batch_size = 4;
    ae.train.max_steps = 4;
    ae.train.warmup_steps = 1;
    ae.train.log_every = 2;
    ae.train.val_every = 0;
    ae.train.checkpoint_every = 2;
    auto vecs = learn::load_vec_dataset(root + "/data");
    ASSERT_TRUE(vecs.ok()) << vecs.error().message;
    ctx.run_dir = root + "/models/ae_small";
    ASSERT_TRUE(learn::train_autoencoder(*vecs, ae, ctx).ok());

    learn::ConditionRunContext cctx;
    cctx.progress = false;
    cctx.seed = 3;
    cctx.ae_run = root + "/models/ae_small";
    cctx.run_dir = root + "/models/backbone";
    learn::BackboneConfig bb;
    bb.backbone = {4, 8};
    bb.image_size = 32;
    bb.views_per_sample = 2;
    bb.train.batch_size = 4;
    bb.train.max_steps = 3;
    bb.train.log_every = 1;
    bb.train.checkpoint_every = 3;
    auto b = learn::train_backbone(root + "/data", bb, cctx);
    ASSERT_TRUE(b.ok()) << b.error().message;

    auto dj = nlohmann::json::parse(R"({
      "geometry": {"d_model": 16, "n_heads": 2, "ff_dim": 32, "layers": 1},
      "denoiser": {"d_model": 16, "n_heads": 2, "ff_dim": 32, "layers": 1},
      "diffusion": {"max_views": 4, "feature_sets": 1, "timesteps": 100, "sample_steps": 4, "frame": "view"},
      "train": {"batch_size": 4, "max_steps": 3, "log_every": 1, "checkpoint_every": 3, "val_every": 0}})");
    auto dc = learn::parse_diffusion_config(dj, "test");
    ASSERT_TRUE(dc.ok()) << dc.error().message;
    cctx.run_dir = root + "/models/diffusion";
    cctx.backbone = root + "/models/backbone";
    auto d = learn::train_diffusion(root + "/data", *dc, cctx);
    ASSERT_TRUE(d.ok()) << d.error().message;
    // The view frame's inputs are cached with the features: the views' azimuths.
    std::vector<torch::Tensor> cached;
    torch::load(cached, root + "/models/diffusion/features.pt");
    ASSERT_EQ(cached.size(), 4u);
    EXPECT_EQ(cached[2].sizes(), (std::vector<int64_t>{cached[0].size(0), cached[0].size(1)}));
    EXPECT_GE(cached[2].min().item<float>(), 0.0f);
    EXPECT_LT(cached[2].max().item<float>(), 360.0f);
    // Ship it the way models/ is laid out: paths relative to the diffusion folder.
    auto text = read_file(root + "/models/diffusion/config.json");
    ASSERT_TRUE(text.ok());
    auto cfg = nlohmann::json::parse(*text);
    cfg["ae_run"] = "../ae_small";
    cfg["backbone"] = "../backbone";
    ASSERT_TRUE(write_file_atomically(root + "/models/diffusion/config.json", cfg.dump(2)));

    // A contrastive backbone (no autoencoder needed) and a part index over the same parts (outside
    // models/, so the tests of `auto` without retrieval keep their meaning).
    learn::BackboneConfig cb = bb;
    cb.objective = "contrastive";
    cb.views_per_sample = 4;
    cctx.ae_run.clear();
    cctx.run_dir = root + "/models/shape_backbone";
    auto c = learn::train_backbone(root + "/data", cb, cctx);
    ASSERT_TRUE(c.ok()) << c.error().message;
    learn::PartIndexBuildOptions io;
    io.dataset = root + "/data";
    io.splits = {"train", "val"};
    io.backbone = root + "/models/shape_backbone";
    io.out_dir = root + "/index";
    io.views_per_model = 2;
    io.threads = 1;
    io.progress = false;
    auto built_index = learn::build_part_index(io);
    ASSERT_TRUE(built_index.ok()) << built_index.error().message;
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  static learn::GeometryMaps maps_of_sample(int view) {
    auto reader = DatasetReader::open(tmp_->path() + "/data");
    EXPECT_TRUE(reader.ok());
    auto s = reader->get(0);
    EXPECT_TRUE(s.ok());
    learn::GeometryMaps m;
    m.size = s->size;
    const size_t n = static_cast<size_t>(s->size) * s->size, off = n * view;
    for (size_t i = 0; i < n; ++i) {
      m.depth.push_back(static_cast<float>(s->depth[off + i]) / 10000.0f);
      m.mask.push_back(s->mask[off + i] > 127 ? 1.0f : 0.0f);
      for (int c = 0; c < 3; ++c) m.normal.push_back(static_cast<float>(s->normal[(off + i) * 3 + c]) / 127.5f - 1.0f);
    }
    return m;
  }
  // Depth/normal PNGs of sample 0's first view in `dir`, as `cadcrafter render` writes them.
  static void write_first_view(const std::string& dir) {
    auto reader = DatasetReader::open(tmp_->path() + "/data");
    ASSERT_TRUE(reader.ok());
    auto s = reader->get(0);
    ASSERT_TRUE(s.ok());
    const int n = s->size;
    Image16 depth{n, n, 1, std::vector<uint16_t>(s->depth.begin(), s->depth.begin() + n * n)};
    Image8 normal{n, n, 3, std::vector<uint8_t>(s->normal.begin(), s->normal.begin() + n * n * 3)};
    fs::create_directories(dir);
    ASSERT_TRUE(write_png(dir + "/v_depth.png", depth));
    ASSERT_TRUE(write_png(dir + "/v_normal.png", normal));
  }
  static TempDir* tmp_;
};
TempDir* LearnedPipeline::tmp_ = nullptr;

TEST_F(LearnedPipeline, GeneratorIsDeterministicAndWellFormed) {
  auto g = learn::CadGenerator::load(tmp_->path() + "/models/diffusion");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->max_views(), 4);
  EXPECT_EQ(g->weight_files().size(), 3u);
  for (const auto& f : g->weight_files()) EXPECT_TRUE(fs::is_regular_file(f)) << f;
  const std::vector<learn::GeometryMaps> two = {maps_of_sample(0), maps_of_sample(1)};
  auto a = g->generate(two, 3, 11);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_EQ(a->size(), 3u);
  for (const auto& vec : *a) {
    ASSERT_FALSE(vec.empty());
    EXPECT_LE(vec.size(), static_cast<size_t>(kMaxTotalLen));
    EXPECT_EQ(vec.back()[0], 3);  // EOS
  }
  auto b = g->generate(two, 3, 11);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_TRUE(g->generate(two, 2, 11, 2).ok());  // a step count of its own
  // Too many views or inconsistent maps: an error, not a crash.
  std::vector<learn::GeometryMaps> five(5, two[0]);
  EXPECT_FALSE(g->generate(five, 1, 0).ok());
  auto broken = two[0];
  broken.normal.resize(3);
  EXPECT_FALSE(g->generate({broken}, 1, 0).ok());
  EXPECT_FALSE(learn::CadGenerator::load(tmp_->path() + "/nowhere").ok());
}

TEST_F(LearnedPipeline, PartIndexRanksKnownPartsDeterministically) {
  auto index = learn::PartIndex::load(tmp_->path() + "/index");
  ASSERT_TRUE(index.ok()) << index.error().message;
  auto reader = DatasetReader::open(tmp_->path() + "/data");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(index->size(), static_cast<int64_t>(reader->size()));
  EXPECT_EQ(index->feature_dim(), 8);
  for (const auto& f : index->weight_files()) EXPECT_TRUE(fs::is_regular_file(f)) << f;
  const std::vector<learn::GeometryMaps> views = {maps_of_sample(0), maps_of_sample(1)};
  auto a = index->nearest(views, 3);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_EQ(a->size(), 3u);
  for (size_t i = 0; i < a->size(); ++i) {
    const auto& p = (*a)[i];
    if (i > 0) {
      EXPECT_LE(p.similarity, (*a)[i - 1].similarity);
    }
    EXPECT_LE(p.similarity, 1.0 + 1e-5);
    // The stored vector is the part's own: it matches the dataset's and decodes.
    auto s = reader->get(static_cast<size_t>(p.index), false);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(p.id, s->info.id);
    EXPECT_EQ(p.vec.size(), static_cast<size_t>(s->info.vec_len));
    EXPECT_TRUE(decode(p.vec).ok());
  }
  auto b = index->nearest(views, 3);
  ASSERT_TRUE(b.ok());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*a)[i].id, (*b)[i].id);
  auto all = index->nearest(views, 1000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(static_cast<int64_t>(all->size()), index->size());
  EXPECT_FALSE(index->nearest({}, 3).ok());
  // An index is never replaced without being asked to.
  learn::PartIndexBuildOptions io;
  io.dataset = tmp_->path() + "/data";
  io.backbone = tmp_->path() + "/models/shape_backbone";
  io.out_dir = tmp_->path() + "/index";
  io.progress = false;
  EXPECT_FALSE(learn::build_part_index(io).ok());
  EXPECT_FALSE(learn::PartIndex::load(tmp_->path() + "/models/diffusion").ok());
}

TEST_F(LearnedPipeline, ReconstructPoolsRetrievalAndDiffusion) {
  const std::string in = tmp_->path() + "/in_pool";
  write_first_view(in);
  // A weights folder with both learned sources, as models/ ships them.
  const std::string weights = tmp_->path() + "/models_pool";
  fs::copy(tmp_->path() + "/models", weights, fs::copy_options::recursive);
  fs::copy(tmp_->path() + "/index", weights + "/retrieval", fs::copy_options::recursive);
  auto cfg = nlohmann::json::parse(*read_file(weights + "/retrieval/config.json"));
  cfg["backbone"] = "../shape_backbone";  // shipped paths are relative to the index folder
  ASSERT_TRUE(write_file_atomically(weights + "/retrieval/config.json", cfg.dump(2)));
  app::ReconstructParams p;
  p.inputs = {in + "/v_depth.png"};
  p.input_kind = app::InputKind::kDepthNormal;
  p.weights_dir = weights;
  p.output = tmp_->path() + "/out_pool";
  p.samples = 3;
  p.steps = 3;
  p.threads = 1;
  auto r = app::reconstruct(p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source, "retrieval+latent-diffusion");
  auto text = read_file(p.output + "/index.json");
  ASSERT_TRUE(text.ok());
  auto index = nlohmann::json::parse(*text);
  ASSERT_EQ(index["source"]["sources"].size(), 2u);
  bool any_retrieval = false;
  for (const auto& c : index["ranking"]) {
    const std::string src = c["source"];
    EXPECT_TRUE(src == "retrieval" || src == "diffusion" || src == "procedural") << src;
    any_retrieval = any_retrieval || src == "retrieval";
    const int k = c["quarter_turns_to_view_frame"];
    EXPECT_GE(k, 0);
    EXPECT_LE(k, 3);
  }
  EXPECT_TRUE(any_retrieval);  // retrieved parts always build: at least one is ranked
  // --candidates retrieval alone.
  p.candidates = "retrieval";
  p.output = tmp_->path() + "/out_retrieval";
  auto only = app::reconstruct(p);
  ASSERT_TRUE(only.ok()) << only.error().message;
  EXPECT_EQ(only->source, "retrieval");
}

TEST_F(LearnedPipeline, ReconstructUsesTheDiffusionModel) {
  // Depth/normal inputs as `cadcrafter render` writes them.
  const std::string in = tmp_->path() + "/in";
  write_first_view(in);

  app::ReconstructParams p;
  p.inputs = {in + "/v_depth.png"};
  p.input_kind = app::InputKind::kDepthNormal;
  p.weights_dir = tmp_->path() + "/models";
  p.samples = 3;
  p.steps = 4;
  p.seed = 5;
  p.output = tmp_->path() + "/out1";
  auto r = app::reconstruct(p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source, "latent-diffusion");
  EXPECT_EQ(r->ranking.size(), 3u);
  EXPECT_GE(r->proposals, 16);
  auto run = nlohmann::json::parse(*read_file(p.output + "/run.json"));
  EXPECT_EQ(run["candidate_source"]["name"], "latent-diffusion");
  EXPECT_EQ(run["candidate_source"]["weights"].size(), 3u);
  EXPECT_EQ(run["options"]["steps_used"], true);
  for (const auto& c : r->ranking) {
    EXPECT_TRUE(fs::is_regular_file(p.output + "/" + c.folder + "/report.json"));
    EXPECT_TRUE(fs::is_regular_file(p.output + "/" + c.folder + "/sequence.h5"));  // the raw generated vector
    if (c.valid) {
      EXPECT_TRUE(fs::is_regular_file(p.output + "/" + c.folder + "/model.step"));
    }
  }
  // A toy model builds few valid solids: `auto` tops the pool up from the procedural search
  // so the best candidates are real CAD models, and says so.
  const auto index = nlohmann::json::parse(*read_file(p.output + "/index.json"));
  EXPECT_EQ(index["procedural_fallback_proposals"], r->fallback_proposals);
  if (r->fallback_proposals > 0) {
    EXPECT_TRUE(r->ranking[0].valid);
    EXPECT_NE(read_file(p.output + "/index.md")->find("fallback"), std::string::npos);
  }
  // Same seed, same ranking.
  p.output = tmp_->path() + "/out2";
  ASSERT_TRUE(app::reconstruct(p).ok());
  EXPECT_EQ(*read_file(tmp_->path() + "/out1/index.json"), *read_file(tmp_->path() + "/out2/index.json"));
  // Asking for the learned source explicitly: no fallback.
  p.candidates = "diffusion";
  p.output = tmp_->path() + "/out4";
  auto only = app::reconstruct(p);
  ASSERT_TRUE(only.ok()) << only.error().message;
  EXPECT_EQ(only->fallback_proposals, 0);
  for (const auto& c : only->ranking) EXPECT_EQ(c.origin.find("fallback"), std::string::npos);
  // Forcing the learned source without a model names the problem.
  p.weights_dir = tmp_->path() + "/in";
  p.candidates = "diffusion";
  p.output = tmp_->path() + "/out3";
  auto missing = app::reconstruct(p);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("diffusion"), std::string::npos);
  EXPECT_FALSE(fs::exists(p.output));
}

// Retrieval-augmented diffusion (configs/diffusion_rag.json at toy size): trained with the shape
// backbone the part index uses, it takes neighbour latents; the generator uses the parts it is given
// (deterministically), and reconstruct hands it the index's nearest parts, turned to face the photo.
TEST_F(LearnedPipeline, RetrievalAugmentedDiffusionEditsNeighbours) {
  const std::string root = tmp_->path() + "/models_rag";
  fs::create_directories(root);
  fs::copy(tmp_->path() + "/models/ae_small", root + "/ae_small", fs::copy_options::recursive);
  fs::copy(tmp_->path() + "/models/shape_backbone", root + "/shape_backbone", fs::copy_options::recursive);
  fs::copy(tmp_->path() + "/index", root + "/retrieval", fs::copy_options::recursive);
  auto icfg = nlohmann::json::parse(*read_file(root + "/retrieval/config.json"));
  icfg["backbone"] = "../shape_backbone";
  ASSERT_TRUE(write_file_atomically(root + "/retrieval/config.json", icfg.dump(2)));
  auto dj = nlohmann::json::parse(R"({
    "geometry": {"d_model": 16, "n_heads": 2, "ff_dim": 32, "layers": 1},
    "denoiser": {"d_model": 16, "n_heads": 2, "ff_dim": 32, "layers": 1, "neighbours": 2},
    "diffusion": {"max_views": 4, "feature_sets": 1, "timesteps": 100, "sample_steps": 4, "frame": "view",
                  "neighbour_dropout": 0.2},
    "train": {"batch_size": 4, "max_steps": 3, "log_every": 1, "checkpoint_every": 3, "val_every": 3}})");
  auto dc = learn::parse_diffusion_config(dj, "test");
  ASSERT_TRUE(dc.ok()) << dc.error().message;
  learn::ConditionRunContext cctx;
  cctx.progress = false;
  cctx.seed = 4;
  cctx.ae_run = root + "/ae_small";
  cctx.backbone = root + "/shape_backbone";
  cctx.run_dir = root + "/diffusion";
  auto d = learn::train_diffusion(tmp_->path() + "/data", *dc, cctx);
  ASSERT_TRUE(d.ok()) << d.error().message;

  auto g = learn::CadGenerator::load(root + "/diffusion");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->neighbours(), 2);
  EXPECT_EQ(g->describe()["neighbours"], 2);
  auto index = learn::PartIndex::load(root + "/retrieval");
  ASSERT_TRUE(index.ok()) << index.error().message;
  const std::vector<learn::GeometryMaps> views = {maps_of_sample(0)};
  auto near = index->nearest(views, 2);
  ASSERT_TRUE(near.ok());
  const std::vector<CadVec> parts = {(*near)[0].vec, (*near)[1].vec};
  auto with = g->generate(views, 2, 7, 0, parts);
  auto again = g->generate(views, 2, 7, 0, parts);
  auto without = g->generate(views, 2, 7);
  auto other = g->generate(views, 2, 7, 0, {(*near)[1].vec, (*near)[0].vec});
  ASSERT_TRUE(with.ok() && again.ok() && without.ok() && other.ok());
  EXPECT_EQ(*with, *again);
  for (const auto& vec : *with) EXPECT_EQ(vec.back()[0], 3);  // EOS
  // The neighbours reach the network: the nearest one is the residual, so swapping changes the latents.
  EXPECT_TRUE(*with != *without || *with != *other);

  const std::string in = tmp_->path() + "/in_rag";
  write_first_view(in);
  app::ReconstructParams p;
  p.inputs = {in + "/v_depth.png"};
  p.input_kind = app::InputKind::kDepthNormal;
  p.weights_dir = root;
  p.candidates = "diffusion";
  p.output = tmp_->path() + "/out_rag";
  p.samples = 2;
  p.steps = 3;
  p.threads = 1;
  p.refine = false;
  auto r = app::reconstruct(p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto run = nlohmann::json::parse(*read_file(p.output + "/run.json"));
  EXPECT_TRUE(run["candidate_source"]["neighbours_from"].is_object()) << run["candidate_source"].dump();
  bool edited = false;
  for (const auto& c : r->ranking) edited = edited || c.origin.find("edited from 2 retrieved") != std::string::npos;
  EXPECT_TRUE(edited);
}

}  // namespace
}  // namespace cadcrafter
