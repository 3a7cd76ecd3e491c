// The shape-level feature objective and its metrics (learn/training/contrastive.h): InfoNCE, identity
// retrieval, the compact view cache and mirroring.
#include <gtest/gtest.h>

#include "learn/training/contrastive.h"

namespace cadcrafter::learn {
namespace {

TEST(InfoNce, LowForMatchedPairsHighForShuffledOnes) {
  torch::manual_seed(0);
  auto a = torch::randn({16, 8});
  const double matched = info_nce_loss(a, a + 0.01 * torch::randn({16, 8}), 0.1).item<double>();
  const double shuffled = info_nce_loss(a, a.flip({0}), 0.1).item<double>();
  EXPECT_LT(matched, 0.5);
  EXPECT_GT(shuffled, std::log(16.0) * 0.9);  // worse than chance (log B) when the pairs are wrong
  // Symmetric in its arguments, and a scale of the embeddings does not matter (cosine).
  auto b = torch::randn({16, 8});
  EXPECT_NEAR(info_nce_loss(a, b, 0.2).item<double>(), info_nce_loss(b, a, 0.2).item<double>(), 1e-5);
  EXPECT_NEAR(info_nce_loss(a * 3.0, b, 0.2).item<double>(), info_nce_loss(a, b, 0.2).item<double>(), 1e-5);
  // Gradients reach both sides.
  auto x = a.clone().requires_grad_(true);
  info_nce_loss(x, b, 0.1).backward();
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
}

TEST(IdentityRetrieval, CountsTop1AndTop5) {
  torch::manual_seed(1);
  auto q = torch::randn({20, 32});
  auto r = identity_retrieval(q, q + 0.001 * torch::randn({20, 32}));
  EXPECT_EQ(r.queries, 20);
  EXPECT_DOUBLE_EQ(r.top1, 1.0);
  EXPECT_DOUBLE_EQ(r.top5, 1.0);
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(r.nearest[static_cast<size_t>(i)], i);
  // Gallery rolled by one: every query's best match is its neighbour, never itself.
  auto rolled = identity_retrieval(q, q.roll(1, 0));
  EXPECT_DOUBLE_EQ(rolled.top1, 0.0);
  EXPECT_EQ(rolled.nearest[0], 1);
  // Half the gallery replaced by unrelated vectors: top-1 counts only the intact half.
  auto g = q.clone();
  g.narrow(0, 0, 10).copy_(torch::randn({10, 32}));
  auto half = identity_retrieval(q, g);
  EXPECT_GE(half.top1, 0.5);
  EXPECT_LE(half.top1, 0.5 + 1e-9 + 10.0 / 20.0);
  EXPECT_GE(half.top5, half.top1);
}

TEST(ViewEmbedding, AveragesModalitiesAndViewsThenNormalises) {
  auto f = torch::zeros({1, 2, 2, 3});
  f[0][0][0] = torch::tensor({1.0f, 0.0f, 0.0f});
  f[0][0][1] = torch::tensor({0.0f, 1.0f, 0.0f});
  f[0][1][0] = torch::tensor({1.0f, 0.0f, 0.0f});
  f[0][1][1] = torch::tensor({0.0f, 1.0f, 0.0f});
  auto e = multi_view_embedding(f);
  const double s = 1.0 / std::sqrt(2.0);
  EXPECT_NEAR(e[0][0].item<double>(), s, 1e-6);
  EXPECT_NEAR(e[0][1].item<double>(), s, 1e-6);
  EXPECT_NEAR(e[0][2].item<double>(), 0.0, 1e-6);
}

TEST(SpreadViews, OneViewPerStrideDeterministic) {
  for (uint64_t seed : {0ULL, 7ULL, 123456789ULL}) {
    const auto v = spread_views(seed, 32, 8);
    ASSERT_EQ(v.size(), 8u);
    for (size_t k = 0; k < v.size(); ++k) {
      EXPECT_GE(v[k], static_cast<int64_t>(4 * k));  // the k-th view lies in the k-th stride of 4
      EXPECT_LT(v[k], static_cast<int64_t>(4 * k + 4));
    }
    EXPECT_EQ(v, spread_views(seed, 32, 8));
  }
  EXPECT_EQ(spread_views(3, 2, 4), (std::vector<int64_t>{0, 1, 0, 1}));  // more wanted than there are: cycles
}

TEST(ViewCache, Uint8RoundTripKeepsBackgroundExactAndValuesWithinHalfAStep) {
  torch::manual_seed(2);
  auto depth = torch::rand({3, 1, 8, 8}) * 2 - 1;
  auto normal = torch::nn::functional::normalize(torch::randn({3, 3, 8, 8}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto mask = torch::rand({3, 1, 8, 8}).gt(0.3).to(torch::kFloat);
  auto views = torch::stack({(depth * mask).expand({3, 3, 8, 8}), normal * mask}, 1);  // [3, 2, 3, 8, 8]
  auto stored = encode_views(views);
  EXPECT_EQ(stored.scalar_type(), torch::kUInt8);
  EXPECT_EQ(stored.sizes(), (std::vector<int64_t>{3, 4, 8, 8}));
  auto back = decode_views(stored);
  EXPECT_EQ(back.sizes(), views.sizes());
  EXPECT_LE((back - views).abs().max().item<double>(), 0.5 / 127.0 + 1e-6);
  // Background is exactly zero after the round trip.
  auto bg = mask.eq(0).expand({3, 1, 8, 8});
  EXPECT_EQ(back.select(1, 1).narrow(1, 0, 1).masked_select(bg).abs().sum().item<double>(), 0.0);
}

TEST(MirrorViews, FlipsColumnsAndTheNormalsXAndIsAnInvolution) {
  torch::manual_seed(3);
  auto v = torch::randn({2, 2, 3, 4, 4});
  auto flip = torch::tensor({1, 0});
  auto m = mirror_views(v, flip);
  EXPECT_TRUE(m[1].equal(v[1]));  // not flipped
  EXPECT_TRUE(m[0][0].equal(v[0][0].flip({2})));  // depth mirrored
  EXPECT_TRUE(m[0][1][0].equal(-v[0][1][0].flip({1})));  // normal x mirrored and negated
  EXPECT_TRUE(m[0][1][1].equal(v[0][1][1].flip({1})));
  EXPECT_TRUE(mirror_views(m, flip).equal(v));
}

TEST(EstimatorLike, BlursAndBendsOnlyTheObjectAndKeepsUnitNormals) {
  torch::manual_seed(4);
  const int64_t s = 32;
  auto mask = torch::zeros({1, 1, s, s});
  mask.narrow(2, 8, 16).narrow(3, 8, 16).fill_(1.0);
  // A flat face seen at an angle: one constant normal and a depth ramp.
  auto normal = (torch::tensor({0.6f, 0.0f, -0.8f}).view({1, 3, 1, 1}) * mask).expand({2, 3, s, s}).clone();
  auto depth = (torch::linspace(-0.5, 0.5, s).view({1, 1, 1, s}) * mask).expand({2, 3, s, s}).clone();
  auto views = torch::stack({depth, normal}, 1);  // [2, 2, 3, s, s]
  auto out = estimator_like(views, torch::tensor({1, 0}));
  EXPECT_TRUE(out[1].equal(views[1]));  // not applied: unchanged
  auto bg = mask[0][0].eq(0);
  EXPECT_EQ(out[0].abs().sum(0).sum(0).masked_select(bg).sum().item<double>(), 0.0);  // background stays 0
  auto len = out[0][1].pow(2).sum(0).sqrt().masked_select(mask[0][0].gt(0));
  EXPECT_NEAR(len.min().item<double>(), 1.0, 1e-4);
  EXPECT_NEAR(len.max().item<double>(), 1.0, 1e-4);
  // The flat face no longer has one normal: it is shaded like a curved one.
  auto nx = out[0][1][0].masked_select(mask[0][0].gt(0));
  EXPECT_GT((nx.max() - nx.min()).item<double>(), 0.05);
  // Depth channels stay identical copies.
  EXPECT_TRUE(out[0][0][0].equal(out[0][0][2]));
}

}  // namespace
}  // namespace cadcrafter::learn
