// Multi-view -> single-view distillation as its own stage (learn/training/distill_trainer.h): the
// cosine loss on hand-made conditions, the teacher staying frozen, and a few steps pulling a
// student's single-view condition toward a frozen multi-view teacher's.
#include <cmath>

#include "learn/training/distill_trainer.h"
#include "test_support.h"

namespace cadcrafter::learn {
namespace {

DiffusionConfig tiny_config() {
  DiffusionConfig c;
  c.geometry.feature_dim = 6;
  c.geometry.d_model = 16;
  c.geometry.n_heads = 2;
  c.geometry.ff_dim = 32;
  c.geometry.layers = 1;
  c.denoiser.z_dim = 4;
  c.denoiser.cond_dim = 16;
  c.denoiser.d_model = 16;
  c.denoiser.n_heads = 2;
  c.denoiser.ff_dim = 32;
  c.denoiser.layers = 1;
  c.diffusion.max_views = 4;
  return c;
}

TEST(Distill, CosineLossOnHandTensors) {
  // Same direction (scale does not matter) -> 0; 45 degrees -> 1 - 1/sqrt(2) = 0.2928932; mean 0.1464466.
  auto student = torch::tensor({{1.0, 0.0}, {0.0, 1.0}}, torch::kDouble);
  auto teacher = torch::tensor({{2.0, 0.0}, {1.0, 1.0}}, torch::kDouble);
  EXPECT_NEAR(cosine_distillation_loss(student, teacher).item<double>(), 0.1464466, 1e-7);
  EXPECT_NEAR(cosine_distillation_loss(-student, teacher).item<double>(), 2.0 - 0.1464466, 1e-7);  // opposite: 1 - (-cos)
}

// A batch of `b` parts with 4 views: the student sees view 0 alone, the teacher all four.
DistillBatch batch_of(const torch::Tensor& features, const torch::Tensor& z0) {
  const int64_t b = features.size(0);
  DistillBatch batch;
  batch.teacher_features = features;
  batch.teacher_present = torch::ones({b, 4}, torch::kBool);
  batch.student_features = torch::zeros_like(features);
  batch.student_features.select(1, 0).copy_(features.select(1, 0));
  batch.student_present = torch::zeros({b, 4}, torch::kBool);
  batch.student_present.select(1, 0).fill_(true);
  batch.z0 = z0;
  return batch;
}

TEST(Distill, LossesAreTheWeightedTermsAndTheTeacherStaysFrozen) {
  torch::manual_seed(0);
  ConditionalPrior student(tiny_config());
  GeometryEncoder teacher(tiny_config().geometry);
  NoiseSchedule schedule(100);
  const auto batch = batch_of(torch::randn({8, 4, 2, 6}), torch::rand({8, 4}) * 2 - 1);
  auto cos_only = distill_losses(student, &teacher, schedule, batch, 2.0, 0.0);
  const double expected = cosine_distillation_loss(student->geometry->forward(batch.student_features, batch.student_present).condition,
                                                   teacher->forward(batch.teacher_features, batch.teacher_present).condition)
                              .item<double>();
  EXPECT_GT(expected, 0.0);
  EXPECT_NEAR(cos_only.cosine.item<double>(), expected, 1e-6);
  EXPECT_NEAR(cos_only.total.item<double>(), 2.0 * expected, 1e-6);
  EXPECT_EQ(cos_only.diffusion.item<double>(), 0.0);
  cos_only.total.backward();
  for (const auto& p : teacher->parameters()) EXPECT_FALSE(p.grad().defined());
  EXPECT_TRUE(student->geometry->parameters().front().grad().defined());
  // Scratch mode: no teacher, the diffusion term alone.
  auto scratch = distill_losses(student, nullptr, schedule, batch, 1.0, 1.0);
  EXPECT_EQ(scratch.cosine.item<double>(), 0.0);
  EXPECT_GT(scratch.diffusion.item<double>(), 0.0);
  EXPECT_NEAR(scratch.total.item<double>(), scratch.diffusion.item<double>(), 1e-7);
}

TEST(Distill, AFewStepsPullTheSingleViewConditionToTheTeacher) {
  torch::manual_seed(1);
  ConditionalPrior student(tiny_config());
  GeometryEncoder teacher(tiny_config().geometry);
  teacher->eval();
  NoiseSchedule schedule(100);
  const auto train = batch_of(torch::randn({32, 4, 2, 6}), torch::rand({32, 4}) * 2 - 1);
  auto cosine_now = [&] {
    torch::NoGradGuard no_grad;
    return distill_losses(student, &teacher, schedule, train, 1.0, 0.0).cosine.item<double>();
  };
  const double before = cosine_now();
  torch::optim::Adam opt(student->parameters(), torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < 40; ++step) {
    auto l = distill_losses(student, &teacher, schedule, train, 1.0, 1.0);
    opt.zero_grad();
    l.total.backward();
    opt.step();
  }
  const double after = cosine_now();
  EXPECT_LT(after, 0.5 * before) << before << " -> " << after;
}

TEST(Distill, OptionsAreChecked) {
  DistillOptions o;
  o.train = default_distill_train_options();
  EXPECT_TRUE(validate_distill_options(o).ok());
  o.mode = "both";
  EXPECT_FALSE(validate_distill_options(o).ok());
  o.mode = "scratch";
  o.diffusion_weight = 0.0;
  EXPECT_FALSE(validate_distill_options(o).ok());
  o.mode = "distill";
  o.distill_weight = 0.0;
  EXPECT_FALSE(validate_distill_options(o).ok());
  EXPECT_EQ(distill_options_to_json(DistillOptions{"scratch", "teacher", 1.0, 1.0, 8, 0, {}})["distill_weight"], 0.0);
}

}  // namespace
}  // namespace cadcrafter::learn
