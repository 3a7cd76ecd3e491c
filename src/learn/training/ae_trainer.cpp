#include "learn/training/ae_trainer.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "learn/training/checkpoint.h"
#include "render/random.h"
#include "util/atomic_file.h"
#include "util/progress.h"

namespace cadcrafter::learn {
namespace fs = std::filesystem;

void to_json(nlohmann::json& j, const TrainOptions& o) {
  j = {{"batch_size", o.batch_size},
       {"lr", o.lr},
       {"warmup_steps", o.warmup_steps},
       {"lr_schedule", o.lr_schedule},
       {"grad_clip", o.grad_clip},
       {"max_steps", o.max_steps},
       {"log_every", o.log_every},
       {"val_every", o.val_every},
       {"checkpoint_every", o.checkpoint_every},
       {"val_limit", o.val_limit},
       {"time_limit_min", o.time_limit_min},
       {"turn_augment", o.turn_augment},
       {"init_from", o.init_from},
       {"loss_weights", {{"command", o.weights.command}, {"args", o.weights.args}}}};
}

void from_json(const nlohmann::json& j, TrainOptions& o) {
  o.batch_size = j.value("batch_size", o.batch_size);
  o.lr = j.value("lr", o.lr);
  o.warmup_steps = j.value("warmup_steps", o.warmup_steps);
  o.lr_schedule = j.value("lr_schedule", o.lr_schedule);
  o.grad_clip = j.value("grad_clip", o.grad_clip);
  o.max_steps = j.value("max_steps", o.max_steps);
  o.log_every = j.value("log_every", o.log_every);
  o.val_every = j.value("val_every", o.val_every);
  o.checkpoint_every = j.value("checkpoint_every", o.checkpoint_every);
  o.val_limit = j.value("val_limit", o.val_limit);
  o.time_limit_min = j.value("time_limit_min", o.time_limit_min);
  o.turn_augment = j.value("turn_augment", o.turn_augment);
  o.init_from = j.value("init_from", o.init_from);
  if (j.contains("loss_weights")) {
    o.weights.command = j["loss_weights"].value("command", o.weights.command);
    o.weights.args = j["loss_weights"].value("args", o.weights.args);
  }
}

namespace {

Status check_keys(const nlohmann::json& j, const std::set<std::string>& allowed, const std::string& where) {
  if (!j.is_object()) return Status::fail(ErrorCode::kParse, where + " must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!allowed.count(it.key())) return Status::fail(ErrorCode::kParse, where + ": unknown key '" + it.key() + "'");
  return {};
}

}  // namespace

Result<AeConfig> parse_ae_config(const nlohmann::json& j, const std::string& origin) {
  AeConfig c;
  if (auto st = check_keys(j, {"model", "train", "comment", "kind"}, origin); !st) return st.error();
  try {
    if (j.contains("model")) {
      nlohmann::json defaults = c.model;
      std::set<std::string> keys;
      for (auto it = defaults.begin(); it != defaults.end(); ++it) keys.insert(it.key());
      if (auto st = check_keys(j["model"], keys, origin + ": model"); !st) return st.error();
      c.model = j["model"].get<AutoencoderOptions>();
    }
    if (j.contains("train")) {
      nlohmann::json defaults = c.train;
      std::set<std::string> keys;
      for (auto it = defaults.begin(); it != defaults.end(); ++it) keys.insert(it.key());
      if (auto st = check_keys(j["train"], keys, origin + ": train"); !st) return st.error();
      c.train = j["train"].get<TrainOptions>();
    }
  } catch (const nlohmann::json::exception& e) {
    return Result<AeConfig>::fail(ErrorCode::kParse, origin + ": " + e.what());
  }
  const auto& m = c.model;
  if (m.d_model <= 0 || m.n_heads <= 0 || m.d_model % m.n_heads != 0)
    return Result<AeConfig>::fail(ErrorCode::kInvalidArgument, origin + ": model.d_model must be a positive multiple of n_heads");
  if (m.ff_dim <= 0 || m.z_dim <= 0 || m.arg_embed_dim <= 0 || m.encoder_layers < 1 || m.decoder_layers < 1)
    return Result<AeConfig>::fail(ErrorCode::kInvalidArgument, origin + ": model sizes must be positive");
  if (m.dropout < 0.0 || m.dropout >= 1.0)
    return Result<AeConfig>::fail(ErrorCode::kInvalidArgument, origin + ": model.dropout must be in [0, 1)");
  const auto& t = c.train;
  if (t.batch_size < 1 || t.lr <= 0.0 || t.max_steps < 1 || t.warmup_steps < 0 || t.checkpoint_every < 1 || t.log_every < 1)
    return Result<AeConfig>::fail(ErrorCode::kInvalidArgument,
                                  origin + ": train.batch_size, lr, max_steps, checkpoint_every, log_every must be positive");
  if (t.lr_schedule != "constant" && t.lr_schedule != "cosine")
    return Result<AeConfig>::fail(ErrorCode::kInvalidArgument, origin + ": train.lr_schedule must be 'constant' or 'cosine'");
  return c;
}

Result<AeConfig> load_ae_config(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Result<AeConfig>::fail(ErrorCode::kParse, path + ": not valid JSON");
  return parse_ae_config(j, path);
}

AeConfig small_ae_config() {
  AeConfig c;
  c.model.d_model = 128;
  c.model.n_heads = 8;
  c.model.ff_dim = 256;
  c.model.encoder_layers = 3;
  c.model.decoder_layers = 3;
  c.model.z_dim = 256;
  c.model.arg_embed_dim = 32;
  c.train.batch_size = 64;
  c.train.lr = 1e-3;
  c.train.max_steps = 3000;
  return c;
}

nlohmann::json ae_config_to_json(const AeConfig& config) {
  return {{"kind", "ae"}, {"model", config.model}, {"train", config.train}};
}

namespace {

std::vector<const VecRows*> rows_of(const VecDataset& data, const std::vector<size_t>& indices) {
  std::vector<const VecRows*> out;
  out.reserve(indices.size());
  for (size_t i : indices) out.push_back(&data.samples[i].rows);
  return out;
}

std::string fmt(double v, const char* f = "%.5g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

std::vector<VecRows> reconstruct(CadAutoencoder& model, const std::vector<const VecRows*>& inputs,
                                 const torch::Device& device, int64_t batch_size, CommandDecoding decoding) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<VecRows> out;
  out.reserve(inputs.size());
  for (size_t start = 0; start < inputs.size(); start += static_cast<size_t>(batch_size)) {
    std::vector<const VecRows*> chunk(inputs.begin() + static_cast<long>(start),
                                      inputs.begin() + static_cast<long>(std::min(inputs.size(), start + static_cast<size_t>(batch_size))));
    auto batch = make_vec_batch(chunk).to(device);
    auto z = model->encode(batch.commands, batch.args);
    auto decoded = model->decode(z, kMaxSeqLen);
    for (auto& v : logits_to_vecs(decoded.command_logits, decoded.args_logits, decoding)) out.push_back(std::move(v));
  }
  return out;
}

torch::Tensor encode_latents(CadAutoencoder& model, const std::vector<const VecRows*>& inputs,
                             const torch::Device& device, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<torch::Tensor> parts;
  for (size_t start = 0; start < inputs.size(); start += static_cast<size_t>(batch_size)) {
    std::vector<const VecRows*> chunk(inputs.begin() + static_cast<long>(start),
                                      inputs.begin() + static_cast<long>(std::min(inputs.size(), start + static_cast<size_t>(batch_size))));
    auto batch = make_vec_batch(chunk).to(device);
    parts.push_back(model->encode(batch.commands, batch.args).to(torch::kCPU));
  }
  if (parts.empty()) return torch::zeros({0, model->options().z_dim});
  return torch::cat(parts, 0);
}

Result<CadAutoencoder> load_autoencoder(const std::string& run_dir, const torch::Device& device) {
  auto config = load_ae_config((fs::path(run_dir) / "config.json").string());
  if (!config) return config.error();
  CadAutoencoder model(config->model);
  if (auto st = load_weights((fs::path(run_dir) / "model.pt").string(), *model); !st) return st.error();
  model->to(device);
  model->eval();
  return model;
}

Result<AeTrainSummary> train_autoencoder(const VecDataset& data, const AeConfig& config, const RunContext& ctx) {
  using Clock = std::chrono::steady_clock;
  const auto& opt = config.train;
  const fs::path run(ctx.run_dir);
  const std::string ckpt_path = (run / "checkpoint.pt").string();
  std::error_code ec;
  fs::create_directories(run, ec);
  if (ec) return Result<AeTrainSummary>::fail(ErrorCode::kIo, ctx.run_dir + ": cannot create folder: " + ec.message());
  if (!ctx.resume && fs::exists(ckpt_path))
    return Result<AeTrainSummary>::fail(ErrorCode::kInvalidArgument,
                                        ctx.run_dir + " already holds a run; pass --resume or choose another -o");
  if (ctx.resume && !fs::exists(ckpt_path))
    return Result<AeTrainSummary>::fail(ErrorCode::kInvalidArgument, ctx.run_dir + ": nothing to resume (no checkpoint.pt)");

  const auto train_idx = data.split_indices("train");
  auto val_idx = data.split_indices("val");
  if (train_idx.empty()) return Result<AeTrainSummary>::fail(ErrorCode::kInvalidArgument, data.source + ": no training sequences");
  if (opt.val_limit > 0 && static_cast<int64_t>(val_idx.size()) > opt.val_limit) val_idx.resize(static_cast<size_t>(opt.val_limit));

  const bool main_rank = is_main_rank(ctx.dist);  // only rank 0 writes the run folder
  if (main_rank)
    if (auto st = write_file_atomically((run / "config.json").string(), ae_config_to_json(config).dump(2) + "\n"); !st)
      return st.error();
  nlohmann::json info = ctx.run_info;
  info["stage"] = "ae";
  info["seed"] = ctx.seed;
  info["data"] = data.source;
  info["device"] = ctx.device.str();
  info["torch_threads"] = torch::get_num_threads();
  info["train_sequences"] = train_idx.size();
  info["val_sequences"] = val_idx.size();
  info["resumed"] = ctx.resume;
  info["world_size"] = ctx.dist ? ctx.dist->world_size() : 1;
  // Quarter turns of the training sequences (turn_augment): variants[i] for train sample i.
  std::vector<std::vector<VecRows>> variants;
  if (opt.turn_augment) {
    variants.resize(data.samples.size());
    size_t total = 0;
    for (size_t i : train_idx) {
      variants[i] = quarter_turn_variants(data.samples[i].rows);
      total += variants[i].size();
    }
    info["turn_variants"] = total;
  }
  if (main_rank)
    if (auto st = write_file_atomically((run / "run.json").string(), info.dump(2) + "\n"); !st) return st.error();

  seed_everything(ctx.seed);
  CadAutoencoder model(config.model);
  model->to(ctx.device);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(opt.lr));

  CheckpointState state;
  double elapsed_before = 0.0;
  if (ctx.resume) {
    auto loaded = load_checkpoint(ckpt_path, *model, &optimizer);
    if (!loaded) return loaded.error();
    state = *loaded;
    elapsed_before = state.extra.value("elapsed_s", 0.0);
  } else if (!opt.init_from.empty()) {
    auto source_config = load_ae_config((fs::path(opt.init_from) / "config.json").string());
    if (!source_config) return source_config.error();
    if (nlohmann::json(source_config->model) != nlohmann::json(config.model))
      return Result<AeTrainSummary>::fail(ErrorCode::kInvalidArgument,
                                          "train.init_from " + opt.init_from + ": its model options differ from this config's");
    if (auto st = load_weights((fs::path(opt.init_from) / "model.pt").string(), *model); !st) return st.error();
    model->to(ctx.device);
  }
  synchronize_start(ctx.dist, *model, state.step);

  std::unique_ptr<CsvLog> log;
  if (main_rank)
    log = std::make_unique<CsvLog>((run / "log.csv").string(),
                                   std::vector<std::string>{"step", "epoch", "loss", "command_loss", "args_loss", "lr", "samples_per_s",
                                                            "val_command_acc", "val_param_acc", "elapsed_s"},
                                   ctx.resume ? state.step : 0);

  const int64_t batches_per_epoch =
      (static_cast<int64_t>(train_idx.size()) + opt.batch_size - 1) / opt.batch_size;
  int64_t cached_epoch = -1;
  std::vector<std::vector<size_t>> epoch_batches;

  AeTrainSummary summary;
  bool summary_out_of_time = false;
  ProgressBar bar("train ae", opt.max_steps, ctx.progress);
  bar.update(state.step);
  const auto t0 = Clock::now();
  auto window_start = Clock::now();
  int64_t window_samples = 0, window_steps = 0, total_samples = 0, steps_this_call = 0;
  double window_loss = 0.0, window_cmd = 0.0, window_args = 0.0;

  auto validate = [&]() -> AccuracySummary {
    if (val_idx.empty()) return {};
    auto inputs = rows_of(data, val_idx);
    auto predicted = reconstruct(model, inputs, ctx.device);
    std::vector<SequenceAccuracy> per;
    for (size_t i = 0; i < inputs.size(); ++i) per.push_back(sequence_accuracy(predicted[i], *inputs[i]));
    return summarize_accuracy(per);
  };
  auto save = [&]() -> Status {
    if (!main_rank) return {};
    state.extra["elapsed_s"] = elapsed_before + std::chrono::duration<double>(Clock::now() - t0).count();
    return save_checkpoint(ckpt_path, *model, optimizer, state);
  };

  while (state.step < opt.max_steps) {
    const int64_t epoch = state.step / batches_per_epoch;
    if (epoch != cached_epoch) {
      epoch_batches = make_length_bucketed_batches(train_idx, data.samples, opt.batch_size, ctx.seed, epoch);
      cached_epoch = epoch;
    }
    const auto& indices = epoch_batches[static_cast<size_t>(state.step % batches_per_epoch)];
    std::vector<const VecRows*> rows = rows_of(data, indices);
    if (opt.turn_augment) {
      for (size_t b = 0; b < indices.size(); ++b) {
        const auto& v = variants[indices[b]];
        const uint64_t draw = derive_seed(ctx.seed, 0x7E4A, static_cast<uint64_t>(state.step), indices[b]);
        rows[b] = &v[draw % v.size()];
      }
    }
    // A data-parallel rank trains on its share of the global batch.
    const auto [lo, hi] = shard_of(ctx.dist, static_cast<int64_t>(rows.size()));
    rows = std::vector<const VecRows*>(rows.begin() + lo, rows.begin() + hi);

    model->train();
    const double elapsed_now = elapsed_before + std::chrono::duration<double>(Clock::now() - t0).count();
    const double time_fraction = opt.time_limit_min > 0 ? elapsed_now / (60.0 * opt.time_limit_min) : 0.0;
    const double step_fraction = static_cast<double>(state.step) / static_cast<double>(opt.max_steps);
    // The schedule position: the step, advanced when the time budget is further along.
    const auto schedule_step = static_cast<int64_t>(static_cast<double>(opt.max_steps) * std::max(step_fraction, time_fraction));
    const double lr = learning_rate_at(std::max(state.step, std::min(schedule_step, opt.max_steps)), opt.lr,
                                       opt.warmup_steps, opt.max_steps, opt.lr_schedule);
    set_learning_rate(optimizer, lr);
    CadLoss loss;
    if (!rows.empty()) {
      auto batch = make_vec_batch(rows).to(ctx.device);
      auto out = model->forward(batch.commands, batch.args);
      loss = cad_loss(out.command_logits, out.args_logits, batch, opt.weights);
    }
    double command_value = 0.0, args_value = 0.0;
    if (ctx.dist) {
      // Each rank's means weighted by its share of the global counts: the averaged gradient is
      // that of the global batch's means; the weighted means ride along the gradient all-reduce.
      const auto counts = ctx.dist->sum({static_cast<double>(loss.command_count), static_cast<double>(loss.args_count)});
      std::vector<double> means{0.0, 0.0};
      if (!rows.empty()) {
        const double wc = ctx.dist->share_weight(static_cast<double>(loss.command_count), counts[0]);
        const double wa = ctx.dist->share_weight(static_cast<double>(loss.args_count), counts[1]);
        loss.total = opt.weights.command * wc * loss.command + opt.weights.args * wa * loss.args;
        means = {wc * loss.command.item<double>(), wa * loss.args.item<double>()};
      }
      distributed_step(ctx.dist, loss.total, *model, optimizer, opt.grad_clip, &means);
      command_value = means[0] / ctx.dist->world_size();
      args_value = means[1] / ctx.dist->world_size();
    } else {
      distributed_step(nullptr, loss.total, *model, optimizer, opt.grad_clip);
      command_value = loss.command.item<double>();
      args_value = loss.args.item<double>();
    }
    ++state.step;
    ++steps_this_call;

    const double loss_value = opt.weights.command * command_value + opt.weights.args * args_value;
    window_loss += loss_value;
    window_cmd += command_value;
    window_args += args_value;
    window_samples += static_cast<int64_t>(indices.size());
    total_samples += static_cast<int64_t>(indices.size());
    ++window_steps;
    summary.final_train_loss = loss_value;

    const bool out_of_time = time_fraction >= 1.0;
    const bool last = state.step == opt.max_steps || out_of_time;
    const bool val_due = last || (opt.val_every > 0 && state.step % opt.val_every == 0);
    if (state.step % opt.log_every == 0 || val_due) {
      const double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double sps = secs > 0 ? static_cast<double>(window_samples) / secs : 0.0;
      AccuracySummary val;
      if (val_due && main_rank) {
        val = validate();
        summary.val = val;
      }
      const double n = static_cast<double>(window_steps);
      const double elapsed = elapsed_before + std::chrono::duration<double>(Clock::now() - t0).count();
      if (log)
        log->row({std::to_string(state.step), std::to_string(epoch), fmt(window_loss / n), fmt(window_cmd / n),
               fmt(window_args / n), fmt(lr), fmt(sps, "%.1f"), val_due ? fmt(val.command, "%.4f") : "",
               val_due ? fmt(val.param, "%.4f") : "", fmt(elapsed, "%.1f")});
      std::string extra = "loss " + fmt(window_loss / n, "%.3f") + "  " + fmt(sps, "%.0f") + " samples/s";
      if (val_due) extra += "  val cmd " + fmt(val.command, "%.3f") + " param " + fmt(val.param, "%.3f");
      bar.update(state.step, extra);
      window_loss = window_cmd = window_args = 0.0;
      window_samples = window_steps = 0;
      window_start = Clock::now();
    } else {
      bar.update(state.step);
    }
    const bool stop_now = ctx.stop_after_steps > 0 && steps_this_call >= ctx.stop_after_steps;
    if (last || stop_now || state.step % opt.checkpoint_every == 0) {
      if (auto st = save(); !st) return st.error();
    }
    if (stop_now) break;
    if (out_of_time) {
      summary_out_of_time = true;
      break;
    }
  }
  bar.finish();
  summary.steps = state.step;
  summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  summary.samples_per_second = summary.seconds > 0 ? static_cast<double>(total_samples) / summary.seconds : 0.0;
  if (main_rank && (state.step >= opt.max_steps || summary_out_of_time)) {
    if (auto st = save_weights((run / "model.pt").string(), *model); !st) return st.error();
  }
  return summary;
}

}  // namespace cadcrafter::learn
