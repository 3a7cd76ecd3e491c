// Building and reading training datasets: models from F360 cad_json folders and from the
// procedural generator are compiled (kernel), encoded (DeepCAD vector), tessellated,
// rendered from sets x views cameras and written to shards (shard.h).
//
// The order of samples is fixed by the options alone: sources in the given order, F360 ids
// sorted within a source, synthetic models by index. Shard k holds the accepted models among
// jobs [k * shard_size, (k + 1) * shard_size), so a re-run recomputes exactly the missing
// shards (finished ones are verified and skipped) and the result does not depend on the
// number of threads. Rejected models are listed with their reason in rejected.jsonl.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cad/cad_model.h"
#include "util/status.h"
#include "data/generator.h"
#include "data/shard.h"

namespace cadcrafter {

struct DatasetSource {
  std::string kind;      // "f360" (a folder with manifest.csv + json/) or "synth"
  std::string path;      // f360 folder
  int64_t count = 0;     // synth: number of models
  std::string spec;      // as given on the command line, for the manifest
};

// Parses "f360:PATH" or "synth:N". The error names the bad spec.
Result<DatasetSource> parse_dataset_source(const std::string& spec);

struct DatasetBuildOptions {
  std::vector<DatasetSource> sources;
  std::vector<std::string> splits{"train"};  // F360 splits to include
  std::string out_dir;
  int sets = 8, views_per_set = 4, size = 128;
  bool rgb = false;
  // The frame of the stored vectors: "centred" (cad/turn.h, centred_on: the solid's bounding box
  // centred on the origin before DeepCAD's normalisation, the image -> CAD target frame) or
  // "model" (DeepCAD's own: normalised about the model's origin). Renders are the same in both.
  std::string vec_frame = "centred";
  uint64_t seed = 0;
  int shard_size = 256;
  int threads = 1;
  int compression_level = 1;   // zlib level of each record
  int check_timeout_ms = 15000;  // per model kernel check (generous: a timeout under load would make the output depend on load)
  int64_t limit_per_source = -1;  // F360: only the first N ids (quick builds, tests)
  GeneratorOptions generator;
  bool progress = true;
  nlohmann::json run_info;     // stored in the manifest (command line etc.)
};

struct DatasetBuildReport {
  int64_t jobs = 0, samples = 0, rejected = 0;
  int shards = 0, shards_skipped = 0;  // skipped = already finished by an earlier run
  int64_t synth_regenerated = 0;       // generator models the kernel refused and replaced
  double seconds = 0;
  // Summed over workers (seconds): where the time goes.
  double t_load = 0, t_check = 0, t_tessellate = 0, t_render = 0, t_pack = 0;
  uint64_t bytes = 0;
};

// Builds (or resumes) the dataset in options.out_dir. Fails when out_dir holds a dataset
// made with different options.
Result<DatasetBuildReport> build_dataset(const DatasetBuildOptions& options);

// The file names inside a dataset folder.
std::string dataset_manifest_path(const std::string& dir);  // dataset.json
std::string shard_file_name(int index);                     // shard-00000.ccs

// Random access over a finished dataset. get() and info() are thread-safe (records are read
// with pread). Sample i is stable: the same options always give the same order.
class DatasetReader {
 public:
  static Result<DatasetReader> open(const std::string& dir);

  size_t size() const { return index_.size(); }
  int views() const { return views_; }
  int image_size() const { return size_; }
  bool has_rgb() const { return rgb_; }
  const nlohmann::json& manifest() const { return manifest_; }
  // False while a build is still running (or was stopped): only finished shards are listed.
  bool complete() const { return manifest_.value("complete", false); }
  // DatasetBuildOptions::vec_frame of the build ("model" for datasets made before it existed).
  std::string vec_frame() const;
  const SampleInfo& info(size_t i) const;
  // images = false: only info and the vector (about 50x cheaper; for sequence-only training).
  Result<DatasetSample> get(size_t i, bool images = true) const;
  // Indices of the samples with this split ("" = any) and source ("" = any), ascending.
  std::vector<size_t> indices(const std::string& split, const std::string& source = "") const;
  const std::vector<std::shared_ptr<ShardFile>>& shards() const { return shards_; }

 private:
  std::string dir_;
  nlohmann::json manifest_;
  int views_ = 0, size_ = 0;
  bool rgb_ = false;
  std::vector<std::shared_ptr<ShardFile>> shards_;
  std::vector<std::pair<uint32_t, uint32_t>> index_;  // (shard, record)
};

// What one model turns into (exposed for the benchmark): compile + encode + tessellate +
// render. `rejected` is non-empty when the core refuses the model.
struct SampleTimings {
  double check = 0, tessellate = 0, render = 0;
};
Result<DatasetSample> make_sample(const CadModel& model, const DatasetBuildOptions& options, uint64_t render_seed,
                                  SampleTimings* timings = nullptr);

}  // namespace cadcrafter
