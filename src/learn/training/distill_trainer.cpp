#include "learn/training/distill_trainer.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

#include "cad/turn.h"
#include "data/dataset.h"
#include "learn/data/vec_dataset.h"
#include "learn/networks/samplers.h"
#include "learn/training/checkpoint.h"
#include "render/camera.h"
#include "util/atomic_file.h"

namespace cadcrafter::learn {
namespace fs = std::filesystem;

TrainOptions default_distill_train_options() {
  TrainOptions t;
  t.batch_size = 64;
  t.lr = 1e-4;
  t.warmup_steps = 20;
  t.lr_schedule = "cosine";
  t.grad_clip = 1.0;
  t.max_steps = 500;
  t.log_every = 20;
  t.val_every = 100;
  t.checkpoint_every = 100;
  return t;
}

Status validate_distill_options(const DistillOptions& o) {
  if (o.mode != "distill" && o.mode != "scratch") return Status::fail(ErrorCode::kInvalidArgument, "mode must be distill or scratch");
  if (o.student_init != "teacher" && o.student_init != "random")
    return Status::fail(ErrorCode::kInvalidArgument, "student init must be teacher or random");
  if (!(o.distill_weight >= 0.0) || !(o.diffusion_weight >= 0.0) || (o.distill_weight == 0.0 && o.diffusion_weight == 0.0))
    return Status::fail(ErrorCode::kInvalidArgument, "loss weights must be >= 0 and not both 0");
  if (o.mode == "scratch" && o.diffusion_weight == 0.0)
    return Status::fail(ErrorCode::kInvalidArgument, "scratch mode trains the diffusion term only: its weight must be > 0");
  if (o.val_samples < 0 || o.max_samples < 0 || o.train.max_steps < 1 || o.train.batch_size < 1 || !(o.train.lr > 0.0) || o.train.log_every < 1 ||
      o.train.checkpoint_every < 1)
    return Status::fail(ErrorCode::kInvalidArgument, "steps, batch size, lr, log and checkpoint intervals must be positive");
  return {};
}

nlohmann::json distill_options_to_json(const DistillOptions& o) {
  return {{"mode", o.mode},
          {"student_init", o.mode == "scratch" ? "random" : o.student_init},
          {"distill_weight", o.mode == "scratch" ? 0.0 : o.distill_weight},
          {"diffusion_weight", o.diffusion_weight},
          {"val_samples", o.val_samples},
          {"max_samples", o.max_samples},
          {"train", o.train},
          {"loss", "distill_weight * mean(1 - cos(c_student(1 view), c_teacher(all views).detach())) + diffusion_weight * "
                   "||z0 - f_student(z_t, t, 1 view)||^2 (mean)"}};
}

DistillLosses distill_losses(ConditionalPrior& student, GeometryEncoder* teacher, const NoiseSchedule& schedule,
                             const DistillBatch& batch, double distill_weight, double diffusion_weight) {
  DistillLosses out;
  auto enc = student->geometry->forward(batch.student_features, batch.student_present);
  out.cosine = torch::zeros({}, batch.z0.options());
  out.diffusion = torch::zeros({}, batch.z0.options());
  if (teacher && !teacher->is_empty()) {
    torch::Tensor target;
    {
      torch::NoGradGuard no_grad;
      target = (*teacher)->forward(batch.teacher_features, batch.teacher_present).condition;
    }
    out.cosine = cosine_distillation_loss(enc.condition, target);
  }
  if (diffusion_weight > 0.0) {
    const int64_t b = batch.z0.size(0);
    auto t = torch::randint(0, schedule.steps(), {b}, torch::TensorOptions().dtype(torch::kLong).device(batch.z0.device()));
    auto z_t = schedule.add_noise(batch.z0, t, torch::randn_like(batch.z0));
    auto pred = student->denoiser->forward(z_t, t, enc.condition, enc.tokens, enc.padding);
    out.diffusion = torch::mse_loss(pred, batch.z0);
  }
  out.total = distill_weight * out.cosine + diffusion_weight * out.diffusion;
  return out;
}

namespace {

// Latents of `idx` from the autoencoder: [N, z] in the dataset's frame, or [N, 4, z] with entry q
// the sequence turned by -q quarter turns (the view frame's target for a first view at q * 90
// degrees; a turn the encoder refuses keeps the unturned sequence), as train diffusion makes them.
Result<torch::Tensor> target_latents(const DatasetReader& reader, const std::vector<size_t>& idx, CadAutoencoder& ae,
                                     const torch::Device& device, bool turned) {
  auto rows = read_sample_vecs(reader, idx);
  if (!rows) return rows.error();
  std::vector<VecRows> all;
  for (const auto& r : *rows)
    for (int q = 0; q < (turned ? 4 : 1); ++q) {
      auto t = q == 0 ? Result<CadVec>(r) : turn_vec(r, -q);
      all.push_back(t ? *t : r);
    }
  std::vector<const VecRows*> ptrs;
  for (const auto& r : all) ptrs.push_back(&r);
  auto z = encode_latents(ae, ptrs, device).to(torch::kCPU);
  return turned ? z.view({static_cast<int64_t>(rows->size()), 4, -1}) : z;
}

}  // namespace

Result<FineTuneSummary> train_distill(const std::string& dataset_dir, const std::string& teacher_run, const DistillOptions& o,
                                      const RunContext& ctx) {
  using R = Result<FineTuneSummary>;
  if (auto st = validate_distill_options(o); !st) return st.error();
  const fs::path run(ctx.run_dir), source(teacher_run);
  if (!fs::is_regular_file(source / "config.json") || !fs::is_regular_file(source / "model.pt"))
    return R::fail(ErrorCode::kIo, teacher_run + ": not a diffusion run folder (config.json + model.pt)");
  if (fs::exists(run) && fs::exists(source) && fs::equivalent(source, run))
    return R::fail(ErrorCode::kInvalidArgument, "the distillation run folder must not be the teacher's");
  const bool started = fs::exists(run / "checkpoint.pt");
  if (!ctx.resume && started) return R::fail(ErrorCode::kInvalidArgument, ctx.run_dir + " already holds a run; pass --resume or choose another -o");
  if (ctx.resume && !started) return R::fail(ErrorCode::kInvalidArgument, ctx.run_dir + ": nothing to resume (no checkpoint.pt)");

  auto teacher = load_diffusion(teacher_run, ctx.device);
  if (!teacher) return teacher.error();
  const DiffusionConfig config = teacher->config;
  if (config.diffusion.max_views < 2 && o.mode == "distill")
    return R::fail(ErrorCode::kInvalidArgument, teacher_run + " is a single-view model (max_views 1): nothing to distil from");
  auto reader = DatasetReader::open(dataset_dir);
  if (!reader) return reader.error();
  auto train_idx = reader->indices("train"), val_idx = reader->indices("val");
  if (train_idx.empty()) return R::fail(ErrorCode::kInvalidArgument, dataset_dir + ": no training samples");
  if (static_cast<int64_t>(val_idx.size()) > o.val_samples) val_idx.resize(static_cast<size_t>(o.val_samples));
  if (o.max_samples > 0 && static_cast<int64_t>(train_idx.size()) > o.max_samples) {
    std::mt19937_64 rng(ctx.seed);
    std::shuffle(train_idx.begin(), train_idx.end(), rng);
    train_idx.resize(static_cast<size_t>(o.max_samples));
    std::sort(train_idx.begin(), train_idx.end());
  }

  std::error_code ec;
  fs::create_directories(run, ec);
  if (ec) return R::fail(ErrorCode::kIo, ctx.run_dir + ": cannot create folder: " + ec.message());
  auto src_text = read_file((source / "config.json").string());
  if (!src_text) return src_text.error();
  auto cfg = nlohmann::json::parse(*src_text, nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) return R::fail(ErrorCode::kParse, teacher_run + "/config.json: not JSON");
  for (const char* key : {"ae_run", "backbone"}) {
    const std::string p = cfg.value(key, std::string());
    if (!p.empty() && !fs::path(p).is_absolute()) cfg[key] = fs::absolute(source / p).lexically_normal().string();
  }
  if (auto st = write_file_atomically((run / "config.json").string(), cfg.dump(2) + "\n"); !st) return st.error();
  if (auto st = write_file_atomically((run / "distill.json").string(), distill_options_to_json(o).dump(2) + "\n"); !st) return st.error();
  nlohmann::json info = ctx.run_info;
  info.update({{"stage", o.mode == "scratch" ? "single_view_scratch" : "distill"}, {"data", dataset_dir},
               {"teacher", fs::absolute(source).lexically_normal().string()}, {"seed", ctx.seed}, {"device", ctx.device.str()},
               {"torch_threads", torch::get_num_threads()}, {"resumed", ctx.resume}});
  if (auto st = write_file_atomically((run / "run.json").string(), info.dump(2) + "\n"); !st) return st.error();
  seed_everything(ctx.seed);

  // Targets and features (cached like train diffusion's features.pt: train, val, azimuths).
  const bool view_frame = config.diffusion.frame == "view";
  auto z_train = target_latents(*reader, train_idx, teacher->autoencoder, ctx.device, view_frame);
  if (!z_train) return z_train.error();
  auto z_val = target_latents(*reader, val_idx, teacher->autoencoder, ctx.device, view_frame);
  if (!z_val) return z_val.error();
  const int64_t per_set = std::max<int64_t>(1, dataset_views_per_set(dataset_dir));
  const std::string cache = (run / "features.pt").string();
  torch::Tensor f_train, f_val, az_train, az_val;
  if (fs::exists(cache)) {
    std::vector<torch::Tensor> cached;
    torch::load(cached, cache);
    if (cached.size() == 4 && cached[0].size(0) == static_cast<int64_t>(train_idx.size()) &&
        cached[1].size(0) == static_cast<int64_t>(val_idx.size())) {
      f_train = cached[0];
      f_val = cached[1];
      az_train = cached[2];
      az_val = cached[3];
    }
  }
  if (!f_train.defined()) {
    const int64_t views = config.diffusion.feature_sets * per_set;
    auto ft = compute_features(dataset_dir, train_idx, teacher->backbone, ctx.progress, views, &az_train);
    if (!ft) return ft.error();
    auto fv = compute_features(dataset_dir, val_idx, teacher->backbone, ctx.progress, views, &az_val);
    if (!fv) return fv.error();
    f_train = *ft;
    f_val = *fv;
    std::vector<torch::Tensor> to_cache = {f_train, f_val, az_train, az_val};
    if (auto st = write_atomically(cache, [&](const std::string& tmp) -> Status {
          torch::save(to_cache, tmp);
          return {};
        });
        !st)
      return st.error();
  }
  const int64_t sets = std::max<int64_t>(1, f_train.size(1) / per_set);
  const int64_t max_views = config.diffusion.max_views;
  const int64_t usable = std::min(max_views, per_set);

  ConditionalPrior student(config);
  if (o.mode == "distill" && o.student_init == "teacher")
    if (auto st = load_weights((source / "model.pt").string(), *student); !st) return st.error();
  student->to(ctx.device);
  GeometryEncoder teacher_encoder = teacher->prior->geometry;
  teacher_encoder->eval();
  for (auto& p : teacher_encoder->parameters()) p.set_requires_grad(false);
  GeometryEncoder* teacher_ptr = o.mode == "distill" ? &teacher_encoder : nullptr;
  const double distill_weight = o.mode == "distill" ? o.distill_weight : 0.0;
  NoiseSchedule schedule(config.diffusion.timesteps, config.diffusion.schedule);

  // A batch: for each draw, the student's first view alone and the teacher's view list starting
  // with that view (then the other views of the set, in order).
  auto make_batch = [&](const torch::Tensor& feats, const torch::Tensor& az, const torch::Tensor& z, const std::vector<int64_t>& samples,
                        const std::vector<int64_t>& set_of, const std::vector<std::vector<int64_t>>& orders) {
    const int64_t b = static_cast<int64_t>(samples.size()), fdim = feats.size(3);
    DistillBatch batch;
    batch.student_features = torch::zeros({b, max_views, 2, fdim});
    batch.teacher_features = torch::zeros({b, max_views, 2, fdim});
    batch.student_present = torch::zeros({b, max_views}, torch::kBool);
    batch.teacher_present = torch::zeros({b, max_views}, torch::kBool);
    std::vector<torch::Tensor> targets;
    for (int64_t i = 0; i < b; ++i) {
      const int64_t s = samples[static_cast<size_t>(i)], base = set_of[static_cast<size_t>(i)] * per_set;
      const auto& order = orders[static_cast<size_t>(i)];
      batch.student_features[i][0].copy_(feats[s][base + order[0]]);
      batch.student_present[i][0] = true;
      for (int64_t v = 0; v < usable; ++v) {
        batch.teacher_features[i][v].copy_(feats[s][base + order[static_cast<size_t>(v)]]);
        batch.teacher_present[i][v] = true;
      }
      targets.push_back(view_frame ? z[s][view_frame_quarter_turns(az[s][base + order[0]].item<float>())] : z[s]);
    }
    batch.z0 = torch::stack(targets);
    for (auto* t : {&batch.student_features, &batch.student_present, &batch.teacher_features, &batch.teacher_present, &batch.z0})
      *t = t->to(ctx.device);
    return batch;
  };

  torch::optim::Adam optimizer(student->parameters(), torch::optim::AdamOptions(o.train.lr));
  const int64_t n = f_train.size(0);
  FineTuneHooks hooks;
  hooks.train_step = [&](int64_t step, int64_t* samples) {
    std::mt19937_64 rng(ctx.seed * 104729ULL + static_cast<uint64_t>(step));
    std::vector<int64_t> ids, set_of;
    std::vector<std::vector<int64_t>> orders;
    for (int64_t b = 0; b < o.train.batch_size; ++b) {
      ids.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(n)));
      set_of.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(sets)));
      std::vector<int64_t> order(static_cast<size_t>(per_set));
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      std::sort(order.begin() + 1, order.end());  // the student's view first, then the others in order
      orders.push_back(order);
    }
    auto losses = distill_losses(student, teacher_ptr, schedule, make_batch(f_train, az_train, *z_train, ids, set_of, orders),
                                 distill_weight, o.diffusion_weight);
    optimizer.zero_grad();
    losses.total.backward();
    if (o.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(student->parameters(), o.train.grad_clip);
    optimizer.step();
    *samples = o.train.batch_size;
    return losses.total.item<double>();
  };
  hooks.val_columns = {"val_cosine", "val_latent_mse"};
  hooks.validate = [&]() -> std::vector<double> {
    const int64_t m = f_val.size(0);
    if (m == 0) return {};
    torch::NoGradGuard no_grad;
    std::vector<int64_t> ids(static_cast<size_t>(m)), set_of(static_cast<size_t>(m), 0);
    std::iota(ids.begin(), ids.end(), 0);
    std::vector<int64_t> order(static_cast<size_t>(per_set));
    std::iota(order.begin(), order.end(), 0);
    const std::vector<std::vector<int64_t>> orders(static_cast<size_t>(m), order);
    const auto batch = make_batch(f_val, az_val, *z_val, ids, set_of, orders);
    const double cosine = cosine_distillation_loss(student->geometry->forward(batch.student_features, batch.student_present).condition,
                                                   teacher_encoder->forward(batch.teacher_features, batch.teacher_present).condition)
                              .item<double>();
    Denoiser d = [&](const torch::Tensor& z, const torch::Tensor& t) {
      return student->forward(z, t, batch.student_features, batch.student_present);
    };
    SamplerOptions so;
    so.steps = 20;
    so.seed = ctx.seed;
    auto z = sample_ddim(d, schedule, m, batch.z0.size(1), so, ctx.device);
    return {cosine, torch::mse_loss(z, batch.z0).item<double>()};
  };
  return run_fine_tune_loop(o.mode == "scratch" ? "train single view (scratch)" : "train distill", o.train, ctx, *student,
                            optimizer, hooks);
}

}  // namespace cadcrafter::learn
