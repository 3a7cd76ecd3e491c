#include "learn/training/dpo_trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "cad/turn.h"
#include "data/dataset.h"
#include "geom/chamfer.h"
#include "kernel/batch_check.h"
#include "kernel/tessellate.h"
#include "learn/data/vec_dataset.h"
#include "learn/eval/cad_eval.h"
#include "learn/networks/samplers.h"
#include "learn/training/checkpoint.h"
#include "render/camera.h"
#include "util/atomic_file.h"
#include "util/parallel.h"
#include "util/progress.h"

namespace cadcrafter::learn {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- loss

torch::Tensor z0_errors(const torch::Tensor& z0, const torch::Tensor& predicted) {
  return (z0 - predicted).pow(2).sum(-1);
}

DpoLoss diffusion_dpo_loss(const torch::Tensor& e_theta_w, const torch::Tensor& e_ref_w, const torch::Tensor& e_theta_l,
                           const torch::Tensor& e_ref_l, double beta) {
  DpoLoss out;
  out.inside = -0.5 * beta * ((e_theta_w - e_ref_w) - (e_theta_l - e_ref_l));
  out.loss = -torch::log_sigmoid(out.inside).mean();
  out.accuracy = out.inside.numel() ? out.inside.gt(0).to(torch::kDouble).mean().item<double>() : 0.0;
  return out;
}

// ---------------------------------------------------------------- judging samples

PointCloud ground_truth_cloud(const VecRows& target, const ScoreOptions& options, std::string* why) {
  return sample_sequence_surface(target, options.n_points, options.seed, options.timeout_ms, why);
}

SampleScore score_sample(const VecRows& predicted, const PointCloud& gt, const ScoreOptions& options) {
  SampleScore s;
  std::string why;
  const PointCloud cloud = sample_sequence_surface(predicted, options.n_points, options.seed, options.timeout_ms, &why);
  s.valid = !cloud.empty();
  if (!s.valid) {
    s.reason = why;
    return s;
  }
  if (!gt.empty()) s.chamfer = deepcad_chamfer(gt, cloud);
  return s;
}

std::vector<PairChoice> choose_pairs(const std::vector<SampleScore>& scores, const PairRule& rule) {
  std::vector<PairChoice> out;
  int best = -1;
  for (size_t i = 0; i < scores.size(); ++i)
    if (scores[i].valid && std::isfinite(scores[i].chamfer) && (best < 0 || scores[i].chamfer < scores[static_cast<size_t>(best)].chamfer))
      best = static_cast<int>(i);
  if (best < 0) return out;
  const double best_cd = scores[static_cast<size_t>(best)].chamfer;
  for (size_t i = 0; i < scores.size() && static_cast<int>(out.size()) < rule.max_pairs_per_input; ++i)
    if (!scores[i].valid) out.push_back({best, static_cast<int>(i)});
  std::vector<int> far;
  for (size_t i = 0; i < scores.size(); ++i)
    if (scores[i].valid && std::isfinite(scores[i].chamfer) && scores[i].chamfer > best_cd &&
        scores[i].chamfer >= rule.far_ratio * best_cd)
      far.push_back(static_cast<int>(i));
  std::sort(far.begin(), far.end(), [&](int a, int b) { return scores[static_cast<size_t>(a)].chamfer > scores[static_cast<size_t>(b)].chamfer; });
  for (int i : far) {
    if (static_cast<int>(out.size()) >= rule.max_pairs_per_input) break;
    out.push_back({best, i});
  }
  return out;
}

// ---------------------------------------------------------------- sampling

namespace {

torch::Tensor sample_z(ConditionalPrior& model, const NoiseSchedule& schedule, const torch::Tensor& features,
                       const torch::Tensor& present, const DpoOptions& options, uint64_t seed) {
  torch::NoGradGuard no_grad;
  model->eval();
  const auto device = model->parameters().front().device();
  auto f = features.to(device);
  auto p = present.to(device);
  Denoiser d = [&](const torch::Tensor& z, const torch::Tensor& t) { return model->forward(z, t, f, p); };
  SamplerOptions so;
  so.steps = options.sample_steps;
  so.eta = options.eta;
  so.seed = seed;
  const int64_t dim = model->denoiser->options().z_dim;
  auto z = options.sampler == "ddpm" ? sample_ddpm(d, schedule, f.size(0), dim, so, device)
                                     : sample_ddim(d, schedule, f.size(0), dim, so, device);
  return z.to(torch::kCPU);
}

nlohmann::json cd_json(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

struct CollectionFiles {
  fs::path pt, jsonl, state;
  explicit CollectionFiles(const std::string& dir)
      : pt(fs::path(dir) / "pairs.pt"), jsonl(fs::path(dir) / "pairs.jsonl"), state(fs::path(dir) / "collection.json") {}
};

Status save_collection(const CollectionFiles& files, const DpoPairs& pairs) {
  std::vector<torch::Tensor> tensors = {pairs.z_w, pairs.z_l, torch::tensor(pairs.input, torch::kLong)};
  if (auto st = write_atomically(files.pt.string(), [&](const std::string& tmp) -> Status {
        torch::save(tensors, tmp);
        return {};
      });
      !st)
    return st;
  std::string lines;
  for (const auto& m : pairs.meta) lines += m.dump() + "\n";
  if (auto st = write_file_atomically(files.jsonl.string(), lines); !st) return st;
  // Written last: a kill between the writes leaves a state that counts only what is complete.
  const nlohmann::json state = {{"inputs_done", pairs.inputs_done}, {"pairs", pairs.size()}, {"samples", pairs.samples},
                                {"invalid_samples", pairs.invalid_samples}, {"no_valid_inputs", pairs.no_valid_inputs}};
  return write_file_atomically(files.state.string(), state.dump(2) + "\n");
}

Status load_collection(const CollectionFiles& files, DpoPairs* pairs) {
  auto text = read_file(files.state.string());
  if (!text) return text.error();
  const auto state = nlohmann::json::parse(*text, nullptr, false);
  if (state.is_discarded() || !state.is_object()) return Status::fail(ErrorCode::kParse, files.state.string() + ": not JSON");
  const int64_t n = state.value("pairs", int64_t{0});
  std::vector<torch::Tensor> tensors;
  try {
    torch::load(tensors, files.pt.string());
  } catch (const c10::Error&) {
    return Status::fail(ErrorCode::kParse, files.pt.string() + ": cannot read the saved pairs");
  }
  if (tensors.size() != 3 || tensors[0].size(0) < n || tensors[2].size(0) < n)
    return Status::fail(ErrorCode::kParse, files.pt.string() + ": holds fewer pairs than " + files.state.string() + " counts");
  std::ifstream in(files.jsonl);
  std::string line;
  std::vector<nlohmann::json> meta;
  while (static_cast<int64_t>(meta.size()) < n && std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return Status::fail(ErrorCode::kParse, files.jsonl.string() + ": line " + std::to_string(meta.size() + 1) + " is not JSON");
    meta.push_back(std::move(j));
  }
  if (static_cast<int64_t>(meta.size()) < n)
    return Status::fail(ErrorCode::kParse, files.jsonl.string() + ": holds fewer pairs than " + files.state.string() + " counts");
  pairs->z_w = tensors[0].narrow(0, 0, n).clone();
  pairs->z_l = tensors[1].narrow(0, 0, n).clone();
  auto in_rows = tensors[2].narrow(0, 0, n).contiguous();
  pairs->input.assign(in_rows.data_ptr<int64_t>(), in_rows.data_ptr<int64_t>() + n);
  pairs->meta = std::move(meta);
  pairs->inputs_done = state.value("inputs_done", int64_t{0});
  pairs->samples = state.value("samples", int64_t{0});
  pairs->invalid_samples = state.value("invalid_samples", int64_t{0});
  pairs->no_valid_inputs = state.value("no_valid_inputs", int64_t{0});
  return {};
}

}  // namespace

Result<DpoPairs> collect_dpo_pairs(ConditionalPrior& model, const NoiseSchedule& schedule, const DpoInputs& inputs,
                                   const LatentDecoder& decode, const DpoOptions& options, uint64_t seed, const std::string& dir,
                                   bool resume, bool progress) {
  using R = Result<DpoPairs>;
  const int64_t n = inputs.size();
  if (n == 0) return R::fail(ErrorCode::kInvalidArgument, "DPO: no training inputs");
  if (options.samples_per_input < 2) return R::fail(ErrorCode::kInvalidArgument, "DPO: samples_per_input must be >= 2 to make pairs");
  const int64_t k = options.samples_per_input;
  const int64_t z_dim = model->denoiser->options().z_dim;
  DpoPairs out;
  out.z_w = torch::zeros({0, z_dim});
  out.z_l = torch::zeros({0, z_dim});
  const CollectionFiles files(dir);
  if (!dir.empty() && resume && fs::exists(files.state))
    if (auto st = load_collection(files, &out); !st) return st.error();
  if (out.z_w.size(1) != z_dim) return R::fail(ErrorCode::kInvalidArgument, dir + ": saved pairs have another latent size");

  const int64_t total = n * std::max<int64_t>(1, options.max_passes);
  std::vector<PointCloud> gt(static_cast<size_t>(n));
  std::vector<char> gt_done(static_cast<size_t>(n), 0);
  std::vector<std::string> gt_why(static_cast<size_t>(n));
  ProgressBar bar("collect DPO pairs", options.pairs, progress);
  bar.update(std::min(out.size(), options.pairs));
  while (out.size() < options.pairs && out.inputs_done < total) {
    const int64_t begin = out.inputs_done, end = std::min(total, begin + std::max<int64_t>(1, options.chunk_inputs));
    std::vector<int64_t> rows;
    for (int64_t pos = begin; pos < end; ++pos) rows.push_back(pos % n);
    const auto row_t = torch::tensor(rows, torch::kLong);
    auto f = inputs.features.index({row_t}).repeat_interleave(k, 0);
    auto p = inputs.present.index({row_t}).repeat_interleave(k, 0);
    auto z = sample_z(model, schedule, f, p, options, seed * 1000003ULL + static_cast<uint64_t>(begin));
    const std::vector<VecRows> vecs = decode(z);
    // Ground truths first (once per input), then every sample, on the kernel in parallel.
    std::vector<int64_t> need;
    for (int64_t r : rows)
      if (!gt_done[static_cast<size_t>(r)]) {
        gt_done[static_cast<size_t>(r)] = 1;
        need.push_back(r);
      }
    parallel_for(static_cast<int64_t>(need.size()), options.threads, [&](int64_t i, int) {
      const auto r = static_cast<size_t>(need[static_cast<size_t>(i)]);
      gt[r] = ground_truth_cloud(inputs.targets[r], options.score, &gt_why[r]);
    });
    std::vector<SampleScore> scores(vecs.size());
    parallel_for(static_cast<int64_t>(vecs.size()), options.threads, [&](int64_t i, int) {
      const auto r = static_cast<size_t>(rows[static_cast<size_t>(i / k)]);
      scores[static_cast<size_t>(i)] = score_sample(vecs[static_cast<size_t>(i)], gt[r], options.score);
    });
    std::vector<torch::Tensor> zw, zl;
    for (size_t c = 0; c < rows.size(); ++c) {
      const int64_t r = rows[c];
      std::vector<SampleScore> mine(scores.begin() + static_cast<long>(c * static_cast<size_t>(k)),
                                    scores.begin() + static_cast<long>((c + 1) * static_cast<size_t>(k)));
      for (const auto& s : mine) out.invalid_samples += s.valid ? 0 : 1;
      out.samples += k;
      if (gt[static_cast<size_t>(r)].empty()) continue;  // no ground truth to measure against
      const auto chosen = choose_pairs(mine, options.rule);
      if (chosen.empty() && std::none_of(mine.begin(), mine.end(), [](const SampleScore& s) { return s.valid; })) ++out.no_valid_inputs;
      for (const auto& pc : chosen) {
        const int64_t w = static_cast<int64_t>(c) * k + pc.preferred, l = static_cast<int64_t>(c) * k + pc.rejected;
        zw.push_back(z[w]);
        zl.push_back(z[l]);
        out.input.push_back(r);
        const auto& sw = mine[static_cast<size_t>(pc.preferred)];
        const auto& sl = mine[static_cast<size_t>(pc.rejected)];
        nlohmann::json m = {{"input", r},
                            {"pass", (begin + static_cast<int64_t>(c)) / n},
                            {"preferred", {{"sample", pc.preferred}, {"chamfer", cd_json(sw.chamfer)}}},
                            {"rejected", {{"sample", pc.rejected}, {"valid", sl.valid}, {"chamfer", cd_json(sl.chamfer)}}}};
        if (!sl.valid) m["rejected"]["reason"] = sl.reason;
        m["why"] = sl.valid ? "farther" : "invalid";
        if (static_cast<size_t>(r) < inputs.ids.size()) m["id"] = inputs.ids[static_cast<size_t>(r)];
        out.meta.push_back(std::move(m));
      }
    }
    if (!zw.empty()) {
      out.z_w = torch::cat({out.z_w, torch::stack(zw)});
      out.z_l = torch::cat({out.z_l, torch::stack(zl)});
    }
    out.inputs_done = end;
    if (!dir.empty())
      if (auto st = save_collection(files, out); !st) return st.error();
    bar.update(std::min(out.size(), options.pairs),
               std::to_string(out.invalid_samples) + "/" + std::to_string(out.samples) + " samples invalid");
  }
  bar.finish();
  return out;
}

// ---------------------------------------------------------------- measuring

SingleSampleFigures measure_single_samples(ConditionalPrior& model, const NoiseSchedule& schedule, const DpoInputs& inputs,
                                           const LatentDecoder& decode, const DpoOptions& options, uint64_t seed, bool progress) {
  SingleSampleFigures fig;
  const int64_t n = inputs.size();
  fig.inputs = n;
  if (n == 0) return fig;
  std::vector<VecRows> vecs;
  const int64_t chunk = 64;
  for (int64_t b = 0; b < n; b += chunk) {
    const int64_t m = std::min(chunk, n - b);
    auto z = sample_z(model, schedule, inputs.features.narrow(0, b, m), inputs.present.narrow(0, b, m), options,
                      seed * 7919ULL + static_cast<uint64_t>(b));
    auto got = decode(z);
    vecs.insert(vecs.end(), got.begin(), got.end());
  }
  std::vector<SampleScore> scores(static_cast<size_t>(n));
  std::vector<char> gt_ok(static_cast<size_t>(n), 0);
  ProgressBar bar("judge samples", n, progress);
  parallel_for(n, options.threads, [&](int64_t i, int) {
    const auto k = static_cast<size_t>(i);
    const PointCloud gt = ground_truth_cloud(inputs.targets[k], options.score);
    gt_ok[k] = !gt.empty();
    if (gt_ok[k]) scores[k] = score_sample(vecs[k], gt, options.score);
    bar.add(1);
  });
  bar.finish();
  std::vector<double> cds;
  for (size_t k = 0; k < scores.size(); ++k) {
    if (!gt_ok[k]) continue;
    ++fig.gt_valid;
    if (!scores[k].valid) {
      ++fig.invalid;
      const std::string& r = scores[k].reason;
      // The kind of reason: its text up to the first digit (ids and numbers differ per model).
      std::string kind;
      for (char c : r) {
        if (std::isdigit(static_cast<unsigned char>(c)) || c == '(') break;
        kind += c;
      }
      while (!kind.empty() && (kind.back() == ' ' || kind.back() == ':' || kind.back() == ',')) kind.pop_back();
      ++fig.reasons[kind.empty() ? "other" : kind];
    } else if (std::isfinite(scores[k].chamfer)) {
      cds.push_back(scores[k].chamfer);
    }
  }
  fig.invalid_ratio = fig.gt_valid ? static_cast<double>(fig.invalid) / static_cast<double>(fig.gt_valid) : 0.0;
  fig.chamfer_median = median_of(cds);
  return fig;
}

nlohmann::json figures_to_json(const SingleSampleFigures& f) {
  return {{"inputs", f.inputs},
          {"ground_truth_valid", f.gt_valid},
          {"invalid", f.invalid},
          {"invalid_ratio", f.invalid_ratio},
          {"chamfer_median", cd_json(f.chamfer_median)},
          {"invalid_reasons", f.reasons}};
}

// ---------------------------------------------------------------- DPO steps

Result<FineTuneSummary> train_dpo_steps(ConditionalPrior& policy, ConditionalPrior& reference, const NoiseSchedule& schedule,
                                        const DpoInputs& inputs, const DpoPairs& pairs, double beta, const TrainOptions& train,
                                        const RunContext& ctx) {
  const int64_t count = pairs.size();
  if (count == 0) return Result<FineTuneSummary>::fail(ErrorCode::kInvalidArgument, "DPO: no pairs to train on");
  if (!(beta > 0.0)) return Result<FineTuneSummary>::fail(ErrorCode::kInvalidArgument, "DPO: beta must be > 0");
  reference->eval();
  for (auto& p : reference->parameters()) p.set_requires_grad(false);
  const auto device = ctx.device;
  const auto input_rows = torch::tensor(pairs.input, torch::kLong);

  // Errors of both models on pairs `idx` at timesteps t with noise eps -> the DPO loss.
  auto loss_of = [&](const torch::Tensor& idx, const torch::Tensor& t, const torch::Tensor& eps) {
    const int64_t b = idx.size(0);
    auto rows = input_rows.index({idx});
    auto f = inputs.features.index({rows}).to(device);
    auto pres = inputs.present.index({rows}).to(device);
    auto zw = pairs.z_w.index({idx}).to(device), zl = pairs.z_l.index({idx}).to(device);
    auto z0 = torch::cat({zw, zl});
    auto tt = torch::cat({t, t}).to(device);
    auto e = eps.to(device);
    auto zt = schedule.add_noise(z0, tt, torch::cat({e, e}));  // one noise per pair, shared by winner and loser
    auto f2 = torch::cat({f, f}), p2 = torch::cat({pres, pres});
    auto e_theta = z0_errors(z0, policy->forward(zt, tt, f2, p2));
    torch::Tensor e_ref;
    {
      torch::NoGradGuard no_grad;
      e_ref = z0_errors(z0, reference->forward(zt, tt, f2, p2));
    }
    return diffusion_dpo_loss(e_theta.narrow(0, 0, b), e_ref.narrow(0, 0, b), e_theta.narrow(0, b, b), e_ref.narrow(0, b, b), beta);
  };

  torch::optim::Adam optimizer(policy->parameters(), torch::optim::AdamOptions(train.lr));
  FineTuneHooks hooks;
  hooks.train_step = [&](int64_t step, int64_t* samples) {
    std::mt19937_64 rng(ctx.seed * 104729ULL + static_cast<uint64_t>(step));
    std::vector<int64_t> pick(static_cast<size_t>(train.batch_size));
    for (auto& i : pick) i = static_cast<int64_t>(rng() % static_cast<uint64_t>(count));
    auto idx = torch::tensor(pick, torch::kLong);
    auto t = torch::randint(0, schedule.steps(), {train.batch_size}, torch::TensorOptions().dtype(torch::kLong));
    auto eps = torch::randn({train.batch_size, pairs.z_w.size(1)});
    auto l = loss_of(idx, t, eps);
    optimizer.zero_grad();
    l.loss.backward();
    if (train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(policy->parameters(), train.grad_clip);
    optimizer.step();
    *samples = train.batch_size;
    return l.loss.item<double>();
  };
  // Held-fixed check batch (the first pairs, fixed t and noise): the DPO loss and the share of
  // pairs the policy ranks more like the checker than the reference does.
  hooks.val_columns = {"pair_loss", "pair_accuracy"};
  hooks.validate = [&]() -> std::vector<double> {
    torch::NoGradGuard no_grad;
    const int64_t m = std::min<int64_t>(count, 256);
    auto gen = at::detail::createCPUGenerator(ctx.seed + 17);
    auto t = at::randint(0, schedule.steps(), {m}, gen, torch::TensorOptions().dtype(torch::kLong));
    auto eps = at::normal(0.0, 1.0, {m, pairs.z_w.size(1)}, gen);
    auto l = loss_of(torch::arange(m), t, eps);
    return {l.loss.item<double>(), l.accuracy};
  };
  return run_fine_tune_loop("train dpo", train, ctx, *policy, optimizer, hooks);
}

// ---------------------------------------------------------------- the CLI stage

TrainOptions default_dpo_train_options() {
  TrainOptions t;
  t.batch_size = 32;
  t.lr = 1e-5;
  t.warmup_steps = 10;
  t.lr_schedule = "constant";
  t.grad_clip = 1.0;
  t.max_steps = 200;
  t.log_every = 10;
  t.val_every = 50;
  t.checkpoint_every = 50;
  return t;
}

nlohmann::json dpo_stage_options_to_json(const DpoStageOptions& o) {
  const auto& d = o.dpo;
  return {{"pairs", d.pairs},
          {"samples_per_input", d.samples_per_input},
          {"max_passes", d.max_passes},
          {"far_ratio", d.rule.far_ratio},
          {"max_pairs_per_input", d.rule.max_pairs_per_input},
          {"beta", d.beta},
          {"sample_steps", d.sample_steps},
          {"sampler", d.sampler},
          {"eta", d.eta},
          {"n_points", d.score.n_points},
          {"timeout_ms", d.score.timeout_ms},
          {"max_inputs", o.max_inputs},
          {"views", o.views},
          {"eval_inputs", o.eval_inputs},
          {"decoding", o.decoding},
          {"train", o.train},
          {"loss", "diffusion_dpo_z0: -log sigmoid(-beta/2 [(e_theta_w - e_ref_w) - (e_theta_l - e_ref_l)]), e = sum over latent dims "
                   "of (z0 - f(z_t, t))^2, shared t and noise per pair, omega(t) = 1 in z0 units, T folded into beta"}};
}

namespace {

// Conditions of `idx` (features [N, S, 2, F] of the first rendering set's S views, their azimuths
// [N, S]) with `k_of(i)` views each (drawn among the S, sorted; the first decides the view frame),
// in a [N, max_views] layout.
DpoInputs make_inputs(const torch::Tensor& feats, const torch::Tensor& az, const std::vector<VecRows>& gts,
                      const std::vector<std::string>& ids, int64_t max_views, bool view_frame,
                      const std::function<std::vector<int64_t>(size_t)>& views_of) {
  DpoInputs in;
  const int64_t n = feats.size(0);
  in.features = torch::zeros({n, max_views, 2, feats.size(3)});
  in.present = torch::zeros({n, max_views}, torch::kBool);
  for (int64_t i = 0; i < n; ++i) {
    const auto chosen = views_of(static_cast<size_t>(i));
    for (size_t v = 0; v < chosen.size(); ++v) {
      in.features[i][static_cast<int64_t>(v)].copy_(feats[i][chosen[v]]);
      in.present[i][static_cast<int64_t>(v)] = true;
    }
    const VecRows& g = gts[static_cast<size_t>(i)];
    if (view_frame) {
      const int q = view_frame_quarter_turns(az[i][chosen.front()].item<float>());
      auto t = turn_vec(g, -q);
      in.targets.push_back(t ? *t : g);
    } else {
      in.targets.push_back(g);
    }
  }
  in.ids = ids;
  return in;
}

}  // namespace

Result<DpoStageSummary> train_dpo(const std::string& dataset_dir, const std::string& diffusion_run, const DpoStageOptions& o,
                                  const RunContext& ctx) {
  using R = Result<DpoStageSummary>;
  using Clock = std::chrono::steady_clock;
  CommandDecoding decoding;
  if (!parse_decoding(o.decoding, &decoding)) return R::fail(ErrorCode::kInvalidArgument, "decoding must be grammar or argmax");
  if (o.dpo.pairs < 1 || o.dpo.samples_per_input < 2 || o.dpo.rule.max_pairs_per_input < 1 || !(o.dpo.rule.far_ratio > 1.0) ||
      !(o.dpo.beta > 0.0) || o.dpo.sample_steps < 1 || o.max_inputs < 0 || o.views < 0 || o.eval_inputs < 0 ||
      o.train.max_steps < 1 || o.train.batch_size < 1 || !(o.train.lr > 0.0))
    return R::fail(ErrorCode::kInvalidArgument,
                   "DPO: pairs >= 1, samples per input >= 2, pairs per input >= 1, far ratio > 1, beta > 0, sample steps >= 1, "
                   "steps >= 1, batch >= 1, lr > 0; inputs, views and eval inputs >= 0");
  if (o.dpo.sampler != "ddim" && o.dpo.sampler != "ddpm") return R::fail(ErrorCode::kInvalidArgument, "sampler must be ddim or ddpm");
  const fs::path run(ctx.run_dir);
  const fs::path source(diffusion_run);
  if (!fs::is_regular_file(source / "config.json") || !fs::is_regular_file(source / "model.pt"))
    return R::fail(ErrorCode::kIo, diffusion_run + ": not a diffusion run folder (config.json + model.pt)");
  if (fs::weakly_canonical(source) == fs::weakly_canonical(run))
    return R::fail(ErrorCode::kInvalidArgument, "the DPO run folder must not be the diffusion run it tunes");
  const bool started = fs::exists(run / "collection.json") || fs::exists(run / "checkpoint.pt");
  if (!ctx.resume && started) return R::fail(ErrorCode::kInvalidArgument, ctx.run_dir + " already holds a DPO run; pass --resume or choose another -o");
  if (ctx.resume && !started) return R::fail(ErrorCode::kInvalidArgument, ctx.run_dir + ": nothing to resume (no collection.json)");

  auto model = load_diffusion(diffusion_run, ctx.device);
  if (!model) return model.error();
  ConditionalPrior reference(model->config);
  if (auto st = load_weights((source / "model.pt").string(), *reference); !st) return st.error();
  reference->to(ctx.device);
  auto reader = DatasetReader::open(dataset_dir);
  if (!reader) return reader.error();
  auto train_idx = reader->indices("train");
  auto val_idx = reader->indices("val");
  if (train_idx.empty()) return R::fail(ErrorCode::kInvalidArgument, dataset_dir + ": no training samples to collect pairs on");
  if (o.max_inputs > 0 && static_cast<int64_t>(train_idx.size()) > o.max_inputs) {
    std::mt19937_64 rng(ctx.seed);
    std::shuffle(train_idx.begin(), train_idx.end(), rng);
    train_idx.resize(static_cast<size_t>(o.max_inputs));
    std::sort(train_idx.begin(), train_idx.end());
  }
  if (static_cast<int64_t>(val_idx.size()) > o.eval_inputs) val_idx.resize(static_cast<size_t>(o.eval_inputs));

  // The run folder: a diffusion run like the source (its config, with absolute paths to the
  // autoencoder and backbone it names), plus the DPO settings.
  std::error_code ec;
  fs::create_directories(run, ec);
  if (ec) return R::fail(ErrorCode::kIo, ctx.run_dir + ": cannot create folder: " + ec.message());
  auto src_text = read_file((source / "config.json").string());
  if (!src_text) return src_text.error();
  auto cfg = nlohmann::json::parse(*src_text, nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) return R::fail(ErrorCode::kParse, diffusion_run + "/config.json: not JSON");
  for (const char* key : {"ae_run", "backbone"}) {
    const std::string p = cfg.value(key, std::string());
    if (!p.empty() && !fs::path(p).is_absolute()) cfg[key] = fs::absolute(source / p).lexically_normal().string();
  }
  if (auto st = write_file_atomically((run / "config.json").string(), cfg.dump(2) + "\n"); !st) return st.error();
  if (auto st = write_file_atomically((run / "dpo.json").string(), dpo_stage_options_to_json(o).dump(2) + "\n"); !st) return st.error();
  nlohmann::json info = ctx.run_info;
  info.update({{"stage", "dpo"}, {"data", dataset_dir}, {"source_model", fs::absolute(source).lexically_normal().string()},
               {"seed", ctx.seed}, {"device", ctx.device.str()}, {"torch_threads", torch::get_num_threads()}, {"resumed", ctx.resume}});
  if (auto st = write_file_atomically((run / "run.json").string(), info.dump(2) + "\n"); !st) return st.error();
  seed_everything(ctx.seed);

  // Inputs: backbone features of the first rendering set (cached in the run: the backbone is frozen).
  const auto& dset = model->config.diffusion;
  const bool view_frame = dset.frame == "view";
  const int64_t per_set = dataset_views_per_set(dataset_dir);
  const int64_t max_views = dset.max_views;
  const int64_t usable = std::min(max_views, per_set);
  const std::string cache = (run / "inputs.pt").string();
  torch::Tensor f_train, az_train, f_val, az_val;
  if (fs::exists(cache)) {
    std::vector<torch::Tensor> cached;
    torch::load(cached, cache);
    if (cached.size() == 4 && cached[0].size(0) == static_cast<int64_t>(train_idx.size()) &&
        cached[2].size(0) == static_cast<int64_t>(val_idx.size())) {
      f_train = cached[0];
      az_train = cached[1];
      f_val = cached[2];
      az_val = cached[3];
    }
  }
  if (!f_train.defined()) {
    auto ft = compute_features(dataset_dir, train_idx, model->backbone, ctx.progress, per_set, &az_train);
    if (!ft) return ft.error();
    f_train = *ft;
    auto fv = compute_features(dataset_dir, val_idx, model->backbone, ctx.progress, per_set, &az_val);
    if (!fv) return fv.error();
    f_val = *fv;
    std::vector<torch::Tensor> to_cache = {f_train, az_train, f_val, az_val};
    if (auto st = write_atomically(cache, [&](const std::string& tmp) -> Status {
          torch::save(to_cache, tmp);
          return {};
        });
        !st)
      return st.error();
  }
  auto gts_train = read_sample_vecs(*reader, train_idx);
  if (!gts_train) return gts_train.error();
  auto gts_val = read_sample_vecs(*reader, val_idx);
  if (!gts_val) return gts_val.error();
  std::vector<std::string> ids_train, ids_val;
  for (size_t i : train_idx) ids_train.push_back(reader->info(i).id);
  for (size_t i : val_idx) ids_val.push_back(reader->info(i).id);
  // Training inputs: `views` views (or 1..usable drawn per input) among the first set's.
  const DpoInputs train_in = make_inputs(f_train, az_train, *gts_train, ids_train, max_views, view_frame, [&](size_t i) {
    std::mt19937_64 rng(ctx.seed * 31ULL + i);
    std::vector<int64_t> order(static_cast<size_t>(per_set));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const int64_t k = o.views > 0 ? std::min(o.views, usable) : 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(usable));
    std::vector<int64_t> chosen(order.begin(), order.begin() + k);
    std::sort(chosen.begin(), chosen.end());
    return chosen;
  });
  // Validation: view 0 alone, and views 0..usable-1 (the eval command's inputs).
  auto first_k = [](int64_t k) {
    return [k](size_t) {
      std::vector<int64_t> v(static_cast<size_t>(k));
      std::iota(v.begin(), v.end(), 0);
      return v;
    };
  };
  const DpoInputs val_1 = val_idx.empty() ? DpoInputs{} : make_inputs(f_val, az_val, *gts_val, ids_val, max_views, view_frame, first_k(1));
  const DpoInputs val_all =
      val_idx.empty() ? DpoInputs{} : make_inputs(f_val, az_val, *gts_val, ids_val, max_views, view_frame, first_k(usable));

  CadAutoencoder ae = model->autoencoder;
  const torch::Device device = ctx.device;
  LatentDecoder decode = [&](const torch::Tensor& z) {
    torch::NoGradGuard no_grad;
    ae->eval();
    std::vector<VecRows> out;
    for (int64_t b = 0; b < z.size(0); b += 64) {
      auto d = ae->decode(z.narrow(0, b, std::min<int64_t>(64, z.size(0) - b)).to(device), kMaxSeqLen);
      auto rows = logits_to_vecs(d.command_logits, d.args_logits, decoding);
      out.insert(out.end(), rows.begin(), rows.end());
    }
    return out;
  };
  NoiseSchedule schedule(dset.timesteps, dset.schedule);
  DpoOptions dopt = o.dpo;
  dopt.threads = std::max(1, dopt.threads);

  // Before: the reference's figures (kept across resumes).
  const std::string report_path = (run / "dpo_report.json").string();
  nlohmann::json report = nlohmann::json::object();
  if (auto text = read_file(report_path); text) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_object()) report = j;
  }
  const std::string views_label = std::to_string(usable) + "_views";
  if (!report.contains("before") && !val_idx.empty()) {
    std::fprintf(stderr, "train dpo: the reference model on %zu val inputs (1 and %lld views)\n", val_idx.size(), static_cast<long long>(usable));
    report["before"]["1_view"] = figures_to_json(measure_single_samples(reference, schedule, val_1, decode, dopt, ctx.seed, ctx.progress));
    if (usable > 1)
      report["before"][views_label] = figures_to_json(measure_single_samples(reference, schedule, val_all, decode, dopt, ctx.seed, ctx.progress));
    if (auto st = write_file_atomically(report_path, report.dump(2) + "\n"); !st) return st.error();
  }

  DpoStageSummary summary;
  const auto t0 = Clock::now();
  auto pairs = collect_dpo_pairs(model->prior, schedule, train_in, decode, dopt, ctx.seed, ctx.run_dir, ctx.resume, ctx.progress);
  if (!pairs) return pairs.error();
  summary.collect_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  summary.pairs = pairs->size();
  summary.samples = pairs->samples;
  summary.invalid_samples = pairs->invalid_samples;
  report["pairs"] = {{"pairs", pairs->size()},
                     {"samples", pairs->samples},
                     {"invalid_samples", pairs->invalid_samples},
                     {"invalid_sample_ratio", pairs->samples ? static_cast<double>(pairs->invalid_samples) / static_cast<double>(pairs->samples) : 0.0},
                     {"inputs_without_valid_sample", pairs->no_valid_inputs},
                     {"inputs_visited", pairs->inputs_done},
                     {"training_inputs", train_in.size()}};
  if (pairs->size() == 0)
    return R::fail(ErrorCode::kInvalidArgument, "DPO: no pair was found in " + std::to_string(pairs->samples) +
                                                    " samples (no input had a valid sample and a worse one); more inputs or samples per input");

  const auto t1 = Clock::now();
  auto trained = train_dpo_steps(model->prior, reference, schedule, train_in, *pairs, dopt.beta, o.train, ctx);
  if (!trained) return trained.error();
  summary.train_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  summary.steps = trained->steps;
  report["train"] = {{"steps", trained->steps}, {"seconds_this_call", summary.train_seconds}, {"final_loss", trained->final_loss}};
  if (trained->last_val.size() == 2) {
    report["train"]["pair_loss"] = trained->last_val[0];
    report["train"]["pair_accuracy"] = trained->last_val[1];
  }
  if (trained->complete && !val_idx.empty()) {
    report["after"]["1_view"] = figures_to_json(measure_single_samples(model->prior, schedule, val_1, decode, dopt, ctx.seed, ctx.progress));
    if (usable > 1)
      report["after"][views_label] = figures_to_json(measure_single_samples(model->prior, schedule, val_all, decode, dopt, ctx.seed, ctx.progress));
  }
  report["collect_seconds_this_call"] = summary.collect_seconds;
  if (auto st = write_file_atomically(report_path, report.dump(2) + "\n"); !st) return st.error();
  summary.report = report;
  return summary;
}

}  // namespace cadcrafter::learn
