// `cadcrafter generate`: procedural sketch-and-extrude models.
//   generate -n N -o DIR [--seed S --complexity C --threads T]   N valid, distinct models as
//       cad_json + DeepCAD .h5, an index.csv (id, seed, family, extrudes, rows) and run.json.
//   generate --stats [--f360 DIR] [-n N] [--stats-out FILE]       sequence statistics of the
//       generator next to the F360 train split, as a Markdown table.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "cad/cad_h5.h"
#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "command.h"
#include "data/generator.h"
#include "data/model_stats.h"
#include "kernel/check.h"
#include "util/atomic_file.h"
#include "util/parallel.h"
#include "util/progress.h"
#include "util/run_info.h"

namespace cadcrafter::cli {
namespace {

struct GenerateCliOptions {
  int64_t count = 100;
  std::string out_dir;
  uint64_t seed = 0;
  int complexity = 2;
  int threads = default_threads();
  bool no_check = false, no_h5 = false;
  int timeout_ms = 4000;
  bool stats = false;
  std::string f360 = "../shared/data/f360";
  std::string stats_out;
};

std::string vec_key(const CadVec& v) {
  std::string key;
  for (const auto& row : v)
    for (int x : row) key += std::to_string(x) + ",";
  return key;
}

int run_stats(const GenerateCliOptions& o) {
  const char* name = "generate";
  // F360 train: every file DeepCAD encodes.
  const std::string manifest = o.f360 + "/manifest.csv";
  auto text = read_file(manifest);
  if (!text.ok()) return fail(name, manifest + ": cannot read (give the F360 folder with --f360)");
  std::vector<std::string> ids;
  {
    size_t pos = text->find('\n') + 1;
    while (pos < text->size()) {
      size_t end = text->find('\n', pos);
      if (end == std::string::npos) end = text->size();
      std::string line = text->substr(pos, end - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto comma = line.find(',');
      if (!line.empty() && line.size() >= 6 && line.compare(line.size() - 6, 6, ",train") == 0) ids.push_back(line.substr(0, comma));
      pos = end + 1;
    }
  }
  SequenceStats real, synth;
  int64_t unreadable = 0, rejected = 0;
  {
    ProgressBar bar("f360 stats", static_cast<int64_t>(ids.size()));
    for (const std::string& id : ids) {
      auto model = read_cad_json(o.f360 + "/json/" + id + ".json");
      bar.add(1);
      if (!model.ok()) {
        ++unreadable;
        continue;
      }
      auto vec = encode(*model);
      if (!vec.ok()) {
        ++rejected;
        continue;
      }
      real.add(*vec);
    }
  }
  GeneratorOptions g;
  g.complexity = o.complexity;
  const int64_t n = o.count;
  int64_t not_encodable = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto vec = encode(generate_model(g, derive_seed(o.seed, static_cast<uint64_t>(i), 0)));
    if (!vec.ok()) {
      ++not_encodable;
      continue;
    }
    synth.add(*vec);
  }
  std::string md = compare_stats_markdown("F360 train", real, "generator (complexity " + std::to_string(o.complexity) + ")", synth);
  char note[256];
  std::snprintf(note, sizeof note, "\nF360 train: %zu ids, %lld unreadable, %lld rejected by the DeepCAD encoder. Generator: %lld seeds, %lld not encodable.\n",
                ids.size(), static_cast<long long>(unreadable), static_cast<long long>(rejected), static_cast<long long>(n),
                static_cast<long long>(not_encodable));
  md += note;
  std::fputs(md.c_str(), stdout);
  if (!o.stats_out.empty())
    if (Status s = write_file_atomically(o.stats_out, md); !s.ok()) return fail(name, s.error().message);
  return 0;
}

int run_generate(const GenerateCliOptions& o) {
  const char* name = "generate";
  if (o.stats) return run_stats(o);
  if (o.out_dir.empty()) return fail(name, "-o DIR is required (or use --stats)");
  if (o.count < 1) return fail(name, "-n must be >= 1");
  if (o.complexity < 1 || o.complexity > 3) return fail(name, "--complexity must be 1, 2 or 3");
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return fail(name, o.out_dir + ": cannot create: " + ec.message());

  GeneratorOptions g;
  g.complexity = o.complexity;
  ModelChecker checker = [&](const CadModel& m) -> Status {
    auto vec = encode(m);
    if (!vec.ok()) return vec.error();
    if (o.no_check) return {};
    CheckOptions c;
    c.timeout_ms = o.timeout_ms;
    const CheckResult r = check_model(m, c);
    if (!r.valid) return Status::fail(r.code, r.reason);
    return {};
  };
  ModelKey key = [](const CadModel& m) {
    auto vec = encode(m);
    return vec.ok() ? vec_key(*vec) : std::string();
  };
  const auto start = std::chrono::steady_clock::now();
  GenerationReport report;
  std::vector<GeneratedModel> models;
  {
    ProgressBar bar(name, o.count);
    models = generate_valid_models(g, o.seed, o.count, checker, key, std::max(1, o.threads), &report,
                                   [&](int64_t done) { bar.update(done); });
  }
  std::string index = "id,seed,family,n_extrudes,rows\n";
  for (const GeneratedModel& gm : models) {
    const std::string base = o.out_dir + "/" + gm.model.id;
    if (Status s = write_cad_json(gm.model, base + ".json"); !s.ok()) return fail(name, s.error().message);
    if (!o.no_h5) {
      auto vec = encode(gm.model);
      if (!vec.ok()) return fail(name, gm.model.id + ": " + vec.error().message);
      if (Status s = write_cad_vec_h5(base + ".h5", *vec); !s.ok()) return fail(name, s.error().message);
    }
    index += gm.model.id + "," + std::to_string(gm.seed) + "," + part_family_name(gm.family) + "," +
             std::to_string(gm.model.extrudes.size()) + "," + std::to_string(count_rows(gm.model)) + "\n";
  }
  if (Status s = write_file_atomically(o.out_dir + "/index.csv", index); !s.ok()) return fail(name, s.error().message);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json run = make_run_info(saved_argc(), saved_argv());
  run["seed"] = o.seed;
  run["complexity"] = o.complexity;
  run["models"] = models.size();
  run["attempts"] = report.attempts;
  run["rejected_invalid"] = report.rejected_invalid;
  run["rejected_duplicate"] = report.rejected_duplicate;
  run["kernel_checked"] = !o.no_check;
  run["seconds"] = seconds;
  if (Status s = write_file_atomically(o.out_dir + "/run.json", run.dump(1) + "\n"); !s.ok()) return fail(name, s.error().message);
  std::fprintf(stderr, "generate: %zu models in %s (%lld attempts, %lld invalid, %lld duplicates) in %.1f s\n", models.size(),
               o.out_dir.c_str(), static_cast<long long>(report.attempts), static_cast<long long>(report.rejected_invalid),
               static_cast<long long>(report.rejected_duplicate), seconds);
  return 0;
}

CommandRegistration reg("generate", "Generate procedural sketch-and-extrude CAD models (or --stats vs F360)", [](CLI::App& app) {
  auto o = std::make_shared<GenerateCliOptions>();
  app.add_option("-n,--count", o->count, "Number of models (with --stats: generator samples)")->capture_default_str();
  app.add_option("-o,--output", o->out_dir, "Output folder (cad_json + .h5 + index.csv + run.json)");
  app.add_option("--seed", o->seed, "Base seed (the output depends only on seed, count and complexity)")->capture_default_str();
  app.add_option("--complexity", o->complexity, "1 simple, 2 default (F360-like), 3 feature-rich")->capture_default_str();
  app.add_option("--threads", o->threads, "Worker threads")->capture_default_str();
  app.add_option("--timeout-ms", o->timeout_ms, "Kernel check time limit per model")->capture_default_str();
  app.add_flag("--no-check", o->no_check, "Skip the kernel validity check (models are still encodable and distinct)");
  app.add_flag("--no-h5", o->no_h5, "Write cad_json only");
  app.add_flag("--stats", o->stats, "Print sequence statistics of the generator next to the F360 train split");
  app.add_option("--f360", o->f360, "F360 folder for --stats")->capture_default_str();
  app.add_option("--stats-out", o->stats_out, "Also write the --stats table to this file");
  return [o]() -> int { return run_generate(*o); };
});

}  // namespace
}  // namespace cadcrafter::cli
