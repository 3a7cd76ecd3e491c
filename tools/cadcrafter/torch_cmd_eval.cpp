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
// For a part index (cadcrafter index build) it scores retrieval alone: the indexed part nearest to
// each model's views. Image-conditioned evals also report identity retrieval (set 0 views -> set 1
// views of the same split, by the same features) and, with --frame view (the default), score in the
// view frame: each target turned about +Z to face its first view (render/camera.h), each answer
// turned the way reconstruct turns its output (app/agreement.h, facing_quarter_turns).
//
// --pipeline (no --model) scores the whole reconstruct pipeline instead (app::reconstruct_views with
// the models of --weights: pool, kernel check, agreement, pose and parameter refinement, the top-1
// turned to face the first view), with the top-1 sources' win rates, the agreement before/after
// refinement and the seconds per sample (docs/reconstruct.md, "the whole pipeline").
//
// --inputs photo (image-conditioned runs, a dataset built with --rgb) sends each view's photo-like render
// through the depth/normal estimator first, as a user's photo would go, so the domain gap
// between rendered maps and estimated maps is measured on the same models.
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "app/agreement.h"
#include "app/facing.h"
#include "app/reconstruct.h"
#include "app/view_maps.h"
#include "cad/turn.h"
#include "command.h"
#include "data/dataset.h"
#include "geom/mesh_measure.h"
#include "kernel/batch_check.h"
#include "kernel/check.h"
#include "kernel/repair.h"
#include "learn/training/ae_trainer.h"
#include "learn/eval/cad_eval.h"
#include "learn/training/checkpoint.h"
#include "learn/training/condition_trainer.h"
#include "learn/training/contrastive.h"
#include "learn/inference/part_index.h"
#include "learn/data/vec_dataset.h"
#include "render/camera.h"
#include "util/atomic_file.h"
#include "util/parallel.h"
#include "util/progress.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {
namespace fs = std::filesystem;

struct EvalCliOptions {
  std::string model, data, split = "val", out, device = "cpu", inputs = "depth-normal", estimator, decoding = "argmax",
      train_data, index, frame = "view";
  int views = 1, samples = 1, threads = 2;
  int64_t limit = 0;
  uint64_t seed = 0;
  bool no_geometry = false, quiet = false;
  bool repair = true;          // models with no building sample: the first sample repair makes build (kernel/repair.h)
  bool centre_answers = true;  // diffusion answers re-encoded in the targets' centred frame (face_first_views)
  // --pipeline: the whole reconstruct pipeline (app::reconstruct_views) instead of one model.
  bool pipeline = false, no_refine = false;
  std::string weights, candidates = "auto";
  double refine_seconds = app::kDefaultRefineSeconds;
  double prior_weight = app::kDefaultPriorWeight;
  std::vector<std::string> given;  // the options given on the command line (for bad combinations)
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
    std::vector<learn::GeometryMaps> maps;
    auto present = torch::zeros({views}, torch::kBool);
    for (int v = 0; v < std::min(views, s->views); ++v) {
      auto view = app::estimate_view(app::photo_of_sample(*s, v), estimator);
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

// The first conditioning view (view 0 of set 0) of each sample: its rendered maps, for turning
// answers to face it, and the quarter turns of the view frame from its camera's azimuth.
struct FirstViews {
  std::vector<app::ViewMaps> maps;
  std::vector<int> turns;
};

Result<FirstViews> first_views(const DatasetReader& reader, const std::vector<size_t>& indices, bool progress) {
  FirstViews fv;
  ProgressBar bar("first views", static_cast<int64_t>(indices.size()), progress);
  for (size_t i : indices) {
    auto s = reader.get(i);
    if (!s) return s.error();
    fv.maps.push_back(app::view_maps_of_sample(*s, 0));
    fv.turns.push_back(view_frame_quarter_turns(camera_azimuth_deg(s->cameras.at(0).extrinsics)));
    bar.add(1);
  }
  bar.finish();
  return fv;
}

// Each answer turned to face its first view as reconstruct turns its output (app/facing.h
// face_view); answers that do not build stay as they are. With `centre`, each answer that builds
// is also re-encoded in the targets' centred frame (app/reconstruct.h encode_candidate: box
// centred on the origin, DeepCAD's normalisation), as the dataset builder encodes the targets: a
// generated sequence may put the part anywhere about its origin and at any scale, which no image
// determines. A re-encoding that no longer builds (quantised again) is not used: the turned vector
// stays, as reconstruct's sequence.h5 keeps it (app/reconstruct.cpp candidate_vec). Returns the
// turns applied.
std::vector<int> face_first_views(std::vector<learn::VecRows>& answers, const FirstViews& fv, int threads, bool progress,
                                  const char* label, bool centre = false) {
  std::vector<int> turns(answers.size(), 0);
  ProgressBar bar(label, static_cast<int64_t>(answers.size()), progress);
  parallel_for(static_cast<int64_t>(answers.size()), std::max(1, threads), [&](int64_t i, int) {
    auto& a = answers[static_cast<size_t>(i)];
    const app::FacedVec f = app::face_view(CadVec(a.begin(), a.end()), fv.maps[static_cast<size_t>(i)]);
    if (f.valid) {
      a = learn::VecRows(f.vec.begin(), f.vec.end());
      turns[static_cast<size_t>(i)] = f.turns;
      if (centre)
        if (auto v = app::encode_candidate(f.model, mesh_bbox(f.mesh)); v && check_vec(*v).valid)
          a = learn::VecRows(v->begin(), v->end());
    }
    bar.add(1);
  });
  bar.finish();
  return turns;
}

// Identity retrieval on the evaluated models: the first `views` views of set 0 against the same
// views of set 1 (other azimuths and elevations), by the generator's own features.
nlohmann::json identity_retrieval_json(const torch::Tensor& feats, int64_t views, int64_t per_set) {
  if (feats.size(1) < per_set + views) return {{"available", false}, {"why", "the dataset has one rendering set"}};
  auto q = learn::multi_view_embedding(feats.narrow(1, 0, views));
  auto g = learn::multi_view_embedding(feats.narrow(1, per_set, views));
  const auto r = learn::identity_retrieval(q, g);
  return {{"available", true}, {"models", r.queries}, {"views", views}, {"top1", r.top1}, {"top5", r.top5},
          {"protocol", "set 0 views -> set 1 views of the same split, cosine of the generator's mean features"}};
}

// The identity-retrieval line of eval.md ("" when it was not measured).
std::string identity_markdown(const nlohmann::json& identity, int64_t views) {
  if (!identity.value("available", false)) return "";
  char line[256];
  std::snprintf(line, sizeof line, "\nIdentity retrieval (%lld models, %lld view(s), set 0 -> set 1): top-1 %.3f, top-5 %.3f\n",
                static_cast<long long>(identity["models"].get<int64_t>()), static_cast<long long>(views),
                identity["top1"].get<double>(), identity["top5"].get<double>());
  return line;
}

// Turns each target to face its first view (the view frame); `targets` then points into `turned`.
Result<FirstViews> view_frame_targets(const DatasetReader& reader, const std::vector<size_t>& indices, bool progress,
                                      std::vector<const learn::VecRows*>& targets, std::vector<learn::VecRows>& turned) {
  auto fv = first_views(reader, indices, progress);
  if (!fv) return fv;
  turned.clear();
  for (size_t i = 0; i < targets.size(); ++i) {
    auto t = turn_vec(*targets[i], -fv->turns[i]);
    turned.push_back(t ? *t : *targets[i]);
  }
  targets.clear();
  for (const auto& t : turned) targets.push_back(&t);
  return fv;
}

// The scored split of a dataset: its samples (the first --limit), their ground-truth vectors.
struct EvalSplit {
  DatasetReader reader;
  std::vector<size_t> indices;
  std::vector<learn::VecRows> gts;
  std::vector<const learn::VecRows*> targets;  // into gts (or into turned copies, view frame)
};

Result<EvalSplit> open_split(const EvalCliOptions& o) {
  using R = Result<EvalSplit>;
  auto reader = DatasetReader::open(o.data);
  if (!reader) return R::fail(reader.error().code, reader.error().message + " (image-conditioned eval needs dataset shards)");
  EvalSplit s{std::move(*reader), {}, {}, {}};
  s.indices = s.reader.indices(o.split);
  if (s.indices.empty()) return R::fail(ErrorCode::kInvalidArgument, o.data + ": no samples in split '" + o.split + "'");
  if (o.limit > 0 && static_cast<int64_t>(s.indices.size()) > o.limit) s.indices.resize(static_cast<size_t>(o.limit));
  auto gts = learn::read_sample_vecs(s.reader, s.indices);
  if (!gts) return gts.error();
  s.gts = std::move(*gts);
  for (const auto& g : s.gts) s.targets.push_back(&g);
  return s;
}

// Retrieval alone (--model is a part index): the parts nearest to each model's views by the index's
// backbone features, turned into the view frame like reconstruct's answers.
int eval_retrieval(const EvalCliOptions& o, const torch::Device& device) {
  const char* name = "eval";
  auto index = learn::PartIndex::load(o.model);
  if (!index) return fail(name, index.error().message);
  auto backbone = learn::load_backbone(index->backbone_path(), device);
  if (!backbone) return fail(name, backbone.error().message);
  auto split = open_split(o);
  if (!split) return fail(name, split.error().message);
  const DatasetReader* reader = &split->reader;
  const std::vector<size_t>& indices = split->indices;
  std::vector<const learn::VecRows*>& targets = split->targets;
  // The targets' frame is the dataset's, the answers' the index's (data/dataset.h vec_frame).
  const std::string target_frame = reader->vec_frame(), answer_frame = index->vec_frame();
  if (target_frame != answer_frame)
    std::fprintf(stderr, "eval: warning: the targets are in the %s frame but the index holds %s-frame parts: placement errors will dominate\n",
                 target_frame.c_str(), answer_frame.c_str());
  const bool photo = o.inputs == "photo";
  const int64_t per_set = learn::dataset_views_per_set(o.data);
  int failed_views = 0;
  Result<torch::Tensor> feats = torch::Tensor();
  if (photo) {
    const std::string estimator_path = o.estimator.empty() ? app::default_weights_dir() + "/estimator.pt" : o.estimator;
    auto estimator = learn::PhotoEstimator::load(estimator_path);
    if (!estimator) return fail(name, estimator.error().message);
    auto pf = photo_features(*reader, indices, o.views, *estimator, *backbone, !o.quiet, &failed_views);
    if (!pf) return fail(name, pf.error().message);
    feats = pf->first;
  } else {
    feats = learn::compute_features(o.data, indices, *backbone, !o.quiet, std::max<int64_t>(o.views, 2 * per_set));
  }
  if (!feats) return fail(name, feats.error().message);
  const int64_t views = std::min<int64_t>({o.views, per_set, feats->size(1)});
  auto emb = learn::multi_view_embedding(feats->narrow(1, 0, views)).contiguous();
  std::vector<learn::VecRows> retrieved;
  std::vector<std::string> retrieved_ids;
  for (int64_t i = 0; i < emb.size(0); ++i) {
    std::vector<float> e(emb[i].data_ptr<float>(), emb[i].data_ptr<float>() + emb.size(1));
    auto best = index->nearest_to(e, 1);
    retrieved.push_back(best.empty() ? learn::VecRows{} : best.front().vec);
    retrieved_ids.push_back(best.empty() ? "" : best.front().id);
  }
  std::vector<learn::VecRows> turned_targets;
  std::vector<int> target_turns, answer_turns;
  if (o.frame == "view") {
    auto fv = view_frame_targets(*reader, indices, !o.quiet, targets, turned_targets);
    if (!fv) return fail(name, fv.error().message);
    target_turns = fv->turns;
    answer_turns = face_first_views(retrieved, *fv, o.threads, !o.quiet, "turn retrieved");
  }
  auto report = learn::evaluate_sequences(retrieved, targets, eval_options(o));
  const nlohmann::json identity = photo ? nlohmann::json{{"available", false}, {"why", "rendered inputs only"}}
                                        : identity_retrieval_json(*feats, views, per_set);
  nlohmann::json j = {{"model", o.model}, {"data", o.data}, {"split", o.split}, {"views", views}, {"task", "image_to_cad_retrieval"},
                      {"inputs", o.inputs}, {"estimator_failed_views", failed_views}, {"frame", o.frame},
                      {"vec_frame", {{"targets", target_frame}, {"answers", answer_frame}}},
                      {"index_parts", index->size()}, {"identity_retrieval", identity},
                      {"retrieval", learn::report_to_json(report)}, {"retrieved_ids", retrieved_ids},
                      {"target_quarter_turns", target_turns}, {"answer_quarter_turns", answer_turns}};
  std::string md = "# Evaluation of the part index " + o.model + " on " + o.split + " (" + std::to_string(views) +
                   " view(s), inputs: " + (photo ? "photo-like renders through the estimator" : "rendered depth + normal maps") +
                   ", frame: " + o.frame + ", vectors: " + target_frame + " targets / " + answer_frame + " answers, " +
                   std::to_string(index->size()) + " indexed parts)\n\n" +
                   learn::report_to_markdown("Nearest indexed part", report);
  md += identity_markdown(identity, views);
  const std::string out = o.out.empty() ? (fs::path(o.model) / ("eval-" + o.split + "-" + std::to_string(views) + "v" +
                                                                 (photo ? "-photo" : "")))
                                              .string()
                                        : o.out;
  if (auto st = write_outputs(out, j, md, o.seed); !st) return fail(name, st.error().message);
  std::printf("%swrote %s/eval.json and eval.md\n", md.c_str(), out.c_str());
  return 0;
}

int eval_diffusion(const EvalCliOptions& o, const torch::Device& device) {
  const char* name = "eval";
  auto model = learn::load_diffusion(o.model, device);
  if (!model) return fail(name, model.error().message);
  auto split = open_split(o);
  if (!split) return fail(name, split.error().message);
  const DatasetReader* reader = &split->reader;
  const std::vector<size_t>& indices = split->indices;
  std::vector<const learn::VecRows*>& targets = split->targets;

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
    // Two rendering sets when the dataset has them: set 1 is the gallery of identity retrieval.
    feats = learn::compute_features(o.data, indices, model->backbone, !o.quiet,
                                    std::max<int64_t>(o.views, 2 * learn::dataset_views_per_set(o.data)));
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

  // The view frame: targets turned to face their first view, answers turned as reconstruct turns them.
  const bool view_frame = o.frame == "view";
  FirstViews fv;
  std::vector<learn::VecRows> turned_targets;
  if (view_frame) {
    auto got = view_frame_targets(*reader, indices, !o.quiet, targets, turned_targets);
    if (!got) return fail(name, got.error().message);
    fv = std::move(*got);
  }
  // A retrieval-augmented model edits the parts of --index nearest to the same views, each turned
  // to face the first view as reconstruct turns them (app/candidates.h LatentDiffusionOptions).
  const int64_t k_nb = model->prior->neighbours();
  torch::Tensor nb, nb_padding;
  if (k_nb > 0) {
    if (o.index.empty()) return fail(name, o.model + " is retrieval-augmented: pass --index <part index> (models/retrieval)");
    if (!view_frame) return fail(name, "a retrieval-augmented model is evaluated in the view frame (--frame view)");
    auto index = learn::PartIndex::load(o.index);
    if (!index) return fail(name, index.error().message);
    auto emb = learn::multi_view_embedding(feats->narrow(1, 0, views)).contiguous();
    // As reconstruct does (app/candidates.cpp): parts that do not build are left out.
    std::vector<std::vector<learn::RetrievedPart>> near(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      std::vector<float> e(emb[i].data_ptr<float>(), emb[i].data_ptr<float>() + emb.size(1));
      near[static_cast<size_t>(i)] = index->nearest_to(e, static_cast<int>(k_nb));
    }
    std::vector<std::vector<learn::VecRows>> parts(static_cast<size_t>(n));
    ProgressBar bar("turn neighbours", n, !o.quiet);
    parallel_for(n, std::max(1, o.threads), [&](int64_t i, int) {
      for (const auto& hit : near[static_cast<size_t>(i)]) {
        const app::FacedVec f = app::face_view(CadVec(hit.vec.begin(), hit.vec.end()), fv.maps[static_cast<size_t>(i)]);
        if (f.valid) parts[static_cast<size_t>(i)].emplace_back(f.vec.begin(), f.vec.end());
      }
      bar.add(1);
    });
    bar.finish();
    std::tie(nb, nb_padding) = learn::neighbour_latents(*model, parts, device);
  }

  std::vector<learn::VecRows> preds(static_cast<size_t>(n));
  std::vector<bool> chosen(static_cast<size_t>(n), false);
  std::vector<std::vector<learn::VecRows>> failed(static_cast<size_t>(n));  // samples that do not build, in order
  const int samples = std::max(1, o.samples);
  for (int k = 0; k < samples; ++k) {
    std::fprintf(stderr, "eval: sampling candidate %d/%d for %lld models\n", k + 1, samples, static_cast<long long>(n));
    // A retrieval-augmented model edits each neighbour in turn (learn::lead_neighbours): sample k
    // corrects neighbour k mod K, as reconstruct's samples do, so they are not all edits of one part.
    torch::Tensor nb_k = nb, pad_k = nb_padding;
    if (k_nb > 1) std::tie(nb_k, pad_k) = learn::lead_neighbours(nb, nb_padding, std::vector<int64_t>(static_cast<size_t>(n), k));
    auto z = learn::sample_latents(*model, cond, present, o.seed + static_cast<uint64_t>(k), device, 0, nb_k, pad_k);
    torch::NoGradGuard no_grad;
    auto decoded = model->autoencoder->decode(z.to(device), learn::kMaxSeqLen);
    auto vecs = learn::logits_to_vecs(decoded.command_logits, decoded.args_logits, decoding);
    for (int64_t i = 0; i < n; ++i) {
      if (chosen[static_cast<size_t>(i)]) continue;
      CheckOptions copt;
      copt.check_validity = true;
      if (check_vec(vecs[static_cast<size_t>(i)], copt).valid) {
        preds[static_cast<size_t>(i)] = vecs[static_cast<size_t>(i)];
        chosen[static_cast<size_t>(i)] = true;
      } else {
        failed[static_cast<size_t>(i)].push_back(vecs[static_cast<size_t>(i)]);
      }
    }
  }
  // No sample builds: the first one the checker-guided repair (kernel/repair.h) makes build, as
  // reconstruct repairs its candidates; else (or with --no-repair) the first sample, invalid.
  int64_t invalid_before_repair = 0;
  std::atomic<int64_t> repaired{0};
  for (int64_t i = 0; i < n; ++i)
    if (!chosen[static_cast<size_t>(i)]) {
      ++invalid_before_repair;
      preds[static_cast<size_t>(i)] = failed[static_cast<size_t>(i)].front();
    }
  if (o.repair && invalid_before_repair > 0) {
    ProgressBar bar("repair", invalid_before_repair, !o.quiet);
    parallel_for(n, std::max(1, o.threads), [&](int64_t i, int) {
      if (chosen[static_cast<size_t>(i)]) return;
      for (const auto& v : failed[static_cast<size_t>(i)]) {
        const RepairResult r = repair_vec(CadVec(v.begin(), v.end()));
        if (!r.valid) continue;
        preds[static_cast<size_t>(i)] = learn::VecRows(r.vec.begin(), r.vec.end());
        ++repaired;
        break;
      }
      bar.add(1);
    });
    bar.finish();
  }
  if (view_frame) face_first_views(preds, fv, o.threads, !o.quiet, "turn answers", o.centre_answers);
  const learn::CadEvalOptions eopt = eval_options(o);
  auto report = learn::evaluate_sequences(preds, targets, eopt);
  const int64_t per_set = learn::dataset_views_per_set(o.data);
  const nlohmann::json identity = photo ? nlohmann::json{{"available", false}, {"why", "rendered inputs only"}}
                                        : identity_retrieval_json(*feats, views, per_set);

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
  std::vector<learn::VecRows> retrieved;
  if (!o.index.empty()) {
    auto index = learn::PartIndex::load(o.index);
    if (!index) return fail(name, index.error().message);
    auto emb = learn::multi_view_embedding(feats->narrow(1, 0, views)).contiguous();
    for (int64_t i = 0; i < n; ++i) {
      std::vector<float> e(emb[i].data_ptr<float>(), emb[i].data_ptr<float>() + emb.size(1));
      auto best = index->nearest_to(e, 1);
      retrieved.push_back(best.empty() ? learn::VecRows{} : best.front().vec);
    }
    db_dir = o.index;
  }
  auto db = !o.index.empty() || db_dir.empty() ? Result<DatasetReader>::fail(ErrorCode::kIo, "none") : DatasetReader::open(db_dir);
  if (o.index.empty()) {
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
    auto nearest = torch::matmul(learn::multi_view_embedding(feats->narrow(1, 0, views)),
                                 learn::multi_view_embedding(train_feats.narrow(1, 0, views)).t())
                       .argmax(1);
    std::vector<size_t> picked;
    for (int64_t i = 0; i < n; ++i) picked.push_back(train_idx[static_cast<size_t>(nearest[i].item<int64_t>())]);
    auto train_vecs = learn::read_sample_vecs(*db, picked);
    if (!train_vecs) return fail(name, train_vecs.error().message);
    retrieved = *train_vecs;
  }
  if (view_frame) face_first_views(retrieved, fv, o.threads, !o.quiet, "turn retrieved");
  auto retrieval = learn::evaluate_sequences(retrieved, targets, eopt);

  nlohmann::json j = {{"model", o.model},  {"data", o.data},       {"split", o.split},
                      {"views", views},    {"samples", samples},   {"task", "image_to_cad"},
                      {"inputs", o.inputs}, {"estimator_failed_views", failed_views}, {"decoding", o.decoding},
                      {"retrieval_database", db_dir}, {"frame", o.frame}, {"identity_retrieval", identity},
                      {"neighbours", k_nb}, {"answers_centred", view_frame && o.centre_answers},
                      {"repair", {{"enabled", o.repair}, {"no_sample_built", invalid_before_repair}, {"repaired", repaired.load()},
                                  {"about", "models whose samples all failed the kernel check; with repair, the first sample "
                                            "the checker-guided repair makes build is the answer (kernel/repair.h)"}}},
                      {"diffusion", learn::report_to_json(report)}, {"retrieval_baseline", learn::report_to_json(retrieval)}};
  const std::string repair_line =
      "No sample of " + std::to_string(samples) + " built for " + std::to_string(invalid_before_repair) + " of " +
      std::to_string(n) + " models; " +
      (o.repair ? "the checker-guided repair (kernel/repair.h: loops or extrudes removed) made one build for " +
                      std::to_string(repaired.load()) + " of them, and the invalid ratio above counts the rest."
                : "repair off (--no-repair): the invalid ratio above counts them all.") +
      "\n";
  std::string md = "# Evaluation of " + o.model + " on " + o.split + " (" + std::to_string(views) + " view(s), " +
                   std::to_string(samples) + " sample(s), inputs: " +
                   (photo ? "photo-like renders through the estimator" : "rendered depth + normal maps") +
                   ", command decoding: " + o.decoding + ", frame: " + o.frame +
                   (k_nb > 0 ? ", editing the " + std::to_string(k_nb) + " nearest parts of " + o.index : std::string()) +
                   (view_frame && o.centre_answers ? ", answers re-encoded centred" : "") + ")\n\n" +
                   learn::report_to_markdown("Latent diffusion", report) + "\n" + repair_line + "\n" +
                   learn::report_to_markdown("Nearest-neighbour retrieval baseline", retrieval);
  md += identity_markdown(identity, views);
  const std::string out =
      o.out.empty() ? (fs::path(o.model) / ("eval-" + o.split + "-" + std::to_string(views) + "v" + (photo ? "-photo" : "") +
                                            (o.decoding == "grammar" ? "-grammar" : "")))
                          .string()
                    : o.out;
  if (auto st = write_outputs(out, j, md, o.seed); !st) return fail(name, st.error().message);
  std::printf("%swrote %s/eval.json and eval.md\n", md.c_str(), out.c_str());
  return 0;
}

// --pipeline: bad combinations of options, or "" when there are none.
std::string pipeline_option_error(const EvalCliOptions& o) {
  auto given = [&](const char* option) { return std::find(o.given.begin(), o.given.end(), option) != o.given.end(); };
  if (!o.pipeline) {
    for (const char* option : {"--weights", "--candidates", "--no-refine", "--refine-seconds"})
      if (given(option))
        return std::string(option) + " applies to --pipeline (the whole reconstruct pipeline); give --pipeline, or leave it out";
    if (o.model.empty()) return "--model is required (or --pipeline, which evaluates the whole reconstruct pipeline)";
    return "";
  }
  if (given("--model"))
    return "--pipeline evaluates the reconstruct pipeline with the models of --weights (default: the shipped models/); "
           "leave out --model (use --model <index> without --pipeline to score the index's top-1 alone)";
  for (const char* option : {"--index", "--train-data", "--decoding"})
    if (given(option)) return std::string(option) + " does not apply to --pipeline (the pipeline's sources come from --weights)";
  if (o.frame != "view")
    return "--pipeline scores in the view frame only (reconstruct turns its answer to face the first view); leave out --frame model";
  if (o.no_refine && given("--refine-seconds")) return "--no-refine and --refine-seconds contradict each other: give one";
  if (o.no_geometry) return "--no-geometry does not apply to --pipeline (the pipeline builds every candidate with the kernel)";
  return "";
}

// The whole reconstruct pipeline on each sample's first `views` views of set 0 (rendered maps, or
// photo-like renders through the estimator), the way `cadcrafter reconstruct` runs on photos:
// app::reconstruct_views pools, checks, scores, refines, turns the ranking to face the first view;
// its top candidate's DeepCAD vector (what sequence.h5 would hold) is scored against the target
// turned into the view frame. Samples run one after another, each with --threads (reconstruct's
// own parallelism: checks, poses and the refined candidates side by side).
int eval_pipeline(const EvalCliOptions& o) {
  const char* name = "eval";
  app::ReconstructParams params;
  params.weights_dir = o.weights.empty() ? app::default_weights_dir() : o.weights;
  params.candidates = o.candidates;
  params.threads = std::max(1, o.threads);
  params.seed = o.seed;
  params.device = o.device;
  params.refine = !o.no_refine;
  params.repair = o.repair;
  params.refine_seconds = o.refine_seconds;
  params.prior_weight = o.prior_weight;
  // --samples: the candidates reconstruct keeps (its --samples, default 4), unless given.
  const bool samples_given = std::find(o.given.begin(), o.given.end(), "--samples") != o.given.end();
  if (samples_given) params.samples = o.samples;
  if (auto st = app::validate_pipeline_params(params); !st) return fail(name, st.error().message);
  if (!fs::is_directory(params.weights_dir)) return fail(name, params.weights_dir + ": no such weights folder (--weights)");

  auto split = open_split(o);
  if (!split) return fail(name, split.error().message);
  const DatasetReader& reader = split->reader;
  const std::vector<size_t>& indices = split->indices;
  const bool photo = o.inputs == "photo";
  if (photo && !reader.has_rgb())
    return fail(name, o.data + ": --inputs photo needs a dataset built with --rgb (this one has no photo-like renders)");
  const int per_set = static_cast<int>(learn::dataset_views_per_set(o.data));
  const int views = std::min(o.views, per_set);

  std::unique_ptr<learn::PhotoEstimator> estimator;
  std::string estimator_path;
  if (photo) {
    estimator_path = o.estimator.empty() ? params.weights_dir + "/estimator.pt" : o.estimator;
    auto loaded = learn::PhotoEstimator::load(estimator_path);
    if (!loaded) return fail(name, loaded.error().message);
    estimator = std::make_unique<learn::PhotoEstimator>(std::move(*loaded));
  }
  auto source = app::make_candidate_source(params, params.weights_dir);
  if (!source) return fail(name, source.error().message);
  const std::string source_name = (*source)->name();
  const nlohmann::json source_json = (*source)->describe();
  learn::set_torch_threads(params.threads);

  // The targets in the view frame (turned to face their first view).
  std::vector<learn::VecRows> turned_targets;
  auto fv = view_frame_targets(reader, indices, !o.quiet, split->targets, turned_targets);
  if (!fv) return fail(name, fv.error().message);
  const std::string target_frame = reader.vec_frame();

  const auto t_all = std::chrono::steady_clock::now();
  std::vector<learn::VecRows> answers(indices.size());
  nlohmann::json per_sample = nlohmann::json::array();
  std::map<std::string, int64_t> wins = {{"retrieval", 0}, {"diffusion", 0}, {"procedural", 0}, {"none", 0}};
  std::map<std::string, int64_t> stopped_by;
  int failed_views = 0;
  int64_t refined_top = 0, changed_top = 0, scored = 0, repaired_top = 0;
  double sum_score = 0, sum_best_before = 0, sum_top_before = 0;
  std::vector<double> seconds;
  ProgressBar bar("reconstruct", static_cast<int64_t>(indices.size()), !o.quiet);
  for (size_t k = 0; k < indices.size(); ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    auto s = reader.get(indices[k]);
    if (!s) return fail(name, s.error().message);
    std::vector<app::ViewMaps> maps;
    for (int v = 0; v < std::min(views, s->views); ++v) {
      if (!photo) {
        maps.push_back(app::view_maps_of_sample(*s, v));
        continue;
      }
      auto view = app::estimate_view(app::photo_of_sample(*s, v), *estimator);
      if (view)
        maps.push_back(std::move(*view));
      else
        ++failed_views;  // no object found: left out, as reconstruct would refuse the photo
    }
    nlohmann::json row = {{"id", s->info.id}, {"views", maps.size()}};
    if (maps.empty()) {
      row["error"] = "no view to reconstruct from (the estimator found no object)";
      ++wins["none"];
    } else {
      auto result = app::reconstruct_views(maps, params, {}, source->get());
      if (!result) return fail(name, s->info.id + ": " + result.error().message);
      const auto& ranking = result->ranking;
      if (ranking.empty()) {
        ++wins["none"];
        row["error"] = "no candidate";
      } else {
        const app::PipelineCandidate& top = ranking.front();
        answers[k] = top.vec;
        ++wins[top.source];
        double best_before = 0;
        size_t best_before_rank = 0;
        for (size_t r = 0; r < ranking.size(); ++r)
          if (ranking[r].check.valid && ranking[r].score_before_refinement > best_before) {
            best_before = ranking[r].score_before_refinement;
            best_before_rank = r;
          }
        if (top.check.valid) {
          ++scored;
          sum_score += top.agreement.score;
          sum_top_before += top.score_before_refinement;
          sum_best_before += best_before;
        }
        refined_top += top.refinement.improved ? 1 : 0;
        repaired_top += top.repaired.empty() ? 0 : 1;
        changed_top += best_before_rank != 0 ? 1 : 0;
        for (const auto& c : ranking)
          if (c.refinement.attempted) ++stopped_by[c.refinement.stopped_by];
        row.update({{"source", top.source},
                    {"origin", top.proposal.origin},
                    {"valid", top.check.valid},
                    {"reason", top.check.reason},
                    {"score", top.agreement.score},
                    {"score_before_refinement", top.score_before_refinement},
                    {"best_score_before_refinement", best_before},
                    {"refined", top.refinement.improved},
                    {"quarter_turns", top.turns},
                    {"vec_rows", top.vec.size()},
                    {"proposals", result->proposals},
                    {"valid_proposals", result->valid_proposals},
                    {"repaired_proposals", result->repaired_proposals},
                    {"repaired", top.repaired.empty() ? nlohmann::json() : nlohmann::json(top.repaired)},
                    {"fallback_proposals", result->fallback_proposals}});
        if (!top.vec_error.empty()) row["vec_error"] = top.vec_error;
      }
    }
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    row["seconds"] = seconds.back();
    per_sample.push_back(row);
    char extra[96];
    std::snprintf(extra, sizeof extra, "%.1f s/sample, top: %s", seconds.back(), row.value("source", std::string("none")).c_str());
    bar.add(1, extra);
  }
  bar.finish();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();

  auto report = learn::evaluate_sequences(answers, split->targets, eval_options(o));
  const double n = static_cast<double>(indices.size());
  nlohmann::json win_json = nlohmann::json::object(), win_rate = nlohmann::json::object();
  for (const auto& [source_kind, count] : wins) {
    win_json[source_kind] = count;
    win_rate[source_kind] = static_cast<double>(count) / n;
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double mean_s = wall / n, median_s = sorted[sorted.size() / 2];
  auto mean_of = [&](double sum) { return scored > 0 ? sum / static_cast<double>(scored) : 0.0; };
  nlohmann::json scores = {
      {"top1_samples", scored},
      {"top1_score_mean", mean_of(sum_score)},
      {"top1_score_before_refinement_mean", mean_of(sum_top_before)},
      {"best_score_before_refinement_mean", mean_of(sum_best_before)},
      {"top1_refined", refined_top},
      {"top1_repaired", repaired_top},
      {"repair", params.repair},
      {"top1_not_the_unrefined_best", changed_top},
      {"refinement_stopped_by", stopped_by},
      {"meaning",
       "top1_score: the written top candidate's agreement with the inputs; top1_score_before_refinement: the same "
       "candidate's before the parameter refinement; best_score_before_refinement: the best candidate's before it (the "
       "unrefined top-1); means over samples whose top-1 is valid"}};
  nlohmann::json j = {{"task", "image_to_cad_pipeline"},
                      {"data", o.data},
                      {"split", o.split},
                      {"views", views},
                      {"inputs", o.inputs},
                      {"estimator", estimator_path},
                      {"estimator_failed_views", failed_views},
                      {"frame", "view"},
                      {"vec_frame", {{"targets", target_frame}, {"answers", "as reconstruct writes sequence.h5"}}},
                      {"weights", params.weights_dir},
                      {"candidates", o.candidates},
                      {"candidate_source", source_json},
                      {"samples_kept", params.samples},
                      {"steps", params.steps},
                      {"refine", params.refine},
                      {"refine_seconds", params.refine_seconds},
                      {"refine_candidates", params.refine_candidates},
                      {"prior_weight", params.prior_weight},
                      {"threads", params.threads},
                      {"seed", params.seed},
                      {"evaluated", indices.size()},
                      {"top1_source_wins", win_json},
                      {"top1_source_win_rate", win_rate},
                      {"scores", scores},
                      {"seconds_per_sample", {{"mean", mean_s}, {"median", sorted[sorted.size() / 2]}, {"total", wall}}},
                      {"pipeline", learn::report_to_json(report)},
                      {"target_quarter_turns", fv->turns},
                      {"per_sample", per_sample}};
  char line[512];
  std::string md = "# The reconstruct pipeline on " + o.data + " " + o.split + " (" + std::to_string(views) +
                   " view(s), inputs: " + (photo ? "photo-like renders through the estimator" : "rendered depth + normal maps") +
                   ", candidates: " + o.candidates + " (" + source_name + "), " +
                   (params.refine ? "refined (" + std::to_string(params.refine_seconds).substr(0, 4) + " s)" : std::string("--no-refine")) +
                   ", frame: view, " + target_frame + " targets, " + std::to_string(indices.size()) + " samples)\n\n" +
                   learn::report_to_markdown("Top-1 candidate of the pipeline", report) + "\n";
  md += "| top-1 source | samples | share |\n| --- | --- | --- |\n";
  for (const auto& [source_kind, count] : wins) {
    std::snprintf(line, sizeof line, "| %s | %lld | %.3f |\n", source_kind.c_str(), static_cast<long long>(count),
                  static_cast<double>(count) / n);
    md += line;
  }
  std::snprintf(line, sizeof line,
                "\nAgreement score of the top-1 (mean over %lld samples): %.4f; the same candidate before the parameter "
                "refinement %.4f; the unrefined top-1 %.4f. Refinement improved the top-1 in %lld samples and changed "
                "which candidate is top-1 in %lld.\n",
                static_cast<long long>(scored), mean_of(sum_score), mean_of(sum_top_before), mean_of(sum_best_before),
                static_cast<long long>(refined_top), static_cast<long long>(changed_top));
  md += line;
  std::snprintf(line, sizeof line, "The top-1 was a repaired proposal (kernel/repair.h) in %lld samples%s.\n",
                static_cast<long long>(repaired_top), params.repair ? "" : " (repair off: --no-repair)");
  md += line;
  std::snprintf(line, sizeof line, "\nSeconds per sample: mean %.2f, median %.2f (%d thread(s), %.0f s in all)%s\n", mean_s,
                median_s, params.threads, wall,
                failed_views > 0 ? (", the estimator found no object in " + std::to_string(failed_views) + " views").c_str() : "");
  md += line;
  const std::string out = o.out.empty() ? "eval-pipeline-" + o.split + "-" + std::to_string(views) + "v" + (photo ? "-photo" : "") +
                                              (params.refine ? "" : "-norefine")
                                        : o.out;
  if (auto st = write_outputs(out, j, md, o.seed); !st) return fail(name, st.error().message);
  std::printf("%swrote %s/eval.json and eval.md\n", md.c_str(), out.c_str());
  return 0;
}

int run_eval(const EvalCliOptions& o) {
  const char* name = "eval";
  learn::ensure_omp_proc_bind(saved_argc(), saved_argv());
  torch::set_num_threads(std::max(1, o.threads));
  if (const std::string bad = pipeline_option_error(o); !bad.empty()) return fail(name, bad);
  if (o.pipeline) return eval_pipeline(o);
  auto device = learn::parse_device(o.device);
  if (!device) return fail(name, device.error().message);
  if (!fs::is_directory(o.model) || !fs::exists(fs::path(o.model) / "config.json"))
    return fail(name, o.model + ": not a model folder (needs config.json and model.pt)");
  auto config_text = read_file((fs::path(o.model) / "config.json").string());
  if (!config_text) return fail(name, config_text.error().message);
  auto config_json = nlohmann::json::parse(*config_text, nullptr, false);
  const std::string kind = config_json.is_object() ? config_json.value("kind", "ae") : "";
  if (kind == "diffusion") return eval_diffusion(o, *device);
  if (kind == "part_index") return eval_retrieval(o, *device);
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
  app.add_option("--model", o->model,
                 "Run folder (or models/<name>) with config.json + model.pt, or a part index (models/retrieval); required "
                 "unless --pipeline");
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
  app.add_option("--index", o->index,
                 "Part index (cadcrafter index build) searched by the retrieval baseline instead of the training split's "
                 "features; a retrieval-augmented diffusion model takes its neighbours from it (required then)");
  app.add_flag("!--no-repair", o->repair,
               "Generative models: when no sample builds, score the first one as it is instead of the first one the "
               "checker-guided repair makes build (loops or extrudes removed; reconstruct repairs its candidates too)");
  app.add_flag("!--raw-answers", o->centre_answers,
               "View frame: score the generated sequences as decoded, instead of re-encoded in the targets' centred frame "
               "(box centred, DeepCAD's normalisation)");
  app.add_option("--frame", o->frame,
                 "Target frame: view (each target turned to face the first conditioning view, and each answer turned the "
                 "way reconstruct turns it) or model (the part's own frame)")
      ->check(CLI::IsMember({"view", "model"}))
      ->capture_default_str();
  app.add_option("--estimator", o->estimator, "Estimator for --inputs photo (default: the shipped models/estimator.pt)");
  app.add_option("--limit", o->limit, "Score only the first N sequences of the split");
  app.add_flag("--no-geometry", o->no_geometry, "Skip the kernel (accuracy only)");
  app.add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--seed", o->seed, "Seed of the surface sampling")->capture_default_str();
  app.add_option("--threads", o->threads, "CPU threads (torch and kernel)")->capture_default_str();
  app.add_flag("-q,--quiet", o->quiet, "No progress bar");
  app.add_flag("--pipeline", o->pipeline,
               "Evaluate the whole reconstruct pipeline (pool, kernel check, agreement, refinement, top-1 turned to face the "
               "first view) with the models of --weights, instead of --model");
  app.add_option("--weights", o->weights, "With --pipeline: folder with estimator.pt, retrieval/ and diffusion/ (default: the shipped models/)");
  app.add_option("--candidates", o->candidates,
                 "With --pipeline: reconstruct's candidate source (auto, retrieval, diffusion, procedural)")
      ->check(CLI::IsMember({"auto", "retrieval", "diffusion", "procedural"}))
      ->capture_default_str();
  app.add_flag("--no-refine", o->no_refine, "With --pipeline: skip the parameter refinement");
  app.add_option("--refine-seconds", o->refine_seconds, "With --pipeline: reconstruct's --refine-seconds")->capture_default_str();
  app.add_option("--prior-weight", o->prior_weight, "With --pipeline: reconstruct's --prior-weight")->capture_default_str();
  return [o, &app]() {
    o->given.clear();  // which options were given, for --pipeline's bad combinations
    for (const CLI::Option* option : app.get_options())
      if (option->count() > 0) o->given.push_back(option->get_name());
    return run_eval(*o);
  };
});

}  // namespace
}  // namespace cadcrafter::cli
