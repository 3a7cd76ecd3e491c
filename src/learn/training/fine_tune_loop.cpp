#include "learn/training/fine_tune_loop.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "learn/training/checkpoint.h"
#include "util/progress.h"

namespace cadcrafter::learn {
namespace fs = std::filesystem;

namespace {
std::string fmt(double v, const char* f = "%.5g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
}  // namespace

Result<FineTuneSummary> run_fine_tune_loop(const std::string& label, const TrainOptions& opt, const RunContext& ctx,
                                           torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                                           const FineTuneHooks& hooks) {
  using Clock = std::chrono::steady_clock;
  const bool files = !ctx.run_dir.empty();
  const fs::path run(ctx.run_dir);
  const std::string ckpt = (run / "checkpoint.pt").string();
  CheckpointState state;
  double elapsed_before = 0.0;
  if (files && ctx.resume && fs::exists(ckpt)) {
    auto loaded = load_checkpoint(ckpt, model, &optimizer);
    if (!loaded) return loaded.error();
    state = *loaded;
    elapsed_before = state.extra.value("elapsed_s", 0.0);
  }
  std::vector<std::string> columns = {"step", "loss", "lr", "samples_per_s"};
  for (const auto& c : hooks.val_columns) columns.push_back(c);
  columns.push_back("elapsed_s");
  std::unique_ptr<CsvLog> log;
  if (files) log = std::make_unique<CsvLog>((run / "log.csv").string(), columns, ctx.resume ? state.step : 0);
  FineTuneSummary summary;
  ProgressBar bar(label, opt.max_steps, ctx.progress);
  bar.update(state.step);
  const auto t0 = Clock::now();
  auto window_start = t0;
  double window_loss = 0.0;
  int64_t window_steps = 0, window_samples = 0, this_call = 0;
  bool out_of_time = false;
  auto elapsed = [&] { return elapsed_before + std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto save = [&]() -> Status {
    if (!files) return {};
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
    ++this_call;
    window_loss += loss;
    ++window_steps;
    window_samples += samples;
    summary.final_loss = loss;
    out_of_time = time_fraction >= 1.0;
    const bool last = state.step == opt.max_steps || out_of_time;
    const bool val_due = last || (opt.val_every > 0 && state.step % opt.val_every == 0);
    if (state.step % opt.log_every == 0 || val_due) {
      const double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double sps = secs > 0 ? static_cast<double>(window_samples) / secs : 0.0;
      std::vector<double> val;
      if (val_due && hooks.validate) {
        model.eval();
        val = hooks.validate();
        summary.last_val = val;
      }
      std::vector<std::string> row = {std::to_string(state.step), fmt(window_loss / static_cast<double>(window_steps)), fmt(lr),
                                      fmt(sps, "%.1f")};
      std::string extra = "loss " + fmt(window_loss / static_cast<double>(window_steps), "%.4f");
      for (size_t k = 0; k < hooks.val_columns.size(); ++k) {
        const bool have = k < val.size() && std::isfinite(val[k]);
        row.push_back(have ? fmt(val[k]) : "");
        if (have) extra += "  " + hooks.val_columns[k] + " " + fmt(val[k], "%.4f");
      }
      row.push_back(fmt(elapsed(), "%.1f"));
      if (log) log->row(row);
      bar.update(state.step, extra);
      window_loss = 0.0;
      window_steps = window_samples = 0;
      window_start = Clock::now();
    } else {
      bar.update(state.step);
    }
    const bool stop_now = ctx.stop_after_steps > 0 && this_call >= ctx.stop_after_steps;
    if (last || stop_now || state.step % opt.checkpoint_every == 0)
      if (auto st = save(); !st) return st.error();
    if (stop_now || out_of_time) break;
  }
  bar.finish();
  summary.steps = state.step;
  summary.seconds = elapsed();
  summary.complete = state.step >= opt.max_steps || out_of_time;
  if (files && summary.complete)
    if (auto st = save_weights((run / "model.pt").string(), model); !st) return st.error();
  return summary;
}

}  // namespace cadcrafter::learn
