// `cadcrafter dataset`: training data shards.
//   dataset build --source f360:DIR --split train --source synth:N -o OUT [--sets 8 --views 4
//                 --size 128 --rgb --frame centred|model --threads N --seed S --shard-size M]
//   dataset info DIR [--verify]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "data/dataset.h"
#include "kernel/check.h"
#include "util/parallel.h"
#include "util/run_info.h"
#include "util/atomic_file.h"

namespace cadcrafter::cli {
namespace {

struct DatasetCliOptions {
  std::vector<std::string> sources;
  std::vector<std::string> splits;
  std::string out_dir;
  int sets = 8, views = 4, size = 128;
  bool rgb = false;
  std::string frame = "centred";
  int threads = default_threads();
  uint64_t seed = 0;
  int shard_size = 256;
  int complexity = 2;
  int64_t limit = -1;
  int timeout_ms = 15000;
  bool quiet = false;
  // info
  std::string dir;
  bool verify = false;
};

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", b, units[u]);
  return buf;
}

int run_build(const DatasetCliOptions& c) {
  const char* name = "dataset build";
  if (c.out_dir.empty()) return fail(name, "-o DIR is required");
  DatasetBuildOptions o;
  for (const std::string& spec : c.sources) {
    auto s = parse_dataset_source(spec);
    if (!s.ok()) return fail(name, s.error().message);
    if (s->kind == "f360" && !std::filesystem::is_directory(s->path)) return fail(name, s->path + ": no such folder (from --source " + spec + ")");
    o.sources.push_back(*s);
  }
  if (o.sources.empty()) return fail(name, "give at least one --source f360:DIR or synth:N");
  if (!c.splits.empty()) o.splits = c.splits;
  o.out_dir = c.out_dir;
  o.sets = c.sets;
  o.views_per_set = c.views;
  o.size = c.size;
  o.rgb = c.rgb;
  o.vec_frame = c.frame;
  o.threads = std::max(1, c.threads);
  o.seed = c.seed;
  o.shard_size = c.shard_size;
  o.generator.complexity = c.complexity;
  o.limit_per_source = c.limit;
  o.check_timeout_ms = c.timeout_ms;
  o.progress = !c.quiet;
  o.run_info = make_run_info(saved_argc(), saved_argv());
  auto report = build_dataset(o);
  if (!report.ok()) return fail(name, report.error().message);
  const auto& r = *report;
  nlohmann::json run = o.run_info;
  run["threads"] = o.threads;
  run["seconds"] = r.seconds;
  run["report"] = {{"jobs", r.jobs},         {"samples", r.samples},   {"rejected", r.rejected},
                   {"shards", r.shards},     {"shards_skipped", r.shards_skipped}, {"synth_regenerated", r.synth_regenerated},
                   {"bytes", r.bytes},       {"worker_seconds", {{"load", r.t_load}, {"check", r.t_check}, {"tessellate", r.t_tessellate},
                                                                 {"render", r.t_render}, {"pack", r.t_pack}}}};
  if (Status s = write_file_atomically(o.out_dir + "/run.json", run.dump(1) + "\n"); !s.ok()) return fail(name, s.error().message);
  const int64_t built = r.jobs;
  std::fprintf(stderr,
               "dataset: %lld samples, %lld rejected (see rejected.jsonl), %d shards (%d already done), %s, %.1f s (%.1f models/s)\n"
               "dataset: worker time: check %.1f s, tessellate %.1f s, render %.1f s, pack %.1f s; synth regenerated %lld\n",
               static_cast<long long>(r.samples), static_cast<long long>(r.rejected), r.shards, r.shards_skipped,
               human_bytes(static_cast<double>(r.bytes)).c_str(), r.seconds, r.seconds > 0 ? built / r.seconds : 0.0, r.t_check,
               r.t_tessellate, r.t_render, r.t_pack, static_cast<long long>(r.synth_regenerated));
  return 0;
}

int run_info(const DatasetCliOptions& c) {
  const char* name = "dataset info";
  auto reader = DatasetReader::open(c.dir);
  if (!reader.ok()) return fail(name, reader.error().message);
  const auto& m = reader->manifest();
  std::map<std::string, int64_t> counts;
  for (size_t i = 0; i < reader->size(); ++i) ++counts[reader->info(i).source + " / " + reader->info(i).split];
  uint64_t bytes = 0;
  for (const auto& s : reader->shards()) bytes += s->file_bytes();
  std::printf("dataset %s%s\n", c.dir.c_str(), reader->complete() ? "" : " (INCOMPLETE: build still running or stopped; finished shards only)");
  std::printf("  samples   %zu (%lld jobs, %lld rejected)\n", reader->size(), m.value("jobs", 0LL), m.value("rejected", 0LL));
  for (const auto& [k, v] : counts) std::printf("    %-20s %lld\n", k.c_str(), static_cast<long long>(v));
  std::printf("  views     %d x %d px%s, depth+normal+mask%s\n", reader->views(), reader->image_size(), "", reader->has_rgb() ? "+rgb" : "");
  std::printf("  vectors   %s frame\n", reader->vec_frame().c_str());
  std::printf("  shards    %zu, %s (%s per sample)\n", reader->shards().size(), human_bytes(static_cast<double>(bytes)).c_str(),
              human_bytes(reader->size() ? static_cast<double>(bytes) / reader->size() : 0).c_str());
  // Rejection reasons, by their first words.
  std::map<std::string, int64_t> reasons;
  for (const auto& s : reader->shards())
    for (const auto& r : s->meta().value("rejected", nlohmann::json::array())) {
      std::string reason = r.value("reason", "");
      const auto cut = reason.find_first_of(":(");
      ++reasons[r.value("code", "") + ": " + reason.substr(0, cut == std::string::npos ? 40 : std::min<size_t>(cut, 40))];
    }
  if (!reasons.empty()) std::printf("  rejected by reason\n");
  for (const auto& [k, v] : reasons) std::printf("    %-60s %lld\n", k.c_str(), static_cast<long long>(v));
  if (c.verify) {
    int bad = 0;
    for (const auto& s : reader->shards())
      if (Status st = verify_shard(s->path()); !st.ok()) {
        ++bad;
        std::fprintf(stderr, "dataset info: %s\n", st.error().message.c_str());
      }
    std::printf("  verify    %s\n", bad ? "FAILED" : "all shard checksums ok");
    if (bad) return 1;
  }
  return 0;
}

CommandRegistration reg("dataset", "Build or inspect sharded training datasets (vectors + rendered views)", [](CLI::App& app) {
  auto o = std::make_shared<DatasetCliOptions>();
  app.require_subcommand(1);
  CLI::App* build = app.add_subcommand("build", "Compile, encode, render and shard models from F360 and/or the generator");
  build->add_option("--source", o->sources, "f360:DIR or synth:N (repeatable; order = sample order)")->required();
  build->add_option("--split", o->splits, "F360 splits to include (repeatable; default train)");
  build->add_option("-o,--output", o->out_dir, "Output folder")->required();
  build->add_option("--sets", o->sets, "View sets per model")->capture_default_str();
  build->add_option("--views", o->views, "Views per set")->capture_default_str();
  build->add_option("--size", o->size, "Image size in pixels")->capture_default_str();
  build->add_flag("--rgb", o->rgb, "Also store photo-like RGB renders");
  build->add_option("--frame", o->frame,
                    "Frame of the stored vectors: centred (the solid's box centred on the origin before DeepCAD's "
                    "normalisation: the image -> CAD target) or model (DeepCAD's own, about the model's origin)")
      ->check(CLI::IsMember({"centred", "model"}))
      ->capture_default_str();
  build->add_option("--threads,--workers", o->threads, "Worker threads")->capture_default_str();
  build->add_option("--seed", o->seed, "Seed of cameras and synthetic models")->capture_default_str();
  build->add_option("--shard-size", o->shard_size, "Models (jobs) per shard")->capture_default_str();
  build->add_option("--complexity", o->complexity, "Generator complexity for synth sources (1-3)")->capture_default_str();
  build->add_option("--limit", o->limit, "Only the first N ids of each F360 source (quick builds)");
  build->add_option("--timeout-ms", o->timeout_ms, "Kernel check time limit per model")->capture_default_str();
  build->add_flag("-q,--quiet", o->quiet, "No progress bar");
  CLI::App* info = app.add_subcommand("info", "Print counts and sizes of a dataset");
  info->add_option("dir", o->dir, "Dataset folder")->required();
  info->add_flag("--verify", o->verify, "Check every shard's whole-file checksum");
  return [o, build, info]() -> int {
    if (build->parsed()) return run_build(*o);
    if (info->parsed()) return run_info(*o);
    return 2;
  };
});

}  // namespace
}  // namespace cadcrafter::cli
