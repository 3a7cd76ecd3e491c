// `cadcrafter eval`: scores a trained model on a split the way DeepCAD's evaluation scripts do
// (command/parameter accuracy, invalid ratio, median Chamfer distance) and writes
// eval.json + eval.md + run.json into the output folder.
//
// For an autoencoder run it measures reconstruction (encode the ground truth, decode).
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "command.h"
#include "kernel/check.h"
#include "learn/ae_trainer.h"
#include "learn/cad_eval.h"
#include "learn/checkpoint.h"
#include "util/atomic_file.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {
namespace fs = std::filesystem;

struct EvalCliOptions {
  std::string model, data, split = "val", out, device = "cpu";
  int views = 1, samples = 1, threads = 2;
  int64_t limit = 0;
  uint64_t seed = 0;
  bool no_geometry = false, quiet = false;
};

int finish(int code) {
  if (abandoned_check_count() > 0) {  // a kernel build outlived its limit: leave without destructors
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
  }
  return code;
}

int run_eval(const EvalCliOptions& o) {
  const char* name = "eval";
  learn::ensure_omp_proc_bind(saved_argc(), saved_argv());
  torch::set_num_threads(std::max(1, o.threads));
  auto device = learn::parse_device(o.device);
  if (!device) return fail(name, device.error().message);
  if (!fs::is_directory(o.model) || !fs::exists(fs::path(o.model) / "config.json"))
    return fail(name, o.model + ": not a model folder (needs config.json and model.pt)");
  auto config_text = read_file((fs::path(o.model) / "config.json").string());
  if (!config_text) return fail(name, config_text.error().message);
  auto config_json = nlohmann::json::parse(*config_text, nullptr, false);
  const std::string kind = config_json.is_object() ? config_json.value("kind", "ae") : "";
  if (kind != "ae") return fail(name, o.model + ": evaluation of '" + kind + "' models is not available yet (ae is)");

  auto model = learn::load_autoencoder(o.model, *device);
  if (!model) return fail(name, model.error().message);
  auto data = learn::load_vec_dataset(o.data);
  if (!data) return fail(name, data.error().message);
  auto indices = data->split_indices(o.split);
  if (indices.empty()) return fail(name, data->source + ": no sequences in split '" + o.split + "'");
  if (o.limit > 0 && static_cast<int64_t>(indices.size()) > o.limit) indices.resize(static_cast<size_t>(o.limit));

  std::vector<const learn::VecRows*> targets;
  for (size_t i : indices) targets.push_back(&data->samples[i].rows);
  std::fprintf(stderr, "eval: reconstructing %zu '%s' sequences\n", targets.size(), o.split.c_str());
  auto predicted = learn::reconstruct(*model, targets, *device);

  learn::CadEvalOptions eopt;
  eopt.geometry = !o.no_geometry;
  eopt.seed = o.seed;
  eopt.threads = std::max(1, o.threads);
  eopt.progress = !o.quiet;
  auto report = learn::evaluate_sequences(predicted, targets, eopt);

  const std::string out = o.out.empty() ? (fs::path(o.model) / ("eval-" + o.split)).string() : o.out;
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return finish(fail(name, out + ": cannot create folder: " + ec.message()));
  nlohmann::json j = {{"model", o.model}, {"data", data->source}, {"split", o.split}, {"task", "ae_reconstruction"},
                      {"reconstruction", learn::report_to_json(report)}};
  std::string md = "# Evaluation of " + o.model + " on " + o.split + "\n\n" +
                   learn::report_to_markdown("Autoencoder reconstruction", report);
  nlohmann::json info = make_run_info(saved_argc(), saved_argv());
  info["seed"] = o.seed;
  if (auto st = write_file_atomically((fs::path(out) / "eval.json").string(), j.dump(2) + "\n"); !st)
    return finish(fail(name, st.error().message));
  if (auto st = write_file_atomically((fs::path(out) / "eval.md").string(), md); !st) return finish(fail(name, st.error().message));
  if (auto st = write_file_atomically((fs::path(out) / "run.json").string(), info.dump(2) + "\n"); !st)
    return finish(fail(name, st.error().message));
  std::printf("%s", md.c_str());
  std::printf("wrote %s/eval.json and eval.md\n", out.c_str());
  return finish(0);
}

CommandRegistration reg("eval", "Score a trained model on a split (DeepCAD accuracy, invalid ratio, Chamfer)", [](CLI::App& app) {
  auto o = std::make_shared<EvalCliOptions>();
  app.add_option("--model", o->model, "Run folder (or models/<name>) with config.json + model.pt")->required();
  app.add_option("--data", o->data, "Data folder (vec.jsonl + manifest.csv, the shared data root, or dataset shards)")->required();
  app.add_option("--split", o->split, "Split to score")->capture_default_str();
  app.add_option("-o,--output", o->out, "Output folder (default: <model>/eval-<split>)");
  app.add_option("--views", o->views, "Conditioning views for image-conditioned models (1 or 4)")
      ->check(CLI::IsMember({1, 4}))
      ->capture_default_str();
  app.add_option("--samples", o->samples, "Samples per input for generative models")->capture_default_str();
  app.add_option("--limit", o->limit, "Score only the first N sequences of the split");
  app.add_flag("--no-geometry", o->no_geometry, "Skip the kernel (accuracy only)");
  app.add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--seed", o->seed, "Seed of the surface sampling")->capture_default_str();
  app.add_option("--threads", o->threads, "CPU threads (torch and kernel)")->capture_default_str();
  app.add_flag("-q,--quiet", o->quiet, "No progress bar");
  return [o]() { return run_eval(*o); };
});

}  // namespace
}  // namespace cadcrafter::cli
