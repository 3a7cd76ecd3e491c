#include "learn/training/condition_trainer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "cad/turn.h"
#include "data/dataset.h"
#include "learn/data/backbone_input.h"
#include "learn/training/checkpoint.h"
#include "learn/training/contrastive.h"
#include "learn/data/vec_dataset.h"
#include "render/camera.h"
#include "util/atomic_file.h"
#include "util/progress.h"

namespace cadcrafter::learn {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- configs

namespace {

template <typename T>
Status read_section(const nlohmann::json& j, const char* key, T* out, const std::string& origin) {
  if (!j.contains(key)) return {};
  const nlohmann::json defaults = *out;
  if (!j[key].is_object()) return Status::fail(ErrorCode::kParse, origin + ": '" + key + "' must be an object");
  for (auto it = j[key].begin(); it != j[key].end(); ++it)
    if (!defaults.contains(it.key())) return Status::fail(ErrorCode::kParse, origin + ": " + key + ": unknown key '" + it.key() + "'");
  try {
    *out = j[key].get<T>();
  } catch (const nlohmann::json::exception& e) {
    return Status::fail(ErrorCode::kParse, origin + ": " + key + ": " + e.what());
  }
  return {};
}

Status check_top_level(const nlohmann::json& j, const std::set<std::string>& allowed, const std::string& origin) {
  if (!j.is_object()) return Status::fail(ErrorCode::kParse, origin + ": config must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!allowed.count(it.key())) return Status::fail(ErrorCode::kParse, origin + ": unknown key '" + it.key() + "'");
  return {};
}

}  // namespace

void to_json(nlohmann::json& j, const DiffusionSettings& o) {
  j = {{"max_views", o.max_views},     {"feature_sets", o.feature_sets}, {"timesteps", o.timesteps},     {"schedule", o.schedule},
       {"condition_dropout", o.condition_dropout}, {"distill_weight", o.distill_weight}, {"sampler", o.sampler},
       {"sample_steps", o.sample_steps}, {"eta", o.eta}, {"frame", o.frame}, {"neighbour_dropout", o.neighbour_dropout}};
}
void from_json(const nlohmann::json& j, DiffusionSettings& o) {
  o.max_views = j.value("max_views", o.max_views);
  o.feature_sets = j.value("feature_sets", o.feature_sets);
  o.timesteps = j.value("timesteps", o.timesteps);
  o.schedule = j.value("schedule", o.schedule);
  o.condition_dropout = j.value("condition_dropout", o.condition_dropout);
  o.distill_weight = j.value("distill_weight", o.distill_weight);
  o.sampler = j.value("sampler", o.sampler);
  o.sample_steps = j.value("sample_steps", o.sample_steps);
  o.eta = j.value("eta", o.eta);
  o.frame = j.value("frame", o.frame);
  o.neighbour_dropout = j.value("neighbour_dropout", o.neighbour_dropout);
}

Result<BackboneConfig> parse_backbone_config(const nlohmann::json& j, const std::string& origin) {
  BackboneConfig c;
  if (auto st = check_top_level(j, {"kind", "comment", "backbone", "image_size", "views_per_sample", "max_samples", "objective", "temperature", "mirror", "estimator_like", "init", "photo_data", "photo_share", "photo_views", "train"}, origin);
      !st)
    return st.error();
  if (auto st = read_section(j, "backbone", &c.backbone, origin); !st) return st.error();
  if (auto st = read_section(j, "train", &c.train, origin); !st) return st.error();
  c.image_size = j.value("image_size", c.image_size);
  c.views_per_sample = j.value("views_per_sample", c.views_per_sample);
  c.max_samples = j.value("max_samples", c.max_samples);
  try {
    c.objective = j.value("objective", c.objective);
    c.temperature = j.value("temperature", c.temperature);
    c.mirror = j.value("mirror", c.mirror);
    c.estimator_like = j.value("estimator_like", c.estimator_like);
    c.init = j.value("init", c.init);
    c.photo_data = j.value("photo_data", c.photo_data);
    c.photo_share = j.value("photo_share", c.photo_share);
    c.photo_views = j.value("photo_views", c.photo_views);
  } catch (const nlohmann::json::exception& e) {
    return Result<BackboneConfig>::fail(ErrorCode::kParse, origin + ": " + e.what());
  }
  if (c.objective != "regress_z" && c.objective != "contrastive")
    return Result<BackboneConfig>::fail(ErrorCode::kInvalidArgument, origin + ": objective must be regress_z or contrastive");
  if (c.estimator_like < 0.0 || c.estimator_like > 1.0)
    return Result<BackboneConfig>::fail(ErrorCode::kInvalidArgument, origin + ": estimator_like is a probability in [0, 1]");
  if (!(c.photo_share >= 0.0 && c.photo_share <= 1.0))
    return Result<BackboneConfig>::fail(ErrorCode::kInvalidArgument, origin + ": photo_share is a probability in [0, 1]");
  if (c.photo_views < 0) return Result<BackboneConfig>::fail(ErrorCode::kInvalidArgument, origin + ": photo_views must be >= 0 (0 = all)");
  if (!c.photo_data.empty() && c.objective != "contrastive")
    return Result<BackboneConfig>::fail(ErrorCode::kInvalidArgument, origin + ": photo_data needs the contrastive objective");
  if (c.temperature <= 0.0) return Result<BackboneConfig>::fail(ErrorCode::kInvalidArgument, origin + ": temperature must be > 0");
  if (c.objective == "contrastive" && c.views_per_sample < 2)
    return Result<BackboneConfig>::fail(ErrorCode::kInvalidArgument, origin + ": the contrastive objective needs views_per_sample >= 2");
  if (c.views_per_sample < 1 || c.max_samples < 0)
    return Result<BackboneConfig>::fail(ErrorCode::kInvalidArgument, origin + ": views_per_sample must be >= 1, max_samples >= 0");
  if (c.image_size < 16 || c.backbone.feature_dim < 1 || c.backbone.base_channels < 1 || c.train.max_steps < 1 ||
      c.train.batch_size < 1 || c.train.checkpoint_every < 1 || c.train.log_every < 1)
    return Result<BackboneConfig>::fail(ErrorCode::kInvalidArgument, origin + ": sizes and steps must be positive (image_size >= 16)");
  return c;
}

nlohmann::json backbone_config_to_json(const BackboneConfig& c) {
  return {{"kind", "backbone"},
          {"backbone", c.backbone},
          {"image_size", c.image_size},
          {"views_per_sample", c.views_per_sample},
          {"max_samples", c.max_samples},
          {"objective", c.objective},
          {"temperature", c.temperature},
          {"mirror", c.mirror},
          {"estimator_like", c.estimator_like},
          {"init", c.init},
          {"photo_data", c.photo_data},
          {"photo_share", c.photo_share},
          {"photo_views", c.photo_views},
          {"train", c.train}};
}

Result<DiffusionConfig> parse_diffusion_config(const nlohmann::json& j, const std::string& origin) {
  DiffusionConfig c;
  if (auto st = check_top_level(j, {"kind", "comment", "geometry", "denoiser", "diffusion", "train"}, origin); !st)
    return st.error();
  if (auto st = read_section(j, "geometry", &c.geometry, origin); !st) return st.error();
  if (auto st = read_section(j, "denoiser", &c.denoiser, origin); !st) return st.error();
  if (auto st = read_section(j, "diffusion", &c.diffusion, origin); !st) return st.error();
  if (auto st = read_section(j, "train", &c.train, origin); !st) return st.error();
  const auto& d = c.diffusion;
  if (d.max_views < 1 || d.feature_sets < 1 || d.timesteps < 2 || (d.schedule != "linear" && d.schedule != "cosine") ||
      (d.sampler != "ddim" && d.sampler != "ddpm") || d.sample_steps < 1 || (d.frame != "model" && d.frame != "view"))
    return Result<DiffusionConfig>::fail(ErrorCode::kInvalidArgument,
                                         origin + ": diffusion: max_views >= 1, feature_sets >= 1, timesteps >= 2, schedule linear|cosine, sampler ddim|ddpm, "
                                                "frame model|view");
  if (c.geometry.d_model % c.geometry.n_heads || c.denoiser.d_model % c.denoiser.n_heads)
    return Result<DiffusionConfig>::fail(ErrorCode::kInvalidArgument, origin + ": d_model must be a multiple of n_heads");
  if (c.denoiser.neighbours < 0 || c.denoiser.neighbours > 16 || d.neighbour_dropout < 0 || d.neighbour_dropout > 1)
    return Result<DiffusionConfig>::fail(ErrorCode::kInvalidArgument,
                                         origin + ": denoiser.neighbours in 0..16, diffusion.neighbour_dropout in [0, 1]");
  if (c.train.max_steps < 1 || c.train.batch_size < 1 || c.train.checkpoint_every < 1 || c.train.log_every < 1)
    return Result<DiffusionConfig>::fail(ErrorCode::kInvalidArgument, origin + ": train sizes and steps must be positive");
  c.denoiser.cond_dim = c.geometry.d_model;
  return c;
}

nlohmann::json diffusion_config_to_json(const DiffusionConfig& c) {
  return {{"kind", "diffusion"}, {"geometry", c.geometry}, {"denoiser", c.denoiser}, {"diffusion", c.diffusion}, {"train", c.train}};
}

ConditionalPriorImpl::ConditionalPriorImpl(const DiffusionConfig& config) {
  geometry = register_module("geometry", GeometryEncoder(config.geometry));
  LatentDenoiserOptions d = config.denoiser;
  d.cond_dim = config.geometry.d_model;
  denoiser = register_module("denoiser", LatentDenoiser(d));
}

torch::Tensor ConditionalPriorImpl::forward(const torch::Tensor& z_t, const torch::Tensor& t, const torch::Tensor& features,
                                            const torch::Tensor& view_present, const torch::Tensor& neighbours,
                                            const torch::Tensor& neighbour_padding) {
  auto enc = geometry->forward(features, view_present);
  return denoiser->forward(z_t, t, enc.condition, enc.tokens, enc.padding, neighbours, neighbour_padding);
}

namespace {

// multi_view_embedding of a sample's chosen views (rows of feats[s]): [F].
torch::Tensor views_embedding(const torch::Tensor& feats, int64_t s, const std::vector<int64_t>& rows) {
  return multi_view_embedding(feats[s].index({torch::tensor(rows)}).unsqueeze(0))[0];
}

// The retrieval augmentation of one batch: for queries [B, F] against the bank [N, F] (both
// normalised), the k nearest bank parts (`exclude[b]` >= 0 left out: the sample itself), each in
// the quarter turn whose latent is closest to the target z0 [B, z] (latents [N, 4, z], or [N, z]
// in the model frame). Returns their latents [B, k, z].
torch::Tensor retrieve_neighbours(const torch::Tensor& queries, const torch::Tensor& bank,
                                                            const std::vector<int64_t>& exclude, const torch::Tensor& latents,
                                                            const torch::Tensor& z0, int64_t k) {
  auto sims = torch::matmul(queries, bank.t());
  for (size_t b = 0; b < exclude.size(); ++b)
    if (exclude[b] >= 0) sims[static_cast<int64_t>(b)][exclude[b]] = -1e9;
  auto nearest = std::get<1>(sims.topk(std::min<int64_t>(k, bank.size(0)), 1));
  auto cand = latents.index({nearest});  // [B, k, 4, z] or [B, k, z]
  if (cand.dim() == 3) return cand;
  auto dist = (cand - z0.unsqueeze(1).unsqueeze(1)).pow(2).sum(-1);  // [B, k, 4]
  auto turn = dist.argmin(-1);
  auto picked = cand.gather(2, turn.unsqueeze(-1).unsqueeze(-1).expand({cand.size(0), cand.size(1), 1, cand.size(3)}));
  return picked.squeeze(2);
}

}  // namespace

// ---------------------------------------------------------------- shared loop

namespace {

struct LoopHooks {
  // One optimiser step at `step`; returns the loss and adds the samples it used.
  std::function<double(int64_t step, int64_t* samples)> train_step;
  // A validation figure (lower is better) and its name, or NaN when there is nothing to validate.
  std::function<double()> validate;
};

std::string fmt(double v, const char* f = "%.5g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

Result<AeTrainSummary> run_loop(const std::string& label, const TrainOptions& opt, const RunContext& ctx,
                                torch::nn::Module& model, torch::optim::Optimizer& optimizer, const LoopHooks& hooks) {
  using Clock = std::chrono::steady_clock;
  const fs::path run(ctx.run_dir);
  const std::string ckpt = (run / "checkpoint.pt").string();
  CheckpointState state;
  double elapsed_before = 0.0;
  if (ctx.resume) {
    auto loaded = load_checkpoint(ckpt, model, &optimizer);
    if (!loaded) return loaded.error();
    state = *loaded;
    elapsed_before = state.extra.value("elapsed_s", 0.0);
  }
  synchronize_start(ctx.dist, model, state.step);
  const bool main_rank = is_main_rank(ctx.dist);  // only rank 0 writes the run folder
  std::unique_ptr<CsvLog> log;
  if (main_rank)
    log = std::make_unique<CsvLog>((run / "log.csv").string(),
                                   std::vector<std::string>{"step", "loss", "lr", "samples_per_s", "val", "elapsed_s"},
                                   ctx.resume ? state.step : 0);
  AeTrainSummary summary;
  ProgressBar bar(label, opt.max_steps, ctx.progress);
  bar.update(state.step);
  const auto t0 = Clock::now();
  auto window_start = t0;
  double window_loss = 0.0;
  int64_t window_steps = 0, window_samples = 0, total_samples = 0, steps_this_call = 0;
  bool out_of_time = false;
  auto elapsed = [&] { return elapsed_before + std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto save = [&]() -> Status {
    if (!main_rank) return {};
    state.extra["elapsed_s"] = elapsed();
    return save_checkpoint(ckpt, model, optimizer, state);
  };
  while (state.step < opt.max_steps) {
    const double time_fraction = opt.time_limit_min > 0 ? elapsed() / (60.0 * opt.time_limit_min) : 0.0;
    const auto schedule_step = static_cast<int64_t>(static_cast<double>(opt.max_steps) *
                                                    std::max(static_cast<double>(state.step) / static_cast<double>(opt.max_steps), time_fraction));
    const double lr = learning_rate_at(std::max(state.step, std::min(schedule_step, opt.max_steps)), opt.lr, opt.warmup_steps,
                                       opt.max_steps, opt.lr_schedule);
    set_learning_rate(optimizer, lr);
    model.train();
    int64_t samples = 0;
    const double loss = hooks.train_step(state.step, &samples);
    ++state.step;
    ++steps_this_call;
    window_loss += loss;
    ++window_steps;
    window_samples += samples;
    total_samples += samples;
    summary.final_train_loss = loss;
    out_of_time = time_fraction >= 1.0;
    const bool last = state.step == opt.max_steps || out_of_time;
    const bool val_due = last || (opt.val_every > 0 && state.step % opt.val_every == 0);
    if (state.step % opt.log_every == 0 || val_due) {
      const double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double sps = secs > 0 ? static_cast<double>(window_samples) / secs : 0.0;
      double val = std::nan("");
      if (val_due && hooks.validate && main_rank) {
        model.eval();
        val = hooks.validate();
      }
      if (log)
        log->row({std::to_string(state.step), fmt(window_loss / static_cast<double>(window_steps)), fmt(lr), fmt(sps, "%.1f"),
               std::isnan(val) ? "" : fmt(val), fmt(elapsed(), "%.1f")});
      bar.update(state.step, "loss " + fmt(window_loss / static_cast<double>(window_steps), "%.4f") + "  " + fmt(sps, "%.0f") +
                                 " samples/s" + (std::isnan(val) ? "" : "  val " + fmt(val, "%.4f")));
      window_loss = 0.0;
      window_steps = window_samples = 0;
      window_start = Clock::now();
    } else {
      bar.update(state.step);
    }
    const bool stop_now = ctx.stop_after_steps > 0 && steps_this_call >= ctx.stop_after_steps;
    if (last || stop_now || state.step % opt.checkpoint_every == 0)
      if (auto st = save(); !st) return st.error();
    if (stop_now || out_of_time) break;
  }
  bar.finish();
  summary.steps = state.step;
  summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  summary.samples_per_second = summary.seconds > 0 ? static_cast<double>(total_samples) / summary.seconds : 0.0;
  if (main_rank && (state.step >= opt.max_steps || out_of_time))
    if (auto st = save_weights((run / "model.pt").string(), model); !st) return st.error();
  return summary;
}

// At most `max` of `idx` (0 = all), drawn with `seed`, kept in ascending order.
void cap_samples(std::vector<size_t>& idx, int64_t max, uint64_t seed) {
  if (max <= 0 || static_cast<int64_t>(idx.size()) <= max) return;
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  idx.resize(static_cast<size_t>(max));
  std::sort(idx.begin(), idx.end());
}

// One optimiser step on `loss` (gradients clipped to grad_clip when > 0), with the gradients
// averaged over the ranks of a data-parallel run (`loss_sum`, when given, is summed along).
void optimize(const torch::Tensor& loss, torch::nn::Module& model, torch::optim::Optimizer& optimizer, double grad_clip,
              const std::shared_ptr<Distributed>& dist = nullptr, std::vector<double>* loss_sum = nullptr) {
  distributed_step(dist, loss, model, optimizer, grad_clip, loss_sum);
}

// The loss a data-parallel rank logs: the mean over the ranks of their (share-weighted) losses.
double logged_loss(const std::shared_ptr<Distributed>& dist, const std::vector<double>& loss_sum, const torch::Tensor& loss) {
  return dist ? loss_sum.at(0) / dist->world_size() : loss.item<double>();
}

Status prepare_run_dir(const RunContext& ctx, const nlohmann::json& config, const nlohmann::json& extra_info) {
  const fs::path run(ctx.run_dir);
  std::error_code ec;
  fs::create_directories(run, ec);
  if (ec) return Status::fail(ErrorCode::kIo, ctx.run_dir + ": cannot create folder: " + ec.message());
  const bool has_ckpt = fs::exists(run / "checkpoint.pt");
  if (!ctx.resume && has_ckpt) return Status::fail(ErrorCode::kInvalidArgument, ctx.run_dir + " already holds a run; pass --resume or choose another -o");
  if (ctx.resume && !has_ckpt) return Status::fail(ErrorCode::kInvalidArgument, ctx.run_dir + ": nothing to resume (no checkpoint.pt)");
  if (!is_main_rank(ctx.dist)) return {};  // rank 0 writes the run folder
  if (auto st = write_file_atomically((run / "config.json").string(), config.dump(2) + "\n"); !st) return st;
  nlohmann::json info = ctx.run_info;
  info.update(extra_info);
  info["seed"] = ctx.seed;
  info["device"] = ctx.device.str();
  info["torch_threads"] = torch::get_num_threads();
  info["resumed"] = ctx.resume;
  info["world_size"] = ctx.dist ? ctx.dist->world_size() : 1;
  return write_file_atomically((run / "run.json").string(), info.dump(2) + "\n");
}

// Latents z of every sample (by dataset index) from the autoencoder.
Result<torch::Tensor> latents_for(const DatasetReader& reader, const std::vector<size_t>& indices, CadAutoencoder& ae,
                                  const torch::Device& device) {
  auto rows = read_sample_vecs(reader, indices);
  if (!rows) return rows.error();
  std::vector<const VecRows*> ptrs;
  for (const auto& r : *rows) ptrs.push_back(&r);
  return encode_latents(ae, ptrs, device);
}

// Latents of every sample in each of its four quarter turns [N, 4, z]: entry q is the sequence
// turned by -q (cad/turn.h), the view-frame target for a first view whose azimuth snaps to q * 90.
// A turn the DeepCAD encoder refuses falls back to the unturned sequence (counted in *failed).
Result<torch::Tensor> turned_latents_for(const DatasetReader& reader, const std::vector<size_t>& indices, CadAutoencoder& ae,
                                         const torch::Device& device, int64_t* failed) {
  auto rows = read_sample_vecs(reader, indices);
  if (!rows) return rows.error();
  std::vector<VecRows> turned;
  turned.reserve(rows->size() * 4);
  for (const auto& r : *rows)
    for (int q = 0; q < 4; ++q) {
      auto t = q == 0 ? Result<CadVec>(r) : turn_vec(r, -q);
      if (!t) ++*failed;
      turned.push_back(t ? *t : r);
    }
  std::vector<const VecRows*> ptrs;
  for (const auto& r : turned) ptrs.push_back(&r);
  auto z = encode_latents(ae, ptrs, device);
  return z.view({static_cast<int64_t>(rows->size()), 4, ae->options().z_dim});
}

int64_t views_per_set(const DatasetReader& reader) {
  const auto& m = reader.manifest();
  if (m.contains("config") && m["config"].is_object()) return m["config"].value("views_per_set", int64_t{4});
  return 4;
}


}  // namespace

// ---------------------------------------------------------------- backbone

namespace {

// [B, 4, s, s] stored views (depth, normal xyz) and a modality per image -> [B, 3, s, s] float.
torch::Tensor as_rgb_modality(const torch::Tensor& stored, const torch::Tensor& modality) {
  auto x = stored.to(torch::kFloat);
  auto depth = x.slice(1, 0, 1).expand({x.size(0), 3, x.size(2), x.size(3)});
  auto normal = x.slice(1, 1, 4);
  return torch::where(modality.view({-1, 1, 1, 1}).eq(0), depth, normal);
}

class BackboneWithHeadImpl : public torch::nn::Module {
 public:
  BackboneWithHeadImpl(const ConvBackboneOptions& o, int64_t z_dim) {
    backbone = register_module("backbone", ConvBackbone(o));
    head = register_module("head", torch::nn::Linear(o.feature_dim, z_dim));
  }
  torch::Tensor forward(const torch::Tensor& images) { return head(backbone(images)); }
  ConvBackbone backbone{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(BackboneWithHead);

// Framed views of `idx` for the contrastive objective: `keep` views spread over the rendering sets
// (one per set when keep = sets), offset per sample; cached in the run folder (uint8) so a resumed
// run does not decode the shards again.
Result<torch::Tensor> contrastive_views(const DatasetReader& reader, const std::vector<size_t>& idx, int64_t keep, int64_t size,
                                        uint64_t seed, const std::string& cache, bool progress) {
  if (!cache.empty() && fs::exists(cache)) {
    torch::Tensor t;
    torch::load(t, cache);
    if (t.dim() == 5 && t.size(0) == static_cast<int64_t>(idx.size()) && t.size(1) == keep && t.size(3) == size) return t;
  }
  auto views_of = [&](size_t i, int64_t total) { return spread_views(seed * 31ULL + i, total, keep); };
  auto t = load_framed_views(reader, idx, size, views_of, std::max(1, torch::get_num_threads()), progress);
  if (!t || cache.empty()) return t;
  torch::Tensor saved = *t;
  if (auto st = write_atomically(cache, [&](const std::string& tmp) -> Status {
        torch::save(saved, tmp);
        return {};
      });
      !st)
    return st.error();
  return t;
}

// Stored views [B, 4, s, s] -> backbone images [2B, 3, s, s] (depth images, then normal images),
// mirrored where `flip` says and degraded like estimated maps where `degrade` says.
torch::Tensor contrastive_images(const torch::Tensor& stored, const torch::Tensor& flip, const torch::Tensor& degrade = {}) {
  auto v = mirror_views(decode_views(stored), flip);  // [B, 2, 3, s, s]
  if (degrade.defined()) v = estimator_like(v, degrade);
  return torch::cat({v.select(1, 0), v.select(1, 1)}, 0);
}

// Per-view embedding features [B, F] from backbone outputs of contrastive_images: depth + normal.
torch::Tensor contrastive_features(const torch::Tensor& out, int64_t b) {
  return 0.5 * (out.narrow(0, 0, b) + out.narrow(0, b, b));
}

// The photo pairs of config.photo_data: estimated maps of every view of the photo dataset's parts
// that are training parts (by id), cached in the run folder; returns, per training row, its row
// in *present (-1: no photos). *views is [M * V, 4, s, s] (uint8), *present [M, V].
Result<std::vector<int64_t>> photo_rows(const DatasetReader& reader, const std::vector<size_t>& train_idx, const BackboneConfig& config,
                                        const ConditionRunContext& ctx, torch::Tensor* views, torch::Tensor* present) {
  using R = Result<std::vector<int64_t>>;
  if (!ctx.estimate_views)
    return R::fail(ErrorCode::kInvalidArgument, "photo_data needs the depth/normal estimator (train backbone --estimator)");
  auto photos = DatasetReader::open(config.photo_data);
  if (!photos) return R::fail(photos.error().code, "photo_data: " + photos.error().message);
  if (!photos->has_rgb()) return R::fail(ErrorCode::kInvalidArgument, "photo_data " + config.photo_data + " was built without --rgb");
  std::map<std::string, int64_t> train_row;
  for (size_t k = 0; k < train_idx.size(); ++k) train_row[reader.info(train_idx[k]).id] = static_cast<int64_t>(k);
  std::vector<size_t> pidx;
  std::vector<int64_t> rows(train_idx.size(), -1);
  for (size_t i = 0; i < photos->size(); ++i) {
    const auto it = train_row.find(photos->info(i).id);
    if (it == train_row.end() || photos->info(i).split != "train") continue;
    rows[static_cast<size_t>(it->second)] = static_cast<int64_t>(pidx.size());
    pidx.push_back(i);
  }
  if (pidx.empty()) return R::fail(ErrorCode::kInvalidArgument, "photo_data " + config.photo_data + " has none of the training parts");
  const fs::path run(ctx.run_dir);
  const std::string views_file = (run / "views-photo.pt").string(), present_file = (run / "views-photo-present.pt").string();
  if (fs::exists(views_file) && fs::exists(present_file)) {
    torch::load(*views, views_file);
    torch::load(*present, present_file);
  }
  const auto v = config.photo_views > 0 ? std::min<int64_t>(config.photo_views, photos->views()) : static_cast<int64_t>(photos->views());
  if (!(views->defined() && present->defined() && present->dim() == 2 && present->size(0) == static_cast<int64_t>(pidx.size()) &&
        present->size(1) == v && views->size(0) == present->size(0) * v && views->size(2) == config.image_size)) {
    auto estimated = ctx.estimate_views(*photos, pidx, v, config.image_size, present);
    if (!estimated) return estimated.error();
    *views = estimated->reshape({-1, 4, config.image_size, config.image_size}).contiguous();
    for (const auto& [file, t] : {std::make_pair(views_file, *views), std::make_pair(present_file, *present)})
      if (auto st = write_atomically(file, [&](const std::string& tmp) -> Status {
            torch::save(t, tmp);
            return {};
          });
          !st)
        return st.error();
  }
  std::printf("photo pairs: %zu training parts with %lld estimated views (%lld without an object)\n", pidx.size(),
              static_cast<long long>(present->numel()), static_cast<long long>(present->numel() - present->sum().item<int64_t>()));
  return rows;
}

Result<AeTrainSummary> train_backbone_contrastive(const std::string& dataset_dir, const BackboneConfig& config,
                                                  const ConditionRunContext& ctx) {
  auto reader = DatasetReader::open(dataset_dir);
  if (!reader) return reader.error();
  auto train_idx = reader->indices("train"), val_idx = reader->indices("val");
  if (train_idx.empty()) return Result<AeTrainSummary>::fail(ErrorCode::kInvalidArgument, dataset_dir + ": no training samples");
  if (reader->views() < 2)
    return Result<AeTrainSummary>::fail(ErrorCode::kInvalidArgument, dataset_dir + ": the contrastive objective needs >= 2 views per model");
  if (ctx.dist)  // its negatives are the rest of the batch: sharding it needs an all-gather with gradients
    return Result<AeTrainSummary>::fail(ErrorCode::kUnsupported,
                                        "backbone objective contrastive: data-parallel training is not supported yet; train it with one process");
  nlohmann::json cfg = backbone_config_to_json(config);
  if (auto st = prepare_run_dir(ctx, cfg, {{"stage", "backbone"}, {"data", dataset_dir}}); !st) return st.error();
  seed_everything(ctx.seed);
  cap_samples(train_idx, config.max_samples, ctx.seed);
  const int64_t keep = std::min<int64_t>(config.views_per_sample, reader->views());
  const fs::path run(ctx.run_dir);
  auto train_views = contrastive_views(*reader, train_idx, keep, config.image_size, ctx.seed, (run / "views-train.pt").string(), ctx.progress);
  if (!train_views) return train_views.error();
  // Validation: identity retrieval among up to 648 val models, first view of set 0 against the
  // first view of set 1 (other azimuth and elevation).
  if (val_idx.size() > 648) val_idx.resize(648);
  const int64_t per_set = views_per_set(*reader);
  auto val_views_of = [&](size_t, int64_t total) { return std::vector<int64_t>{0, std::min<int64_t>(per_set, total - 1)}; };
  torch::Tensor val_views = torch::zeros({0, 2, 4, config.image_size, config.image_size}, torch::kUInt8);
  if (!val_idx.empty()) {
    auto vv = load_framed_views(*reader, val_idx, config.image_size, val_views_of, std::max(1, torch::get_num_threads()), ctx.progress);
    if (!vv) return vv.error();
    val_views = *vv;
  }

  // Photo pairs (config.photo_data): the estimator's maps of photo-like renders of training parts.
  torch::Tensor photo_views, photo_present;               // [M * V, 4, s, s] uint8, [M, V] bool
  std::vector<int64_t> photo_row(train_idx.size(), -1);  // training row -> row of photo_present
  if (!config.photo_data.empty()) {
    auto rows = photo_rows(*reader, train_idx, config, ctx, &photo_views, &photo_present);
    if (!rows) return rows.error();
    photo_row = std::move(*rows);
  }

  ConvBackbone model(config.backbone);
  if (!config.init.empty() && !ctx.resume)
    if (auto st = load_weights((fs::path(config.init) / "backbone.pt").string(), *model); !st)
      return Result<AeTrainSummary>::fail(st.error().code, "init: " + st.error().message);
  model->to(ctx.device);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(config.train.lr));
  const int64_t n = train_views->size(0);
  const int64_t batch = std::min<int64_t>(config.train.batch_size, n);
  LoopHooks hooks;
  hooks.train_step = [&](int64_t step, int64_t* samples) {
    // Distinct models (no false negatives), two distinct views each; the draw depends only on (seed, step).
    std::mt19937_64 rng(ctx.seed * 7919ULL + static_cast<uint64_t>(step));
    std::vector<int64_t> si;
    std::set<int64_t> seen;
    while (static_cast<int64_t>(si.size()) < batch) {
      const auto s = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
      if (seen.insert(s).second) si.push_back(s);
    }
    std::vector<int64_t> va, vb, fa, fb, da, db;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int64_t b = 0; b < batch; ++b) {
      da.push_back(unit(rng) < config.estimator_like ? 1 : 0);
      db.push_back(unit(rng) < config.estimator_like ? 1 : 0);
      const auto a = static_cast<int64_t>(rng() % static_cast<uint64_t>(keep));
      const auto o = (a + 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(keep - 1))) % keep;
      va.push_back(a);
      vb.push_back(o);
      fa.push_back(config.mirror ? static_cast<int64_t>(rng() % 2) : 0);
      fb.push_back(config.mirror ? static_cast<int64_t>(rng() % 2) : 0);
    }
    // With photo pairs, the first view of a part that has photos is, with probability photo_share,
    // one of its photos' estimated maps (not degraded further). No draw without photo_data, so
    // other runs keep their sequence.
    std::vector<int64_t> photo_at, photo_from;
    if (photo_present.defined()) {
      const int64_t pv = photo_present.size(1);
      const auto present = photo_present.accessor<bool, 2>();
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t row = photo_row[static_cast<size_t>(si[static_cast<size_t>(b)])];
        if (row < 0 || unit(rng) >= config.photo_share) continue;
        const auto start = static_cast<int64_t>(rng() % static_cast<uint64_t>(pv));
        for (int64_t k = 0; k < pv; ++k)
          if (present[row][(start + k) % pv]) {
            photo_at.push_back(b);
            photo_from.push_back(row * pv + (start + k) % pv);
            da[static_cast<size_t>(b)] = 0;
            break;
          }
      }
    }
    auto s_t = torch::tensor(si);
    const bool degrade = config.estimator_like > 0.0;
    auto stored_a = train_views->index({s_t, torch::tensor(va)});
    if (!photo_at.empty()) stored_a.index_put_({torch::tensor(photo_at)}, photo_views.index({torch::tensor(photo_from)}));
    auto images = torch::cat({contrastive_images(stored_a, torch::tensor(fa), degrade ? torch::tensor(da) : torch::Tensor()),
                              contrastive_images(train_views->index({s_t, torch::tensor(vb)}), torch::tensor(fb),
                                                 degrade ? torch::tensor(db) : torch::Tensor())},
                             0)
                      .to(ctx.device);
    auto out = model->forward(images);  // [4B, F]: depth a, normal a, depth b, normal b
    auto ea = contrastive_features(out.narrow(0, 0, 2 * batch), batch);
    auto eb = contrastive_features(out.narrow(0, 2 * batch, 2 * batch), batch);
    auto loss = info_nce_loss(ea, eb, config.temperature);
    optimize(loss, *model, optimizer, config.train.grad_clip);
    *samples = 2 * batch;
    return loss.item<double>();
  };
  hooks.validate = [&]() -> double {
    if (val_views.size(0) < 2) return std::nan("");
    torch::NoGradGuard no_grad;
    const int64_t m = val_views.size(0);
    std::vector<torch::Tensor> emb;
    for (int64_t v = 0; v < 2; ++v) {
      std::vector<torch::Tensor> parts;
      for (int64_t s = 0; s < m; s += 256) {
        const int64_t len = std::min<int64_t>(256, m - s);
        auto images = contrastive_images(val_views.narrow(0, s, len).select(1, v), torch::zeros({len}, torch::kLong)).to(ctx.device);
        parts.push_back(contrastive_features(model->forward(images), len).to(torch::kCPU));
      }
      emb.push_back(torch::cat(parts, 0));
    }
    return 1.0 - identity_retrieval(emb[0], emb[1]).top1;  // lower is better
  };
  auto summary = run_loop("train backbone (contrastive)", config.train, ctx, *model, optimizer, hooks);
  if (!summary) return summary;
  if (fs::exists(run / "model.pt"))
    if (auto st = save_weights((run / "backbone.pt").string(), *model); !st) return st.error();
  return summary;
}

}  // namespace

Result<AeTrainSummary> train_backbone(const std::string& dataset_dir, const BackboneConfig& config,
                                      const ConditionRunContext& ctx) {
  if (config.objective == "contrastive") return train_backbone_contrastive(dataset_dir, config, ctx);
  auto reader = DatasetReader::open(dataset_dir);
  if (!reader) return reader.error();
  auto ae = load_autoencoder(ctx.ae_run, ctx.device);
  if (!ae) return ae.error();
  auto train_idx = reader->indices("train"), val_idx = reader->indices("val");
  if (train_idx.empty()) return Result<AeTrainSummary>::fail(ErrorCode::kInvalidArgument, dataset_dir + ": no training samples");
  nlohmann::json cfg = backbone_config_to_json(config);
  cfg["ae_run"] = fs::absolute(ctx.ae_run).string();
  if (auto st = prepare_run_dir(ctx, cfg, {{"stage", "backbone"}, {"data", dataset_dir}}); !st) return st.error();
  seed_everything(ctx.seed);

  // A few framed views of every sample, kept as float16 [N, K, 4, s, s] (depth once, then the
  // normal's 3 channels): 25k models x 4 views at 64^2 is ~3.4 GB; all 32 would be ~27 GB.
  const int64_t keep = config.views_per_sample;
  auto load_images = [&](const std::vector<size_t>& idx, uint64_t salt) -> Result<torch::Tensor> {
    std::vector<torch::Tensor> all;
    all.reserve(idx.size());
    ProgressBar bar("load images", static_cast<int64_t>(idx.size()), ctx.progress);
    for (size_t i : idx) {
      auto s = reader->get(i);
      if (!s) return s.error();
      const auto views = spread_views(ctx.seed * 31ULL + salt + i, s->views, keep);
      auto img = backbone_views_of_sample(*s, config.image_size, views);  // [K, 2, 3, s, s]
      all.push_back(torch::cat({img.select(1, 0).slice(1, 0, 1), img.select(1, 1)}, 1).to(torch::kHalf));
      bar.add(1);
    }
    bar.finish();
    if (all.empty()) return torch::zeros({0, keep, 4, config.image_size, config.image_size}, torch::kHalf);
    return torch::stack(all);
  };
  cap_samples(train_idx, config.max_samples, ctx.seed);
  auto train_images = load_images(train_idx, 0);
  if (!train_images) return train_images.error();
  auto z_train = latents_for(*reader, train_idx, *ae, ctx.device);
  if (!z_train) return z_train.error();
  std::vector<size_t> val_small(val_idx.begin(), val_idx.begin() + static_cast<long>(std::min<size_t>(val_idx.size(), 64)));
  auto val_images = load_images(val_small, 1);
  if (!val_images) return val_images.error();
  auto z_val = latents_for(*reader, val_small, *ae, ctx.device);
  if (!z_val) return z_val.error();

  BackboneWithHead model(config.backbone, (*ae)->options().z_dim);
  model->to(ctx.device);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(config.train.lr));
  const int64_t n = train_images->size(0), views = train_images->size(1);
  // Draw images from every loaded model and view; the z targets follow the (possibly capped) set.
  LoopHooks hooks;
  hooks.train_step = [&](int64_t step, int64_t* samples) {
    // Random (sample, view, modality) images; the draw depends only on (seed, step).
    std::mt19937_64 rng(ctx.seed * 7919ULL + static_cast<uint64_t>(step));
    std::vector<int64_t> si, vi, mi;
    for (int64_t b = 0; b < config.train.batch_size; ++b) {
      si.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(n)));
      vi.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(views)));
      mi.push_back(static_cast<int64_t>(rng() % 2));
    }
    const auto [lo, hi] = shard_of(ctx.dist, config.train.batch_size);  // this rank's share of the global batch
    auto s_t = torch::tensor(si).slice(0, lo, hi), v_t = torch::tensor(vi).slice(0, lo, hi), m_t = torch::tensor(mi).slice(0, lo, hi);
    auto images = as_rgb_modality(train_images->index({s_t, v_t}), m_t).to(ctx.device);
    auto target = z_train->index({s_t}).to(ctx.device);
    auto loss = torch::mse_loss(model->forward(images), target);
    if (ctx.dist) loss = loss * ctx.dist->share_weight(static_cast<double>(hi - lo), static_cast<double>(config.train.batch_size));
    std::vector<double> loss_sum{ctx.dist ? loss.item<double>() : 0.0};
    optimize(loss, *model, optimizer, config.train.grad_clip, ctx.dist, &loss_sum);
    *samples = config.train.batch_size;
    return logged_loss(ctx.dist, loss_sum, loss);
  };
  hooks.validate = [&]() -> double {
    if (val_images->size(0) == 0) return std::nan("");
    torch::NoGradGuard no_grad;
    // First view of each modality of up to 64 val models: MSE to z.
    double total = 0.0;
    for (int64_t m = 0; m < 2; ++m) {
      auto images = as_rgb_modality(val_images->select(1, 0), torch::full({val_images->size(0)}, m, torch::kLong)).to(ctx.device);
      total += torch::mse_loss(model->forward(images), z_val->to(ctx.device)).item<double>();
    }
    return total / 2.0;
  };
  auto summary = run_loop("train backbone", config.train, ctx, *model, optimizer, hooks);
  if (!summary) return summary;
  // The frozen backbone alone, for feature extraction.
  if (is_main_rank(ctx.dist) && fs::exists(fs::path(ctx.run_dir) / "model.pt"))
    if (auto st = save_weights((fs::path(ctx.run_dir) / "backbone.pt").string(), *model->backbone); !st) return st.error();
  return summary;
}

Result<LoadedBackbone> load_backbone(const std::string& path, const torch::Device& device) {
  LoadedBackbone out;
  if (fs::is_regular_file(path)) {
    auto ts = TorchScriptBackbone::load(path, 64, device);
    if (!ts) return ts.error();
    out.extractor = *ts;
    out.image_size = 64;
    return out;
  }
  auto text = read_file((fs::path(path) / "config.json").string());
  if (!text) return text.error();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Result<LoadedBackbone>::fail(ErrorCode::kParse, path + "/config.json: not JSON");
  if (j.is_object()) j.erase("ae_run");  // provenance written by train_backbone, not a setting
  auto config = parse_backbone_config(j, path + "/config.json");
  if (!config) return config.error();
  ConvBackbone net(config->backbone);
  if (auto st = load_weights((fs::path(path) / "backbone.pt").string(), *net); !st) return st.error();
  net->to(device);
  out.extractor = std::make_shared<ConvFeatureExtractor>(net);
  out.image_size = config->image_size;
  return out;
}

namespace {

// Backbone inputs [V, 2, 3, s, s] -> features [V, 2, F] on the CPU.
torch::Tensor features_of_views(LoadedBackbone& backbone, const torch::Tensor& images) {
  const int64_t v = images.size(0);
  return backbone.extractor->extract(images.view({v * 2, 3, images.size(3), images.size(4)})).to(torch::kCPU).view({v, 2, -1});
}

}  // namespace

Result<torch::Tensor> compute_features(const std::string& dataset_dir, const std::vector<size_t>& indices,
                                       LoadedBackbone& backbone, bool progress, int64_t views, torch::Tensor* azimuths) {
  auto reader = DatasetReader::open(dataset_dir);
  if (!reader) return reader.error();
  const int64_t count = views > 0 ? std::min<int64_t>(views, reader->views()) : reader->views();
  if (indices.empty()) {
    if (azimuths) *azimuths = torch::zeros({0, count});
    return torch::zeros({0, count, 2, backbone.extractor->feature_dim()});
  }
  auto first_views = [&](size_t, int64_t) {
    std::vector<int64_t> which(static_cast<size_t>(count));
    std::iota(which.begin(), which.end(), 0);
    return which;
  };
  // Chunks of samples decoded on every thread, then their views through the backbone in batches.
  std::vector<torch::Tensor> out, az_out;
  ProgressBar bar("features", static_cast<int64_t>(indices.size()), progress);
  const size_t chunk = 256;
  torch::NoGradGuard no_grad;
  for (size_t start = 0; start < indices.size(); start += chunk) {
    const std::vector<size_t> part(indices.begin() + static_cast<long>(start),
                                   indices.begin() + static_cast<long>(std::min(indices.size(), start + chunk)));
    torch::Tensor az;
    auto stored = load_framed_views(*reader, part, backbone.image_size, first_views, std::max(1, torch::get_num_threads()),
                                    /*progress=*/false, &az);
    if (!stored) return stored.error();
    const int64_t n = stored->size(0);
    auto flat = stored->reshape({n * count, 4, backbone.image_size, backbone.image_size});
    std::vector<torch::Tensor> feats;
    for (int64_t b = 0; b < flat.size(0); b += 256)
      feats.push_back(features_of_views(backbone, decode_views(flat.narrow(0, b, std::min<int64_t>(256, flat.size(0) - b)))));
    out.push_back(torch::cat(feats, 0).view({n, count, 2, -1}));
    az_out.push_back(az);
    bar.add(n);
  }
  bar.finish();
  if (azimuths) *azimuths = torch::cat(az_out, 0);
  return torch::cat(out, 0);
}

torch::Tensor features_of_maps(LoadedBackbone& backbone, const std::vector<GeometryMaps>& views) {
  std::vector<torch::Tensor> images;
  for (const auto& m : views) images.push_back(backbone_view_of_maps(m, backbone.image_size));
  return features_of_views(backbone, torch::stack(images));
}

// ---------------------------------------------------------------- diffusion

Result<AeTrainSummary> train_diffusion(const std::string& dataset_dir, const DiffusionConfig& config_in,
                                       const ConditionRunContext& ctx) {
  DiffusionConfig config = config_in;
  auto reader = DatasetReader::open(dataset_dir);
  if (!reader) return reader.error();
  auto ae = load_autoencoder(ctx.ae_run, ctx.device);
  if (!ae) return ae.error();
  auto backbone = load_backbone(ctx.backbone, ctx.device);
  if (!backbone) return backbone.error();
  auto train_idx = reader->indices("train"), val_idx = reader->indices("val");
  if (train_idx.empty()) return Result<AeTrainSummary>::fail(ErrorCode::kInvalidArgument, dataset_dir + ": no training samples");
  if (val_idx.size() > 64) val_idx.resize(64);
  config.geometry.feature_dim = backbone->extractor->feature_dim();
  config.denoiser.z_dim = (*ae)->options().z_dim;
  config.denoiser.cond_dim = config.geometry.d_model;
  nlohmann::json cfg = diffusion_config_to_json(config);
  cfg["ae_run"] = fs::absolute(ctx.ae_run).string();
  cfg["backbone"] = fs::absolute(ctx.backbone).string();
  if (auto st = prepare_run_dir(ctx, cfg, {{"stage", "diffusion"}, {"data", dataset_dir}}); !st) return st.error();
  seed_everything(ctx.seed);

  // Targets: z of each sample in its own frame [N, z], or in each of its four quarter turns [N, 4, z]
  // for the view frame (the first conditioning view picks the turn per step).
  const bool view_frame = config.diffusion.frame == "view";
  int64_t turn_failures = 0;
  auto z_train = view_frame ? turned_latents_for(*reader, train_idx, *ae, ctx.device, &turn_failures)
                            : latents_for(*reader, train_idx, *ae, ctx.device);
  if (!z_train) return z_train.error();
  auto z_val = view_frame ? turned_latents_for(*reader, val_idx, *ae, ctx.device, &turn_failures)
                          : latents_for(*reader, val_idx, *ae, ctx.device);
  if (!z_val) return z_val.error();
  if (turn_failures > 0)
    std::fprintf(stderr, "train diffusion: %lld turned sequences the encoder refused use the unturned one\n",
                 static_cast<long long>(turn_failures));
  // Features (and the views' azimuths) are cached: the backbone is frozen, so they never change.
  const std::string cache = (fs::path(ctx.run_dir) / "features.pt").string();
  torch::Tensor f_train, f_val, az_train, az_val;
  if (fs::exists(cache)) {
    std::vector<torch::Tensor> cached;
    torch::load(cached, cache);
    f_train = cached.at(0);
    f_val = cached.at(1);
    if (cached.size() >= 4) {
      az_train = cached.at(2);
      az_val = cached.at(3);
    }
  }
  if (!f_train.defined() || (view_frame && !az_train.defined())) {
    const int64_t cached_views = config.diffusion.feature_sets * std::max<int64_t>(1, views_per_set(*reader));
    auto ft = compute_features(dataset_dir, train_idx, *backbone, ctx.progress, cached_views, &az_train);
    if (!ft) return ft.error();
    auto fv = compute_features(dataset_dir, val_idx, *backbone, ctx.progress, cached_views, &az_val);
    if (!fv) return fv.error();
    f_train = *ft;
    f_val = *fv;
    std::vector<torch::Tensor> to_cache = {f_train, f_val, az_train, az_val};
    if (is_main_rank(ctx.dist))
      if (auto st = write_atomically(cache, [&](const std::string& tmp) -> Status {
          torch::save(to_cache, tmp);
          return {};
        });
        !st)
      return st.error();
  }
  const int64_t per_set = std::max<int64_t>(1, views_per_set(*reader));
  const int64_t total_views = f_train.size(1);
  const int64_t sets = std::max<int64_t>(1, total_views / per_set);
  const int64_t max_views = std::min(config.diffusion.max_views, per_set);

  ConditionalPrior prior(config);
  prior->to(ctx.device);
  torch::optim::Adam optimizer(prior->parameters(), torch::optim::AdamOptions(config.train.lr));
  NoiseSchedule schedule(config.diffusion.timesteps, config.diffusion.schedule);
  const int64_t n = f_train.size(0);
  // Retrieval augmentation: the bank is every training part's embedding over all its cached views.
  const int64_t k_neighbours = prior->neighbours();
  const torch::Tensor bank = k_neighbours > 0 ? multi_view_embedding(f_train) : torch::Tensor();

  // Gathers `k` views of set `set` of sample `s` into slots 0..k-1 of [max_views, 2, F].
  auto gather = [&](const torch::Tensor& feats, int64_t s, int64_t set, const std::vector<int64_t>& view_ids) {
    auto out = torch::zeros({max_views, 2, feats.size(3)});
    for (size_t k = 0; k < view_ids.size(); ++k) out[static_cast<int64_t>(k)] = feats[s][set * per_set + view_ids[k]];
    return out;
  };

  LoopHooks hooks;
  hooks.train_step = [&](int64_t step, int64_t* samples) {
    std::mt19937_64 rng(ctx.seed * 104729ULL + static_cast<uint64_t>(step));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const int64_t batch = config.train.batch_size;
    std::vector<torch::Tensor> feats, feats_all;
    auto present = torch::zeros({batch, max_views}, torch::kBool);
    auto present_all = torch::zeros({batch, max_views}, torch::kBool);
    std::vector<int64_t> sample_ids, turn_ids;
    std::vector<torch::Tensor> queries;
    auto nb_padding = torch::zeros({batch, std::max<int64_t>(1, k_neighbours)}, torch::kBool);
    for (int64_t b = 0; b < batch; ++b) {
      const auto s = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
      const auto set = static_cast<int64_t>(rng() % static_cast<uint64_t>(sets));
      std::vector<int64_t> order(static_cast<size_t>(per_set));
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      const int64_t k = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(max_views));
      std::vector<int64_t> chosen(order.begin(), order.begin() + k);
      std::sort(chosen.begin(), chosen.end());
      const bool drop = unit(rng) < config.diffusion.condition_dropout;
      feats.push_back(drop ? torch::zeros({max_views, 2, f_train.size(3)}) : gather(f_train, s, set, chosen));
      if (!drop)
        for (int64_t v = 0; v < k; ++v) present[b][v] = true;
      std::vector<int64_t> first(order.begin(), order.begin() + max_views);
      std::sort(first.begin(), first.end());
      feats_all.push_back(gather(f_train, s, set, first));
      for (int64_t v = 0; v < max_views; ++v) present_all[b][v] = true;
      sample_ids.push_back(s);
      if (view_frame) turn_ids.push_back(view_frame_quarter_turns(az_train[s][set * per_set + chosen[0]].item<float>()));
      if (k_neighbours > 0) {
        std::vector<int64_t> rows;
        for (int64_t c : chosen) rows.push_back(set * per_set + c);
        queries.push_back(views_embedding(f_train, s, rows));
        if (unit(rng) < config.diffusion.neighbour_dropout) nb_padding[b].fill_(true);
      }
    }
    auto f = torch::stack(feats).to(ctx.device);
    auto pres = present.to(ctx.device);
    auto z0 = (view_frame ? z_train->index({torch::tensor(sample_ids), torch::tensor(turn_ids)}) : z_train->index({torch::tensor(sample_ids)}))
                  .to(ctx.device);
    torch::Tensor nb, nb_pad;
    if (k_neighbours > 0) {
      nb = retrieve_neighbours(torch::stack(queries), bank, sample_ids, *z_train, z0.to(torch::kCPU), k_neighbours).to(ctx.device);
      nb_pad = nb_padding.to(ctx.device);
    }
    auto t = torch::randint(0, schedule.steps(), {batch}, torch::TensorOptions().dtype(torch::kLong)).to(ctx.device);
    auto noise = torch::randn_like(z0);
    // A data-parallel rank draws the global batch (same data, t and noise as one process) and
    // trains on its share.
    const auto [lo, hi] = shard_of(ctx.dist, batch);
    if (ctx.dist) {
      f = f.slice(0, lo, hi);
      pres = pres.slice(0, lo, hi);
      z0 = z0.slice(0, lo, hi);
      t = t.slice(0, lo, hi);
      noise = noise.slice(0, lo, hi);
      present_all = present_all.slice(0, lo, hi);
      if (nb.defined()) {
        nb = nb.slice(0, lo, hi);
        nb_pad = nb_pad.slice(0, lo, hi);
      }
    }
    auto z_t = schedule.add_noise(z0, t, noise);
    auto loss = torch::mse_loss(prior->forward(z_t, t, f, pres, nb, nb_pad), z0);
    if (config.diffusion.distill_weight > 0.0) {
      auto all_feats = torch::stack(feats_all).slice(0, lo, hi).to(ctx.device);
      auto teacher = prior->geometry->forward(all_feats, present_all.to(ctx.device)).condition;
      auto one = torch::zeros({hi - lo, max_views}, torch::kBool);
      one.select(1, 0).fill_(true);
      auto student = prior->geometry->forward(all_feats, one.to(ctx.device)).condition;
      loss = loss + config.diffusion.distill_weight * cosine_distillation_loss(student, teacher);
    }
    if (ctx.dist) loss = loss * ctx.dist->share_weight(static_cast<double>(hi - lo), static_cast<double>(batch));
    std::vector<double> loss_sum{ctx.dist ? loss.item<double>() : 0.0};
    optimize(loss, *prior, optimizer, config.train.grad_clip, ctx.dist, &loss_sum);
    *samples = batch;
    return logged_loss(ctx.dist, loss_sum, loss);
  };
  hooks.validate = [&]() -> double {
    // Mean squared error of DDIM-sampled latents (1 view: the first of set 0) against the true z.
    if (f_val.size(0) == 0) return std::nan("");
    torch::NoGradGuard no_grad;
    auto f = torch::zeros({f_val.size(0), max_views, 2, f_val.size(3)});
    f.select(1, 0).copy_(f_val.select(1, 0));
    auto pres = torch::zeros({f_val.size(0), max_views}, torch::kBool);
    pres.select(1, 0).fill_(true);
    f = f.to(ctx.device);
    pres = pres.to(ctx.device);
    torch::Tensor target = *z_val;
    if (view_frame) {
      std::vector<int64_t> q;
      for (int64_t i = 0; i < f_val.size(0); ++i) q.push_back(view_frame_quarter_turns(az_val[i][0].item<float>()));
      target = z_val->index({torch::arange(f_val.size(0)), torch::tensor(q)});
    }
    // Neighbours from the training parts by the first view's features (turned as in training).
    torch::Tensor nb;
    if (k_neighbours > 0) {
      std::vector<torch::Tensor> queries;
      for (int64_t i = 0; i < f_val.size(0); ++i) queries.push_back(views_embedding(f_val, i, {0}));
      nb = retrieve_neighbours(torch::stack(queries), bank, std::vector<int64_t>(static_cast<size_t>(f_val.size(0)), -1), *z_train,
                               target, k_neighbours)
               .to(ctx.device);
    }
    Denoiser d = [&](const torch::Tensor& z, const torch::Tensor& t) { return prior->forward(z, t, f, pres, nb); };
    SamplerOptions so;
    so.steps = 20;
    so.seed = ctx.seed;
    auto z = sample_ddim(d, schedule, f_val.size(0), target.size(1), so, ctx.device);
    return torch::mse_loss(z.to(torch::kCPU), target).item<double>();
  };
  return run_loop("train diffusion", config.train, ctx, *prior, optimizer, hooks);
}

// ---------------------------------------------------------------- generation

Result<LoadedDiffusion> load_diffusion(const std::string& run_dir, const torch::Device& device) {
  const fs::path run(run_dir);
  auto text = read_file((run / "config.json").string());
  if (!text) return text.error();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Result<LoadedDiffusion>::fail(ErrorCode::kParse, run_dir + "/config.json: not JSON");
  const std::string ae_run = j.value("ae_run", ""), backbone = j.value("backbone", "");
  j.erase("ae_run");
  j.erase("backbone");
  auto config = parse_diffusion_config(j, run_dir + "/config.json");
  if (!config) return config.error();
  // Recorded paths are absolute for runs trained here; shipped runs use paths relative to
  // their own folder (models/diffusion -> ../ae_small).
  auto resolve = [&](const std::string& p) {
    return p.empty() || fs::path(p).is_absolute() ? p : (run / p).lexically_normal().string();
  };
  LoadedDiffusion out;
  out.config = *config;
  auto ae = load_autoencoder(resolve(ae_run), device);
  if (!ae) return Result<LoadedDiffusion>::fail(ae.error().code, "autoencoder of " + run_dir + ": " + ae.error().message);
  out.autoencoder = *ae;
  auto bb = load_backbone(resolve(backbone), device);
  if (!bb) return Result<LoadedDiffusion>::fail(bb.error().code, "backbone of " + run_dir + ": " + bb.error().message);
  out.backbone = *bb;
  out.prior = ConditionalPrior(out.config);
  if (auto st = load_weights((run / "model.pt").string(), *out.prior); !st) return st.error();
  out.prior->to(device);
  out.prior->eval();
  out.features_cache = (run / "features.pt").string();
  const std::string bb_path = resolve(backbone);
  out.weight_files = {(run / "model.pt").string(), (fs::path(resolve(ae_run)) / "model.pt").string(),
                      fs::is_regular_file(bb_path) ? bb_path : (fs::path(bb_path) / "backbone.pt").string()};
  return out;
}

torch::Tensor sample_latents(LoadedDiffusion& model, const torch::Tensor& features, const torch::Tensor& view_present,
                             uint64_t seed, const torch::Device& device, int64_t steps, const torch::Tensor& neighbours,
                             const torch::Tensor& neighbour_padding) {
  torch::NoGradGuard no_grad;
  const auto& d = model.config.diffusion;
  NoiseSchedule schedule(d.timesteps, d.schedule);
  auto f = features.to(device);
  auto present = view_present.to(device);
  const torch::Tensor nb = neighbours.defined() ? neighbours.to(device) : torch::Tensor();
  const torch::Tensor nb_pad = neighbour_padding.defined() ? neighbour_padding.to(device) : torch::Tensor();
  Denoiser denoiser = [&](const torch::Tensor& z, const torch::Tensor& t) {
    return model.prior->forward(z, t, f, present, nb, nb_pad);
  };
  SamplerOptions so;
  so.steps = steps > 0 ? steps : d.sample_steps;
  so.eta = d.eta;
  so.seed = seed;
  const int64_t z_dim = model.autoencoder->options().z_dim;
  return d.sampler == "ddpm" ? sample_ddpm(denoiser, schedule, f.size(0), z_dim, so, device)
                             : sample_ddim(denoiser, schedule, f.size(0), z_dim, so, device);
}

std::pair<torch::Tensor, torch::Tensor> neighbour_latents(LoadedDiffusion& model, const std::vector<std::vector<VecRows>>& parts,
                                                          const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const int64_t k = std::max<int64_t>(1, model.prior->neighbours());
  const int64_t z_dim = model.autoencoder->options().z_dim, batch = static_cast<int64_t>(parts.size());
  auto latents = torch::zeros({batch, k, z_dim});
  auto padding = torch::ones({batch, k}, torch::kBool);
  std::vector<const VecRows*> rows;
  std::vector<std::pair<int64_t, int64_t>> slots;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < std::min<int64_t>(k, static_cast<int64_t>(parts[static_cast<size_t>(b)].size())); ++j) {
      const VecRows& r = parts[static_cast<size_t>(b)][static_cast<size_t>(j)];
      if (r.empty() || r.size() > static_cast<size_t>(kMaxSeqLen)) continue;
      rows.push_back(&r);
      slots.emplace_back(b, j);
    }
  if (!rows.empty()) {
    auto z = encode_latents(model.autoencoder, rows, device).to(torch::kCPU);
    for (size_t i = 0; i < slots.size(); ++i) {
      latents[slots[i].first][slots[i].second] = z[static_cast<int64_t>(i)];
      padding[slots[i].first][slots[i].second] = false;
    }
  }
  return {latents, padding};
}

std::pair<torch::Tensor, torch::Tensor> lead_neighbours(const torch::Tensor& neighbours, const torch::Tensor& padding,
                                                        const std::vector<int64_t>& turns) {
  const int64_t batch = neighbours.size(0), k = neighbours.size(1);
  auto pad = padding.to(torch::kCPU).contiguous();
  auto absent = pad.accessor<bool, 2>();
  auto order = torch::empty({batch, k}, torch::kLong);
  auto o = order.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<int64_t> present, missing;
    for (int64_t j = 0; j < k; ++j) (absent[b][j] ? missing : present).push_back(j);
    std::vector<int64_t> row;
    if (!present.empty()) {
      const auto n = static_cast<int64_t>(present.size());
      const int64_t turn = b < static_cast<int64_t>(turns.size()) ? turns[static_cast<size_t>(b)] : 0;
      const int64_t lead = present[static_cast<size_t>(((turn % n) + n) % n)];
      row.push_back(lead);
      for (int64_t j : present)
        if (j != lead) row.push_back(j);
    }
    row.insert(row.end(), missing.begin(), missing.end());
    for (int64_t j = 0; j < k; ++j) o[b][j] = row[static_cast<size_t>(j)];
  }
  auto idx = order.to(neighbours.device());
  return {neighbours.gather(1, idx.unsqueeze(-1).expand_as(neighbours)), padding.gather(1, idx.to(padding.device()))};
}

int64_t dataset_views_per_set(const std::string& dataset_dir) {
  auto reader = DatasetReader::open(dataset_dir);
  return reader ? views_per_set(*reader) : 4;
}

}  // namespace cadcrafter::learn
