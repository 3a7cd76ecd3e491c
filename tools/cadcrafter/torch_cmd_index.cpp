// `cadcrafter index build --data DATASET --backbone RUN -o DIR`: the database of known parts that
// reconstruct's retrieval candidate source and eval's retrieval baseline search (learn/inference/part_index.h):
// each part's DeepCAD vector and its contrastive-feature embedding over views spread across the
// rendering sets. `cadcrafter index info DIR` prints what an index holds.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "learn/training/checkpoint.h"
#include "learn/inference/part_index.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {

struct IndexOptions {
  std::string action, data, backbone, out, source;
  std::vector<std::string> splits{"train"};
  int64_t views = 8;
  int threads = 2;
  bool force = false, quiet = false;
};

int run_index(const IndexOptions& o) {
  const char* name = "index";
  learn::ensure_omp_proc_bind(saved_argc(), saved_argv());
  torch::set_num_threads(std::max(1, o.threads));
  if (o.action == "info") {
    auto index = learn::PartIndex::load(o.out);
    if (!index) return fail(name, index.error().message);
    std::printf("%s", index->describe().dump(2).c_str());
    std::printf("\n%lld parts, %d-d features\n", static_cast<long long>(index->size()), index->feature_dim());
    return 0;
  }
  if (o.data.empty() || o.backbone.empty()) return fail(name, "index build needs --data <dataset> and --backbone <backbone run>");
  learn::PartIndexBuildOptions b;
  b.dataset = o.data;
  b.splits = o.splits;
  b.source = o.source;
  b.backbone = o.backbone;
  b.out_dir = o.out;
  b.views_per_model = o.views;
  b.threads = std::max(1, o.threads);
  b.progress = !o.quiet;
  b.force = o.force;
  b.run_info = make_run_info(saved_argc(), saved_argv());
  if (auto st = learn::build_part_index(b); !st) return fail(name, st.error().message);
  std::printf("wrote part index %s\n", o.out.c_str());
  return 0;
}

CommandRegistration reg("index", "Build or describe the part index searched by reconstruct and eval", [](CLI::App& app) {
  auto o = std::make_shared<IndexOptions>();
  app.add_option("action", o->action, "build (from dataset shards) or info")->required()->check(CLI::IsMember({"build", "info"}));
  app.add_option("-o,--output", o->out, "Index folder (written by build, read by info)")->required();
  app.add_option("--data", o->data, "Dataset shards (cadcrafter dataset build)");
  app.add_option("--backbone", o->backbone, "Backbone run folder whose features are indexed (the generator's)");
  app.add_option("--split", o->splits, "Splits to index (repeatable)")->capture_default_str();
  app.add_option("--source", o->source, "Only this source: f360 or synth (default: all)")->check(CLI::IsMember({"", "f360", "synth"}));
  app.add_option("--views", o->views, "Views per part, spread over the rendering sets")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--threads", o->threads, "CPU threads")->capture_default_str();
  app.add_flag("--force", o->force, "Replace an existing index");
  app.add_flag("-q,--quiet", o->quiet, "No progress bar");
  return [o]() { return run_index(*o); };
});

}  // namespace
}  // namespace cadcrafter::cli
