#include "learn/training/estimator_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>

#include "cad/cad_json.h"
#include "data/generator.h"
#include "kernel/check.h"
#include "kernel/tessellate.h"
#include "learn/training/checkpoint.h"
#include "render/render_views.h"
#include "util/atomic_file.h"
#include "util/parallel.h"
#include "util/progress.h"

namespace cadcrafter::learn {

namespace F = torch::nn::functional;
namespace fs = std::filesystem;

namespace {

// Ids of `split` from manifest.csv (last column), in file order.
Result<std::vector<std::string>> f360_ids(const std::string& dir, const std::string& split) {
  const std::string path = dir + "/manifest.csv";
  std::ifstream in(path);
  if (!in) return Result<std::vector<std::string>>::fail(ErrorCode::kIo, path + ": cannot open the F360 manifest");
  std::string line;
  std::getline(in, line);  // header
  std::vector<std::string> ids;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the shared manifest has CRLF line ends
    const auto comma = line.find(',');
    const auto last = line.rfind(',');
    if (comma == std::string::npos || last == std::string::npos) continue;
    if (line.substr(last + 1) == split) ids.push_back(line.substr(0, comma));
  }
  return ids;
}

}  // namespace

std::vector<EstimatorSample> render_estimator_samples(const std::vector<CadModel>& models,
                                                      const EstimatorDataOptions& options, int64_t* skipped) {
  std::vector<std::vector<EstimatorSample>> per_model(models.size());
  std::atomic<int64_t> failed{0};
  ProgressBar bar("render", static_cast<int64_t>(models.size()), options.progress);
  parallel_for(static_cast<int64_t>(models.size()), options.threads, [&](int64_t i, int) {
    CheckOptions check;
    check.keep_solid = true;
    check.timeout_ms = 3000;
    const CheckResult checked = check_model(models[static_cast<size_t>(i)], check);
    if (!checked.valid || checked.solid.empty()) {
      ++failed;
      bar.add();
      return;
    }
    const Mesh mesh = tessellate(checked.solid);
    if (mesh.empty()) {
      ++failed;
      bar.add();
      return;
    }
    RenderOptions render;
    render.views_per_set = 4;
    render.sets = static_cast<int>(std::max<int64_t>(1, options.views_per_model / 4));
    render.size = static_cast<int>(options.image_size);
    render.rgb = true;
    render.camera.roll_jitter_deg = 8.0f;  // hand-held photos
    render.camera.target_jitter = options.fov_max_deg > render.camera.fov_deg ? 0.25f : 0.08f;
    render.camera.fov_max_deg = options.fov_max_deg;
    render.photo.exclude = options.exclude_families;
    const auto views = render_views(mesh, render, options.seed * 1000003ULL + static_cast<uint64_t>(i));
    auto& out = per_model[static_cast<size_t>(i)];
    for (const auto& v : views) {
      EstimatorSample s;
      s.size = v.size;
      s.rgb = v.rgb;
      s.depth = v.depth;
      s.normal = v.normal;
      s.mask = v.mask;
      s.material = v.photo.material;
      s.background = v.photo.background;
      out.push_back(std::move(s));
    }
    bar.add();
  });
  bar.finish();
  std::vector<EstimatorSample> samples;
  for (auto& m : per_model)
    for (auto& s : m) samples.push_back(std::move(s));
  if (skipped) *skipped = failed.load();
  return samples;
}

Result<std::vector<EstimatorSample>> make_estimator_samples(const EstimatorDataOptions& options, int64_t* skipped) {
  if (options.views_per_model < 4 || options.views_per_model % 4 != 0)
    return Result<std::vector<EstimatorSample>>::fail(ErrorCode::kInvalidArgument,
                                                      "views_per_model must be a positive multiple of 4");
  PhotoOptions photo;
  photo.exclude = options.exclude_families;
  if (auto valid = validate_photo_options(photo); !valid) return valid.error();
  if (options.fov_max_deg != 0.0f && !(options.fov_max_deg >= 45.0f && options.fov_max_deg < 170.0f))
    return Result<std::vector<EstimatorSample>>::fail(ErrorCode::kInvalidArgument,
                                                      "fov_max_deg must be 0 or in [45, 170)");
  std::vector<CadModel> models;
  GeneratorOptions generator;
  for (int64_t k = 0; k < options.generated_models; ++k)
    models.push_back(generate_model(generator, derive_seed(options.seed, static_cast<uint64_t>(k), 0)));
  if (options.f360_models > 0) {
    if (options.f360_dir.empty())
      return Result<std::vector<EstimatorSample>>::fail(ErrorCode::kInvalidArgument,
                                                        "f360_models > 0 needs the F360 data folder");
    auto ids = f360_ids(options.f360_dir, options.f360_split);
    if (!ids) return ids.error();
    if (ids->empty())
      return Result<std::vector<EstimatorSample>>::fail(
          ErrorCode::kParse, options.f360_dir + "/manifest.csv: no models of split '" + options.f360_split + "'");
    // Spread the picks over the whole list (the manifest is ordered by complexity).
    const int64_t available = static_cast<int64_t>(ids->size());
    const int64_t count = std::min(options.f360_models, available);
    for (int64_t k = 0; k < count; ++k) {
      const auto& id = (*ids)[static_cast<size_t>(k * available / count)];
      auto model = read_cad_json(options.f360_dir + "/json/" + id + ".json");
      if (model) models.push_back(std::move(*model));
    }
  }
  return render_estimator_samples(models, options, skipped);
}


EstimatorBatch make_estimator_batch(const std::vector<const EstimatorSample*>& samples, int64_t size, bool augment,
                                    std::mt19937_64* rng) {
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<torch::Tensor> rgbs, depths, normals, masks;
  for (const EstimatorSample* s : samples) {
    const int64_t n = s->size;
    auto rgb = torch::from_blob(const_cast<uint8_t*>(s->rgb.data()), {n, n, 3}, torch::kUInt8)
                   .permute({2, 0, 1})
                   .to(torch::kFloat)
                   .div(255.0);
    auto depth = torch::from_blob(const_cast<uint16_t*>(s->depth.data()), {1, n, n}, torch::kInt16)
                     .to(torch::kInt32)
                     .bitwise_and(0xFFFF)
                     .to(torch::kFloat)
                     .div(kDepthUnitsPerLength);
    auto normal = torch::from_blob(const_cast<uint8_t*>(s->normal.data()), {n, n, 3}, torch::kUInt8)
                      .permute({2, 0, 1})
                      .to(torch::kFloat)
                      .div(127.5)
                      .sub(1.0);
    auto mask = torch::from_blob(const_cast<uint8_t*>(s->mask.data()), {1, n, n}, torch::kUInt8).gt(127).to(torch::kFloat);

    CropBox box = frame_mask(s->mask, static_cast<int>(n), static_cast<int>(n));
    bool flip = false;
    if (augment && rng) {
      if (uniform(*rng) < 0.25f) {
        box = {0.0f, 0.0f, static_cast<float>(n)};  // the coarse pass sees whole photos
      } else {
        const float margin = 0.03f + 0.3f * uniform(*rng);
        box = frame_mask(s->mask, static_cast<int>(n), static_cast<int>(n), margin);
        box.x0 += (uniform(*rng) - 0.5f) * 0.12f * box.side;
        box.y0 += (uniform(*rng) - 0.5f) * 0.12f * box.side;
      }
      flip = uniform(*rng) < 0.5f;
    }
    const bool identity = box.x0 == 0.0f && box.y0 == 0.0f && box.side == static_cast<float>(n) && n == size;
    if (!identity) {
      rgb = crop_resize(rgb, box, size, true);
      auto geometry = crop_resize(torch::cat({depth, normal, mask}, 0), box, size, false);
      depth = geometry.slice(0, 0, 1);
      normal = geometry.slice(0, 1, 4);
      mask = geometry.slice(0, 4, 5);
    }
    if (flip) {
      rgb = rgb.flip({2});
      depth = depth.flip({2});
      mask = mask.flip({2});
      normal = normal.flip({2}) * torch::tensor({-1.0f, 1.0f, 1.0f}).view({3, 1, 1});
    }
    rgbs.push_back(rgb);
    depths.push_back(depth);
    normals.push_back(normal);
    masks.push_back(mask);
  }
  EstimatorBatch batch;
  batch.rgb = torch::stack(rgbs).contiguous();
  batch.target.depth = torch::stack(depths).contiguous();
  batch.target.normal = torch::stack(normals).contiguous();
  batch.target.mask = torch::stack(masks).contiguous();
  return batch;
}

EstimatorConfig small_estimator_config() {
  EstimatorConfig c;
  c.model.image_size = 64;
  c.train.steps = 700;
  c.data.generated_models = 200;
  c.data.f360_models = 100;
  c.data.views_per_model = 8;
  c.data.seed = 1;
  c.validation.generated_models = 0;
  c.validation.f360_models = 60;
  c.validation.f360_split = "val";
  c.validation.views_per_model = 4;
  c.validation.seed = 777;
  return c;
}

namespace {

nlohmann::json data_to_json(const EstimatorDataOptions& d) {
  return {{"generated_models", d.generated_models}, {"f360_models", d.f360_models},
          {"f360_split", d.f360_split},             {"views_per_model", d.views_per_model},
          {"seed", d.seed},                         {"exclude_families", d.exclude_families},
          {"fov_max_deg", d.fov_max_deg},           {"render_size", d.render_size}};
}

Status data_from_json(const nlohmann::json& j, const std::string& where, EstimatorDataOptions* d) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "generated_models") d->generated_models = it->get<int64_t>();
    else if (k == "f360_models") d->f360_models = it->get<int64_t>();
    else if (k == "f360_split") d->f360_split = it->get<std::string>();
    else if (k == "views_per_model") d->views_per_model = it->get<int64_t>();
    else if (k == "seed") d->seed = it->get<uint64_t>();
    else if (k == "exclude_families") d->exclude_families = it->get<std::vector<std::string>>();
    else if (k == "fov_max_deg") d->fov_max_deg = it->get<float>();
    else if (k == "render_size") d->render_size = it->get<int64_t>();
    else return Status::fail(ErrorCode::kParse, where + ": unknown key '" + k + "'");
  }
  return {};
}

}  // namespace

nlohmann::json estimator_config_to_json(const EstimatorConfig& c) {
  return {{"model", c.model},
          {"data", data_to_json(c.data)},
          {"validation", data_to_json(c.validation)},
          {"train",
           {{"batch_size", c.train.batch_size},
            {"steps", c.train.steps},
            {"lr", c.train.lr},
            {"warmup_steps", c.train.warmup_steps},
            {"log_every", c.train.log_every},
            {"max_minutes", c.train.max_minutes},
            {"checkpoint_every", c.train.checkpoint_every},
            {"init_from", c.train.init_from},
            {"photometric", c.train.photometric},
            {"weights", {{"depth", c.train.weights.depth}, {"normal", c.train.weights.normal}, {"mask", c.train.weights.mask}, {"mask_iou", c.train.weights.mask_iou}}}}}};
}

Result<EstimatorConfig> parse_estimator_config(const nlohmann::json& j, const std::string& origin) {
  EstimatorConfig c = small_estimator_config();
  try {
    if (!j.is_object()) return Result<EstimatorConfig>::fail(ErrorCode::kParse, origin + ": not a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      if (k == "model") {
        for (auto m = it->begin(); m != it->end(); ++m)
          if (m.key() != "image_size" && m.key() != "base_channels" && m.key() != "levels" &&
              m.key() != "core_downsample" && m.key() != "fine_channels")
            return Result<EstimatorConfig>::fail(ErrorCode::kParse, origin + ": model: unknown key '" + m.key() + "'");
        c.model = it->get<EstimatorOptions>();
      } else if (k == "data" || k == "validation") {
        auto s = data_from_json(*it, origin + ": " + k, k == "data" ? &c.data : &c.validation);
        if (!s) return s.error();
      } else if (k == "train") {
        for (auto t = it->begin(); t != it->end(); ++t) {
          const std::string& tk = t.key();
          if (tk == "batch_size") c.train.batch_size = t->get<int64_t>();
          else if (tk == "steps") c.train.steps = t->get<int64_t>();
          else if (tk == "lr") c.train.lr = t->get<double>();
          else if (tk == "warmup_steps") c.train.warmup_steps = t->get<int64_t>();
          else if (tk == "log_every") c.train.log_every = t->get<int64_t>();
          else if (tk == "max_minutes") c.train.max_minutes = t->get<double>();
          else if (tk == "checkpoint_every") c.train.checkpoint_every = t->get<int64_t>();
          else if (tk == "init_from") c.train.init_from = t->get<std::string>();
          else if (tk == "photometric") c.train.photometric = t->get<float>();
          else if (tk == "weights") {
            c.train.weights.depth = t->value("depth", c.train.weights.depth);
            c.train.weights.normal = t->value("normal", c.train.weights.normal);
            c.train.weights.mask = t->value("mask", c.train.weights.mask);
            c.train.weights.mask_iou = t->value("mask_iou", c.train.weights.mask_iou);
          } else {
            return Result<EstimatorConfig>::fail(ErrorCode::kParse, origin + ": train: unknown key '" + tk + "'");
          }
        }
      } else {
        return Result<EstimatorConfig>::fail(ErrorCode::kParse, origin + ": unknown key '" + k + "'");
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Result<EstimatorConfig>::fail(ErrorCode::kParse, origin + ": " + e.what());
  }
  if (c.model.core_downsample != 1 && c.model.core_downsample != 2)
    return Result<EstimatorConfig>::fail(ErrorCode::kInvalidArgument, origin + ": model: core_downsample must be 1 or 2");
  if (c.train.batch_size <= 0 || c.train.steps < 0 || c.train.checkpoint_every <= 0 ||
      c.model.image_size % (c.model.core_downsample << c.model.levels) != 0)
    return Result<EstimatorConfig>::fail(ErrorCode::kInvalidArgument,
                                         origin + ": batch_size and checkpoint_every must be > 0, image_size a multiple of "
                                                  "core_downsample x 2^levels");
  for (EstimatorDataOptions* d : {&c.data, &c.validation}) {
    if (d->render_size != 0 && d->render_size < c.model.image_size)
      return Result<EstimatorConfig>::fail(ErrorCode::kInvalidArgument,
                                           origin + ": render_size must be 0 (2 x image_size) or >= image_size");
    d->image_size = d->render_size > 0 ? d->render_size : 2 * c.model.image_size;
  }
  return c;
}

namespace {

EstimatorMetrics evaluate_samples(DepthNormalEstimator& model, const std::vector<const EstimatorSample*>& samples,
                                  int64_t batch_size, bool mirror_average,
                                  const std::function<torch::Tensor(const torch::Tensor&)>& shift = {}) {
  torch::NoGradGuard no_grad;
  model->eval();
  EstimatorMetrics sums;
  for (size_t start = 0; start < samples.size(); start += static_cast<size_t>(batch_size)) {
    const auto end = std::min(samples.size(), start + static_cast<size_t>(batch_size));
    const std::vector<const EstimatorSample*> chunk(samples.begin() + static_cast<std::ptrdiff_t>(start),
                                                    samples.begin() + static_cast<std::ptrdiff_t>(end));
    const auto batch = make_estimator_batch(chunk, model->options().image_size, false, nullptr);
    const torch::Tensor rgb = shift ? shift(batch.rgb) : batch.rgb;
    accumulate_metrics(mirror_average ? forward_mirror_averaged(model, rgb) : model->forward(rgb), batch.target, &sums);
  }
  return finish_metrics(sums);
}

}  // namespace

EstimatorMetrics evaluate_estimator(DepthNormalEstimator& model, const std::vector<EstimatorSample>& samples,
                                    int64_t batch_size, bool mirror_average,
                                    const std::function<torch::Tensor(const torch::Tensor&)>& shift) {
  std::vector<const EstimatorSample*> all;
  for (const auto& sample : samples) all.push_back(&sample);
  return evaluate_samples(model, all, batch_size, mirror_average, shift);
}

namespace {

// Rec. 601 luma of photos [B, 3, H, W] -> [B, 1, H, W].
torch::Tensor luma(const torch::Tensor& rgb) {
  return (rgb.select(1, 0) * 0.299 + rgb.select(1, 1) * 0.587 + rgb.select(1, 2) * 0.114).unsqueeze(1);
}

torch::Tensor saturate(const torch::Tensor& rgb, double factor) {
  const auto grey = luma(rgb);
  return grey + (rgb - grey) * factor;
}

torch::Tensor contrast(const torch::Tensor& rgb, double factor) {
  const auto mean = luma(rgb).mean({1, 2, 3}, true);
  return mean + (rgb - mean) * factor;
}

torch::Tensor gains(const torch::Tensor& rgb, double r, double g, double b) {
  return rgb * torch::tensor({static_cast<float>(r), static_cast<float>(g), static_cast<float>(b)}).view({1, 3, 1, 1});
}

}  // namespace

torch::Tensor photometric_jitter(const torch::Tensor& rgb, float strength, std::mt19937_64& rng) {
  if (strength <= 0.0f) return rgb;
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::uniform_real_distribution<double> p(0.0, 1.0);
  const double s = strength;
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < rgb.size(0); ++i) {
    torch::Tensor x = rgb.narrow(0, i, 1);
    x = x * (1.0 + 0.35 * s * u(rng));
    x = contrast(x, 1.0 + 0.35 * s * u(rng));
    x = saturate(x, 1.0 + 0.6 * s * u(rng));
    x = gains(x, 1.0 + 0.15 * s * u(rng), 1.0 + 0.15 * s * u(rng), 1.0 + 0.15 * s * u(rng));
    x = x.clamp(0.0, 1.0).pow(std::exp(0.4 * s * u(rng)));
    if (p(rng) < 0.1 * s) x = luma(x).expand({1, 3, x.size(2), x.size(3)});
    if (p(rng) < 0.15 * s) {
      std::vector<int64_t> order = {0, 1, 2};
      std::shuffle(order.begin(), order.end(), rng);
      x = x.index_select(1, torch::tensor(order, torch::kLong));
    }
    const double sigma = 0.02 * s * p(rng);
    if (sigma > 0) {
      auto noise = torch::empty_like(x);
      // A generator-free draw from the run's rng: the trainer stays deterministic for a seed.
      std::normal_distribution<float> n(0.0f, static_cast<float>(sigma));
      auto* d = noise.data_ptr<float>();
      for (int64_t k = 0; k < noise.numel(); ++k) d[k] = n(rng);
      x = x + noise;
    }
    out.push_back(x.clamp(0.0, 1.0));
  }
  return torch::cat(out, 0).contiguous();
}

std::vector<std::pair<std::string, std::function<torch::Tensor(const torch::Tensor&)>>> foreign_colour_shifts() {
  return {
      {"gamma 1.8", [](const torch::Tensor& x) { return x.clamp(0.0, 1.0).pow(1.8); }},
      {"gamma 0.55", [](const torch::Tensor& x) { return x.clamp(0.0, 1.0).pow(0.55); }},
      {"warm, desaturated", [](const torch::Tensor& x) { return saturate(gains(x, 1.15, 1.0, 0.8), 0.5).clamp(0.0, 1.0); }},
      {"cool, contrast", [](const torch::Tensor& x) { return contrast(gains(x, 0.85, 1.0, 1.15), 1.5).clamp(0.0, 1.0); }},
  };
}

std::map<std::string, EstimatorMetrics> evaluate_estimator_by_family(DepthNormalEstimator& model,
                                                                     const std::vector<EstimatorSample>& samples,
                                                                     int64_t batch_size, bool mirror_average) {
  std::map<std::string, std::vector<const EstimatorSample*>> groups;
  for (const auto& sample : samples) {
    if (!sample.material.empty()) groups["material/" + sample.material].push_back(&sample);
    if (!sample.background.empty()) groups["background/" + sample.background].push_back(&sample);
  }
  std::map<std::string, EstimatorMetrics> out;
  for (const auto& [family, members] : groups) out[family] = evaluate_samples(model, members, batch_size, mirror_average);
  return out;
}

namespace {

nlohmann::json family_metrics_json(const std::map<std::string, EstimatorMetrics>& by_family,
                                   const std::vector<std::string>& excluded) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [family, m] : by_family) {
    auto entry = metrics_to_json(m);
    const std::string name = family.substr(family.find('/') + 1);
    entry["seen_in_training"] = std::find(excluded.begin(), excluded.end(), name) == excluded.end();
    j[family] = entry;
  }
  return j;
}

}  // namespace

Result<EstimatorTrainSummary> train_estimator(const EstimatorConfig& config, const std::string& run_dir, uint64_t seed,
                                              bool progress, bool resume) {
  using Clock = std::chrono::steady_clock;
  EstimatorTrainSummary summary;
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) return Result<EstimatorTrainSummary>::fail(ErrorCode::kIo, run_dir + ": cannot create: " + ec.message());
  const std::string checkpoint_path = run_dir + "/checkpoint.pt";
  if (resume && !fs::exists(checkpoint_path))
    return Result<EstimatorTrainSummary>::fail(ErrorCode::kIo, checkpoint_path + ": no checkpoint to resume from");
  if (!resume) {
    auto status = write_file_atomically(run_dir + "/config.json", estimator_config_to_json(config).dump(2) + "\n");
    if (!status) return status.error();
  }

  const auto render_start = Clock::now();
  EstimatorDataOptions data = config.data, validation = config.validation;
  data.image_size = data.render_size > 0 ? data.render_size : 2 * config.model.image_size;
  validation.image_size = validation.render_size > 0 ? validation.render_size : 2 * config.model.image_size;
  data.progress = validation.progress = progress;
  int64_t skipped = 0;
  auto train_samples = make_estimator_samples(data, &skipped);
  if (!train_samples) return train_samples.error();
  if (train_samples->empty())
    return Result<EstimatorTrainSummary>::fail(ErrorCode::kInvalidArgument, "no training samples could be rendered");
  std::vector<EstimatorSample> val_samples;
  if (validation.generated_models > 0 || validation.f360_models > 0) {
    auto v = make_estimator_samples(validation);
    if (!v) return v.error();
    val_samples = std::move(*v);
  }
  summary.render_seconds = std::chrono::duration<double>(Clock::now() - render_start).count();
  summary.train_samples = static_cast<int64_t>(train_samples->size());
  summary.val_samples = static_cast<int64_t>(val_samples.size());
  if (progress)
    std::fprintf(stderr, "estimator: %lld train / %lld held-out views rendered in %.0f s (%lld models skipped)\n",
                 static_cast<long long>(summary.train_samples), static_cast<long long>(summary.val_samples),
                 summary.render_seconds, static_cast<long long>(skipped));

  seed_everything(seed);
  DepthNormalEstimator model(config.model);
  if (!resume && !config.train.init_from.empty()) {
    auto source = load_estimator(config.train.init_from);
    if (!source) return source.error();
    auto copied = init_core_from(model, *source);
    if (!copied) return Result<EstimatorTrainSummary>::fail(ErrorCode::kInvalidArgument,
                                                            config.train.init_from + ": " + copied.error().message);
    if (progress)
      std::fprintf(stderr, "estimator: %lld tensors initialised from %s\n", static_cast<long long>(*copied),
                   config.train.init_from.c_str());
  }
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(config.train.lr));
  std::mt19937_64 rng(seed);
  double trained_seconds = 0.0;  // over every sitting of the run
  int64_t first_step = 0;
  if (resume) {
    auto state = load_checkpoint(checkpoint_path, *model, &optimizer);
    if (!state) return state.error();
    first_step = state->step;
    summary.resumed_from = first_step;
    trained_seconds = state->extra.value("seconds", 0.0);
    std::istringstream rng_state(state->extra.value("rng", std::string()));
    if (!(rng_state >> rng)) rng.seed(seed + static_cast<uint64_t>(first_step));
    if (progress) std::fprintf(stderr, "estimator: resuming at step %lld\n", static_cast<long long>(first_step));
  }
  CsvLog log(run_dir + "/log.csv", {"step", "loss", "depth", "normal", "mask", "lr", "seconds"}, first_step);
  auto save = [&](int64_t step) {
    CheckpointState state;
    state.step = step;
    std::ostringstream rng_state;
    rng_state << rng;
    state.extra = {{"rng", rng_state.str()}, {"seconds", trained_seconds}};
    return save_checkpoint(checkpoint_path, *model, optimizer, state);
  };
  std::uniform_int_distribution<size_t> pick(0, train_samples->size() - 1);
  auto last = Clock::now();
  const auto sitting_start = last;
  ProgressBar bar("train estimator", config.train.steps, progress);
  model->train();
  summary.steps = first_step;
  for (int64_t step = first_step; step < config.train.steps; ++step) {
    const double lr = learning_rate_at(step, config.train.lr, config.train.warmup_steps, config.train.steps, "cosine");
    set_learning_rate(optimizer, lr);
    std::vector<const EstimatorSample*> chunk;
    for (int64_t b = 0; b < config.train.batch_size; ++b) chunk.push_back(&(*train_samples)[pick(rng)]);
    const auto batch = make_estimator_batch(chunk, config.model.image_size, true, &rng);
    const torch::Tensor rgb = photometric_jitter(batch.rgb, config.train.photometric, rng);
    optimizer.zero_grad();
    const auto losses = estimator_losses(model->forward(rgb), batch.target, config.train.weights);
    losses.total.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    optimizer.step();
    const auto now = Clock::now();
    trained_seconds += std::chrono::duration<double>(now - last).count();
    last = now;
    summary.final_loss = losses.total.item<double>();
    char extra[64];
    std::snprintf(extra, sizeof extra, "loss %.3f", summary.final_loss);
    bar.update(step + 1, extra);
    if ((step + 1) % config.train.log_every == 0 || step + 1 == config.train.steps) {
      auto fmt = [](double v) { std::ostringstream s; s << v; return s.str(); };
      log.row({std::to_string(step + 1), fmt(summary.final_loss), fmt(losses.depth.item<double>()),
               fmt(losses.normal.item<double>()), fmt(losses.mask.item<double>()), fmt(lr), fmt(trained_seconds)});
    }
    summary.steps = step + 1;
    const bool out_of_time =
        (config.train.max_minutes > 0 &&
         std::chrono::duration<double>(now - sitting_start).count() > 60.0 * config.train.max_minutes) ||
        (config.train.stop_after > 0 && step + 1 - first_step >= config.train.stop_after);
    if ((step + 1) % config.train.checkpoint_every == 0 || out_of_time) {
      auto status = save(step + 1);
      if (!status) return status.error();
    }
    if (out_of_time) {
      if (progress && step + 1 < config.train.steps)
        std::fprintf(stderr, "\nestimator: this sitting's budget ends at step %lld of %lld (continue with --resume)\n",
                     static_cast<long long>(step + 1), static_cast<long long>(config.train.steps));
      break;
    }
  }
  bar.finish();
  summary.seconds = trained_seconds;
  auto status = save_estimator(run_dir + "/estimator.pt", model);
  if (!status) return status.error();
  if (!val_samples.empty()) {
    summary.val = evaluate_estimator(model, val_samples);
    summary.val_by_family = evaluate_estimator_by_family(model, val_samples);
  }
  nlohmann::json metrics = {{"steps", summary.steps},
                            {"finished", summary.steps >= config.train.steps},
                            {"train_views", summary.train_samples},
                            {"heldout_views", summary.val_samples},
                            {"heldout_source", validation.f360_models > 0 ? "f360 " + validation.f360_split
                                                                          : std::string("generated (unseen seeds)")},
                            {"excluded_families", config.data.exclude_families},
                            {"train_seconds", summary.seconds},
                            {"render_seconds", summary.render_seconds},
                            {"final_train_loss", summary.final_loss},
                            {"heldout", metrics_to_json(summary.val)},
                            {"heldout_by_family", family_metrics_json(summary.val_by_family, config.data.exclude_families)}};
  status = write_file_atomically(run_dir + "/metrics.json", metrics.dump(2) + "\n");
  if (!status) return status.error();
  return summary;
}

Result<nlohmann::json> evaluate_estimator_file(const std::string& model_path, const EstimatorConfig& config, bool progress) {
  using Clock = std::chrono::steady_clock;
  auto model = load_estimator(model_path);
  if (!model) return model.error();
  EstimatorDataOptions validation = config.validation;
  validation.image_size = validation.render_size > 0 ? validation.render_size : 2 * (*model)->options().image_size;
  validation.progress = progress;
  if (validation.generated_models <= 0 && validation.f360_models <= 0)
    return Result<nlohmann::json>::fail(ErrorCode::kInvalidArgument, "the config's validation set is empty");
  const auto render_start = Clock::now();
  auto samples = make_estimator_samples(validation);
  if (!samples) return samples.error();
  if (samples->empty()) return Result<nlohmann::json>::fail(ErrorCode::kInvalidArgument, "no held-out view could be rendered");
  const double render_seconds = std::chrono::duration<double>(Clock::now() - render_start).count();
  nlohmann::json j = {{"estimator", model_path},
                      {"image_size", (*model)->options().image_size},
                      {"heldout_views", static_cast<int64_t>(samples->size())},
                      {"heldout_source", validation.f360_models > 0 ? "f360 " + validation.f360_split
                                                                    : std::string("generated (unseen seeds)")},
                      {"heldout_seed", validation.seed},
                      {"render_seconds", render_seconds}};
  for (const bool mirror : {false, true}) {
    const auto t0 = Clock::now();
    const auto all = evaluate_estimator(*model, *samples, 32, mirror);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto by_family = evaluate_estimator_by_family(*model, *samples, 32, mirror);
    j[mirror ? "mirror_averaged" : "plain"] = {{"heldout", metrics_to_json(all)},
                                               {"heldout_by_family", family_metrics_json(by_family, config.data.exclude_families)},
                                               {"seconds", seconds}};
  }
  // The product's path (mirror-averaged) under colour shifts no renderer of ours draws.
  nlohmann::json shifted = nlohmann::json::object();
  EstimatorMetrics mean;
  const auto shifts = foreign_colour_shifts();
  for (const auto& [name, shift] : shifts) {
    const auto m = evaluate_estimator(*model, *samples, 32, true, shift);
    shifted[name] = metrics_to_json(m);
    mean.depth_abs_rel += m.depth_abs_rel / static_cast<double>(shifts.size());
    mean.normal_angle_deg += m.normal_angle_deg / static_cast<double>(shifts.size());
    mean.mask_iou += m.mask_iou / static_cast<double>(shifts.size());
    mean.images = m.images;
  }
  shifted["mean"] = metrics_to_json(mean);
  j["colour_shifted"] = shifted;
  return j;
}

}  // namespace cadcrafter::learn
