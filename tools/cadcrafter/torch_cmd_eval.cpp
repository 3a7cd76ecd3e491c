// `cadcrafter eval`: scores a trained model on a split the way DeepCAD's evaluation scripts do
// (command/parameter accuracy, invalid ratio, median Chamfer distance) and writes
// eval.json + eval.md + run.json into the output folder.
//
// For an autoencoder run it measures reconstruction (encode the ground truth, decode).
// For a diffusion run it generates from the rendered views of each model (set 0, the first
// --views views), keeping the first of --samples candidates that builds, and scores the
// nearest-neighbour retrieval baseline next to it (the training model whose mean backbone
// feature over the same views is closest in cosine similarity; its ground-truth vector is the
// answer).
//
// --inputs photo (diffusion runs, a dataset built with --rgb) sends each view's photo-like render
// through the depth/normal estimator first, as a user's photo would go, so the domain gap
// between rendered maps and estimated maps is measured on the same models.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "app/reconstruct.h"
#include "app/view_maps.h"
#include "command.h"
#include "data/dataset.h"
#include "kernel/batch_check.h"
#include "kernel/check.h"
#include "learn/ae_trainer.h"
#include "learn/condition_trainer.h"
#include "learn/cad_eval.h"
#include "learn/checkpoint.h"
#include "learn/vec_dataset.h"
#include "util/atomic_file.h"
#include "util/progress.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {
namespace fs = std::filesystem;

struct EvalCliOptions {
  std::string model, data, split = "val", out, device = "cpu", inputs = "depth-normal", estimator, decoding = "argmax",
      train_data;
  int views = 1, samples = 1, threads = 2;
  int64_t limit = 0;
  uint64_t seed = 0;
  bool no_geometry = false, quiet = false;
};

Status write_outputs(const std::string& out, const nlohmann::json& j, const std::string& md, uint64_t seed) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return Status::fail(ErrorCode::kIo, out + ": cannot create folder: " + ec.message());
  nlohmann::json info = make_run_info(saved_argc(), saved_argv());
  info["seed"] = seed;
  if (auto st = write_file_atomically((fs::path(out) / "eval.json").string(), j.dump(2) + "\n"); !st) return st;
  if (auto st = write_file_atomically((fs::path(out) / "eval.md").string(), md); !st) return st;
  return write_file_atomically((fs::path(out) / "run.json").string(), info.dump(2) + "\n");
}

learn::CadEvalOptions eval_options(const EvalCliOptions& o) {
  learn::CadEvalOptions e;
  e.geometry = !o.no_geometry;
  e.seed = o.seed;
  e.threads = std::max(1, o.threads);
  e.progress = !o.quiet;
  return e;
}

// --decoding is checked by CLI11 (argmax | grammar).
learn::CommandDecoding decoding_of(const EvalCliOptions& o) {
  learn::CommandDecoding d = learn::CommandDecoding::kArgmax;
  learn::parse_decoding(o.decoding, &d);
  return d;
}

// Features [n, views, 2, F] of the photo-like renders of `indices` through the estimator, and
// which views it found an object in ([n, views] bool).
Result<std::pair<torch::Tensor, torch::Tensor>> photo_features(const DatasetReader& reader, const std::vector<size_t>& indices,
                                                                int views, const learn::PhotoEstimator& estimator,
                                                                learn::LoadedBackbone& backbone, bool progress,
                                                                int* failed_views) {
  std::vector<torch::Tensor> feats, found;
  ProgressBar bar("estimate + features", static_cast<int64_t>(indices.size()), progress);
  for (size_t i : indices) {
    auto s = reader.get(i);
    if (!s) return s.error();
    if (s->rgb.empty())
      return Result<std::pair<torch::Tensor, torch::Tensor>>::fail(
          ErrorCode::kInvalidArgument, "--inputs photo needs a dataset built with --rgb (this one has no photo-like renders)");
    const int n = s->size;
    std::vector<learn::GeometryMaps> maps;
    auto present = torch::zeros({views}, torch::kBool);
    for (int v = 0; v < std::min(views, s->views); ++v) {
      app::InputPhoto photo;
      photo.name = s->info.id + " view " + std::to_string(v);
      photo.file_channels = 3;
      const size_t px = static_cast<size_t>(n) * n * 3;
      photo.rgb = Image8{n, n, 3, std::vector<uint8_t>(s->rgb.begin() + static_cast<long>(px * v), s->rgb.begin() + static_cast<long>(px * (v + 1)))};
      auto view = app::estimate_view(photo, estimator);
      if (!view) {
        ++*failed_views;
        continue;
      }
      present[static_cast<int64_t>(maps.size())] = true;
      maps.push_back({view->size, view->depth, view->normal, view->mask});
    }
    auto f = torch::zeros({views, 2, backbone.extractor->feature_dim()});
    if (!maps.empty()) f.narrow(0, 0, static_cast<int64_t>(maps.size())).copy_(learn::features_of_maps(backbone, maps));
    feats.push_back(f);
    found.push_back(present);
    bar.add(1);
  }
  bar.finish();
  return std::make_pair(torch::stack(feats), torch::stack(found));
}

int eval_diffusion(const EvalCliOptions& o, const torch::Device& device) {
  const char* name = "eval";
  auto model = learn::load_diffusion(o.model, device);
  if (!model) return fail(name, model.error().message);
  auto reader = DatasetReader::open(o.data);
  if (!reader) return fail(name, reader.error().message + " (diffusion eval needs dataset shards)");
  auto indices = reader->indices(o.split);
  if (indices.empty()) return fail(name, o.data + ": no samples in split '" + o.split + "'");
  if (o.limit > 0 && static_cast<int64_t>(indices.size()) > o.limit) indices.resize(static_cast<size_t>(o.limit));
  auto gts = learn::read_sample_vecs(*reader, indices);
  if (!gts) return fail(name, gts.error().message);
  std::vector<const learn::VecRows*> targets;
  for (const auto& g : *gts) targets.push_back(&g);

  const learn::CommandDecoding decoding = decoding_of(o);
  const int64_t max_views = model->config.diffusion.max_views;
  const bool photo = o.inputs == "photo";
  int failed_views = 0;
  Result<torch::Tensor> feats = torch::Tensor();
  torch::Tensor found;
  if (photo) {
    const std::string estimator_path = o.estimator.empty() ? app::default_weights_dir() + "/estimator.pt" : o.estimator;
    auto estimator = learn::PhotoEstimator::load(estimator_path);
    if (!estimator) return fail(name, estimator.error().message);
    auto pf = photo_features(*reader, indices, o.views, *estimator, model->backbone, !o.quiet, &failed_views);
    if (!pf) return fail(name, pf.error().message);
    feats = pf->first;
    found = pf->second;
  } else {
    feats = learn::compute_features(o.data, indices, model->backbone, !o.quiet, std::max(1, o.views));
  }
  if (!feats) return fail(name, feats.error().message);
  const int64_t views = std::min<int64_t>({o.views, max_views, learn::dataset_views_per_set(o.data), feats->size(1)});
  const int64_t n = feats->size(0), fdim = feats->size(3);
  auto cond = torch::zeros({n, max_views, 2, fdim});
  cond.narrow(1, 0, views).copy_(feats->narrow(1, 0, views));
  auto present = torch::zeros({n, max_views}, torch::kBool);
  if (found.defined())
    present.narrow(1, 0, views).copy_(found.narrow(1, 0, views));
  else
    present.narrow(1, 0, views).fill_(true);
  if (failed_views > 0)
    std::fprintf(stderr, "eval: the estimator found no object in %d of %lld views (left out of the condition)\n", failed_views,
                 static_cast<long long>(n * views));

  std::vector<learn::VecRows> preds(static_cast<size_t>(n));
  std::vector<bool> chosen(static_cast<size_t>(n), false);
  const int samples = std::max(1, o.samples);
  for (int k = 0; k < samples; ++k) {
    std::fprintf(stderr, "eval: sampling candidate %d/%d for %lld models\n", k + 1, samples, static_cast<long long>(n));
    auto z = learn::sample_latents(*model, cond, present, o.seed + static_cast<uint64_t>(k), device);
    torch::NoGradGuard no_grad;
    auto decoded = model->autoencoder->decode(z.to(device), learn::kMaxSeqLen);
    auto vecs = learn::logits_to_vecs(decoded.command_logits, decoded.args_logits, decoding);
    for (int64_t i = 0; i < n; ++i) {
      if (chosen[static_cast<size_t>(i)]) continue;
      CheckOptions copt;
      copt.check_validity = true;
      const bool last = k + 1 == samples;
      if (last || check_vec(vecs[static_cast<size_t>(i)], copt).valid) {
        preds[static_cast<size_t>(i)] = vecs[static_cast<size_t>(i)];
        chosen[static_cast<size_t>(i)] = true;
      }
    }
  }
  const learn::CadEvalOptions eopt = eval_options(o);
  auto report = learn::evaluate_sequences(preds, targets, eopt);

  // Retrieval baseline over a training split: --train-data, else this dataset's own train split,
  // else the dataset the diffusion model was trained on (its run.json).
  std::string db_dir = o.train_data;
  if (db_dir.empty()) {
    db_dir = o.data;
    if (reader->indices("train").empty()) {
      auto run_text = read_file((fs::path(o.model) / "run.json").string());
      auto run = run_text ? nlohmann::json::parse(*run_text, nullptr, false) : nlohmann::json();
      db_dir = run.is_object() ? run.value("data", std::string()) : std::string();
    }
  }
  auto db = db_dir.empty() ? Result<DatasetReader>::fail(ErrorCode::kIo, "none") : DatasetReader::open(db_dir);
  if (!db || db->indices("train").empty())
    return fail(name, o.data + " has no train split for the retrieval baseline and the model's training data" +
                          (db_dir.empty() ? std::string() : " (" + db_dir + ")") +
                          " cannot be read: pass --train-data <dataset with a train split>");
  auto train_idx = db->indices("train");
  torch::Tensor train_feats;
  if (fs::exists(model->features_cache)) {
    std::vector<torch::Tensor> cached;
    torch::load(cached, model->features_cache);
    if (!cached.empty() && cached[0].dim() == 4 && cached[0].size(0) == static_cast<int64_t>(train_idx.size()) &&
        cached[0].size(1) >= views)
      train_feats = cached[0];
  }
  if (!train_feats.defined()) {
    auto tf = learn::compute_features(db_dir, train_idx, model->backbone, !o.quiet, views);
    if (!tf) return fail(name, tf.error().message);
    train_feats = *tf;
  }
  auto describe = [&](const torch::Tensor& f) {
    return torch::nn::functional::normalize(f.narrow(1, 0, views).mean({1, 2}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  };
  auto nearest = torch::matmul(describe(*feats), describe(train_feats).t()).argmax(1);
  std::vector<size_t> picked;
  for (int64_t i = 0; i < n; ++i) picked.push_back(train_idx[static_cast<size_t>(nearest[i].item<int64_t>())]);
  auto train_vecs = learn::read_sample_vecs(*db, picked);
  if (!train_vecs) return fail(name, train_vecs.error().message);
  auto retrieval = learn::evaluate_sequences(*train_vecs, targets, eopt);

  nlohmann::json j = {{"model", o.model},  {"data", o.data},       {"split", o.split},
                      {"views", views},    {"samples", samples},   {"task", "image_to_cad"},
                      {"inputs", o.inputs}, {"estimator_failed_views", failed_views}, {"decoding", o.decoding},
                      {"retrieval_database", db_dir},
                      {"diffusion", learn::report_to_json(report)}, {"retrieval_baseline", learn::report_to_json(retrieval)}};
  std::string md = "# Evaluation of " + o.model + " on " + o.split + " (" + std::to_string(views) + " view(s), " +
                   std::to_string(samples) + " sample(s), inputs: " +
                   (photo ? "photo-like renders through the estimator" : "rendered depth + normal maps") +
                   ", command decoding: " + o.decoding + ")\n\n" + learn::report_to_markdown("Latent diffusion", report) + "\n" +
                   learn::report_to_markdown("Nearest-neighbour retrieval baseline", retrieval);
  const std::string out =
      o.out.empty() ? (fs::path(o.model) / ("eval-" + o.split + "-" + std::to_string(views) + "v" + (photo ? "-photo" : "") +
                                            (o.decoding == "grammar" ? "-grammar" : "")))
                          .string()
                    : o.out;
  if (auto st = write_outputs(out, j, md, o.seed); !st) return fail(name, st.error().message);
  std::printf("%swrote %s/eval.json and eval.md\n", md.c_str(), out.c_str());
  return 0;
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
  if (kind == "diffusion") return eval_diffusion(o, *device);
  if (kind != "ae") return fail(name, o.model + ": cannot evaluate a '" + kind + "' run (ae and diffusion runs can be)");
  if (o.inputs != "depth-normal") return fail(name, "--inputs applies to diffusion runs (an autoencoder reads sequences)");

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
  const learn::CommandDecoding decoding = decoding_of(o);
  auto predicted = learn::reconstruct(*model, targets, *device, 128, decoding);

  const learn::CadEvalOptions eopt = eval_options(o);
  auto report = learn::evaluate_sequences(predicted, targets, eopt);

  const std::string out =
      o.out.empty() ? (fs::path(o.model) / ("eval-" + o.split + (o.decoding == "grammar" ? "-grammar" : ""))).string() : o.out;
  nlohmann::json j = {{"model", o.model}, {"data", data->source}, {"split", o.split}, {"task", "ae_reconstruction"},
                      {"decoding", o.decoding},
                      {"reconstruction", learn::report_to_json(report)}};
  std::string md = "# Evaluation of " + o.model + " on " + o.split + " (command decoding: " + o.decoding + ")\n\n" +
                   learn::report_to_markdown("Autoencoder reconstruction", report);
  if (auto st = write_outputs(out, j, md, o.seed); !st) return fail(name, st.error().message);
  std::printf("%s", md.c_str());
  std::printf("wrote %s/eval.json and eval.md\n", out.c_str());
  return 0;
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
  app.add_option("--inputs", o->inputs, "depth-normal (rendered maps) or photo (photo-like renders through the estimator)")
      ->check(CLI::IsMember({"depth-normal", "photo"}))
      ->capture_default_str();
  app.add_option("--train-data", o->train_data,
                 "Dataset whose train split the retrieval baseline searches (default: --data, else the model's)");
  app.add_option("--decoding", o->decoding,
                 "Command decoding: argmax (DeepCAD's, per row) or grammar (best well-formed sequence)")
      ->check(CLI::IsMember({"argmax", "grammar"}))
      ->capture_default_str();
  app.add_option("--estimator", o->estimator, "Estimator for --inputs photo (default: the shipped models/estimator.pt)");
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
