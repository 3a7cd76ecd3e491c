#include "data/dataset.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_set>

#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "cad/turn.h"
#include "geom/mesh_measure.h"
#include "kernel/check.h"
#include "kernel/tessellate.h"
#include "render/render_views.h"
#include "util/atomic_file.h"
#include "util/parallel.h"
#include "util/progress.h"

namespace cadcrafter {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One model to turn into a sample, in dataset order.
struct Job {
  std::string source;  // "f360" / "synth"
  std::string path;    // f360 cad_json file
  std::string id, split;
  int64_t synth_index = -1;
  uint64_t synth_base_seed = 0;
  uint64_t first_attempt = 0;  // synth: the attempt the planner accepted
};

struct JobOutcome {
  bool ok = false;
  PackedSample packed;
  nlohmann::json rejected;  // {id, source, split, reason, code} when !ok
  int64_t regenerated = 0;
  SampleTimings timings;
  double t_load = 0, t_pack = 0;
};

std::string vec_key(const CadVec& v) {
  std::string key;
  key.reserve(v.size() * kVecColumns * 2);
  for (const auto& row : v)
    for (int x : row) key.push_back(static_cast<char>(x + 1)), key.push_back(static_cast<char>((x + 1) >> 8));
  return key;
}

Result<std::vector<Job>> list_f360_jobs(const DatasetSource& src, const DatasetBuildOptions& o) {
  using R = Result<std::vector<Job>>;
  const std::string manifest = src.path + "/manifest.csv";
  std::ifstream in(manifest);
  if (!in) return R::fail(ErrorCode::kIo, manifest + ": cannot open (expected an F360 folder with manifest.csv and json/)");
  std::string line;
  std::getline(in, line);
  auto strip_cr = [](std::string& l) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
  };
  strip_cr(line);
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) header.push_back(f);
  }
  const auto id_col = std::find(header.begin(), header.end(), "id") - header.begin();
  const auto split_col = std::find(header.begin(), header.end(), "split") - header.begin();
  if (id_col >= static_cast<long>(header.size()) || split_col >= static_cast<long>(header.size()))
    return R::fail(ErrorCode::kParse, manifest + ": header has no id/split columns");
  std::vector<Job> jobs;
  const std::set<std::string> wanted(o.splits.begin(), o.splits.end());
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    strip_cr(line);
    if (line.empty()) continue;
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
    if (static_cast<long>(fields.size()) <= std::max(id_col, split_col))
      return R::fail(ErrorCode::kParse, manifest + ":" + std::to_string(line_no) + ": too few columns");
    Job j;
    j.source = "f360";
    j.id = fields[static_cast<size_t>(id_col)];
    j.split = fields[static_cast<size_t>(split_col)];
    j.path = src.path + "/json/" + j.id + ".json";
    if (wanted.count(j.split)) jobs.push_back(std::move(j));
  }
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.id < b.id; });
  if (o.limit_per_source >= 0 && static_cast<int64_t>(jobs.size()) > o.limit_per_source) jobs.resize(static_cast<size_t>(o.limit_per_source));
  return jobs;
}

// Plans synthetic models: model k is the first attempt whose vector encodes and is new (in
// index order). Cheap (no kernel); the kernel check happens in the workers.
std::vector<Job> plan_synth_jobs(const DatasetSource& src, size_t source_index, const DatasetBuildOptions& o,
                                 std::unordered_set<std::string>* keys) {
  std::vector<Job> jobs;
  const uint64_t base = derive_seed(o.seed, 0x53594E5448ull, source_index);  // "SYNTH"
  for (int64_t k = 0; k < src.count; ++k) {
    for (uint64_t attempt = 0;; ++attempt) {
      const CadModel m = generate_model(o.generator, derive_seed(base, static_cast<uint64_t>(k), attempt));
      auto v = encode(m);
      if (!v.ok() || !keys->insert(vec_key(*v)).second) continue;
      Job j;
      j.source = "synth";
      j.split = "train";
      j.synth_index = k;
      j.synth_base_seed = base;
      j.first_attempt = attempt;
      j.id = m.id;
      jobs.push_back(std::move(j));
      break;
    }
  }
  return jobs;
}

nlohmann::json build_config(const DatasetBuildOptions& o) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : o.sources) sources.push_back(s.kind == "synth" ? "synth:" + std::to_string(s.count) : "f360:" + fs::weakly_canonical(s.path).string());
  return {{"sources", sources},
          {"splits", o.splits},
          {"sets", o.sets},
          {"views_per_set", o.views_per_set},
          {"size", o.size},
          {"rgb", o.rgb},
          {"vec_frame", o.vec_frame},
          {"seed", o.seed},
          {"shard_size", o.shard_size},
          {"limit_per_source", o.limit_per_source},
          {"generator_complexity", o.generator.complexity},
          {"generator_version", kGeneratorVersion},
          {"format_version", kShardVersion}};
}

JobOutcome run_job(const Job& job, int64_t job_index, const DatasetBuildOptions& o,
                   const std::unordered_set<std::string>& planned_keys) {
  JobOutcome out;
  const uint64_t render_seed = derive_seed(o.seed, static_cast<uint64_t>(job_index), 0x52454E44ull);  // "REND"
  auto reject = [&](const Error& e) {
    out.rejected = {{"id", job.id}, {"source", job.source}, {"split", job.split}, {"code", error_code_name(e.code)}, {"reason", e.message}};
  };
  Result<DatasetSample> sample = Result<DatasetSample>::fail(ErrorCode::kInternal, "not built");
  uint64_t used_seed = render_seed;
  if (job.source == "f360") {
    const auto t0 = Clock::now();
    auto model = read_cad_json(job.path);
    out.t_load = seconds_since(t0);
    if (!model.ok()) {
      reject(model.error());
      return out;
    }
    sample = make_sample(*model, o, render_seed, &out.timings);
  } else {
    // The planner accepted `first_attempt`; if the kernel refuses it, walk on to the next
    // attempt that encodes and is not one of the planned models.
    for (uint64_t attempt = job.first_attempt; attempt < job.first_attempt + 64; ++attempt) {
      const uint64_t seed = derive_seed(job.synth_base_seed, static_cast<uint64_t>(job.synth_index), attempt);
      const CadModel m = generate_model(o.generator, seed);
      if (attempt != job.first_attempt) {
        auto v = encode(m);
        if (!v.ok() || planned_keys.count(vec_key(*v))) continue;
      }
      SampleTimings t;
      sample = make_sample(m, o, render_seed, &t);
      out.timings.check += t.check, out.timings.tessellate += t.tessellate, out.timings.render += t.render;
      if (sample.ok()) {
        sample->info.id = m.id;
        used_seed = seed;
        break;
      }
      ++out.regenerated;
    }
  }
  if (!sample.ok()) {
    reject(sample.error());
    return out;
  }
  sample->info.source = job.source;
  sample->info.split = job.split;
  sample->info.seed = used_seed;
  if (job.source == "f360") sample->info.id = job.id;
  const auto t0 = Clock::now();
  out.packed = pack_sample(*sample, o.compression_level);
  out.t_pack = seconds_since(t0);
  out.ok = true;
  return out;
}

}  // namespace

std::string dataset_manifest_path(const std::string& dir) { return dir + "/dataset.json"; }

std::string shard_file_name(int index) {
  char name[32];
  std::snprintf(name, sizeof name, "shard-%05d.ccs", index);
  return name;
}

Result<DatasetSource> parse_dataset_source(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon), arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  DatasetSource s;
  s.kind = kind;
  s.spec = spec;
  if (kind == "f360" && !arg.empty()) {
    s.path = arg;
    return s;
  }
  if (kind == "synth" && !arg.empty()) {
    try {
      size_t used = 0;
      s.count = std::stoll(arg, &used);
      if (used == arg.size() && s.count >= 0) return s;
    } catch (const std::exception&) {
    }
  }
  return Result<DatasetSource>::fail(ErrorCode::kInvalidArgument, "bad --source '" + spec + "': expected f360:PATH or synth:N");
}

Result<DatasetSample> make_sample(const CadModel& model, const DatasetBuildOptions& o, uint64_t render_seed, SampleTimings* timings) {
  using R = Result<DatasetSample>;
  auto t0 = Clock::now();
  auto vec = encode(model);
  if (!vec.ok()) return vec.error();
  CheckOptions check;
  check.timeout_ms = o.check_timeout_ms;
  check.keep_solid = true;
  const CheckResult checked = check_model(model, check);
  if (timings) timings->check += seconds_since(t0);
  if (!checked.valid) return R::fail(checked.code, checked.reason);
  t0 = Clock::now();
  const Mesh mesh = tessellate(checked.solid);
  if (timings) timings->tessellate += seconds_since(t0);
  if (mesh.empty()) return R::fail(ErrorCode::kGeometry, "tessellation produced no triangles");
  if (o.vec_frame == "centred") {
    const BoundingBox box = mesh_bbox(mesh);
    // Centred, the longest half-extent becomes 0.75: a one-sided extrude over 0.99 of that frame
    // (over 1.32 half-extents) would clip at DeepCAD's extent range, so it turns symmetric.
    const double limit = 0.99 * largest_half_extent(box) / kNormFactor;
    vec = encode(centred_on(with_representable_extents(clip_extents_to_box(model, box), limit), box));
    if (!vec.ok()) return vec.error();
  }
  t0 = Clock::now();
  RenderOptions ro;
  ro.sets = o.sets;
  ro.views_per_set = o.views_per_set;
  ro.size = o.size;
  ro.rgb = o.rgb;
  Normalization norm;
  const std::vector<RenderedView> views = render_views(mesh, ro, render_seed, &norm, 1);
  if (timings) timings->render += seconds_since(t0);

  DatasetSample s;
  s.info.id = model.id;
  s.info.vec_len = static_cast<int>(vec->size());
  const CadVec padded = pad_vec(*vec, kShardVecRows);
  for (size_t r = 0; r < padded.size() && r < kShardVecRows; ++r)
    for (int c = 0; c < kShardVecCols; ++c) s.vec[r * kShardVecCols + c] = static_cast<int16_t>(padded[r][c]);
  s.views = static_cast<int>(views.size());
  s.size = o.size;
  s.norm_center = {norm.center.x, norm.center.y, norm.center.z};
  s.norm_scale = norm.scale;
  const size_t px = static_cast<size_t>(o.size) * o.size;
  s.depth.reserve(px * views.size());
  s.normal.reserve(px * 3 * views.size());
  s.mask.reserve(px * views.size());
  for (const RenderedView& v : views) {
    ShardCamera cam;
    const auto k = v.camera.intrinsics();
    const auto rt = v.camera.extrinsics();
    for (int i = 0; i < 9; ++i) cam.intrinsics[i] = static_cast<float>(k[i]);
    for (int i = 0; i < 12; ++i) cam.extrinsics[i] = static_cast<float>(rt[i]);
    s.cameras.push_back(cam);
    s.depth.insert(s.depth.end(), v.depth.begin(), v.depth.end());
    s.normal.insert(s.normal.end(), v.normal.begin(), v.normal.end());
    s.mask.insert(s.mask.end(), v.mask.begin(), v.mask.end());
    if (o.rgb) s.rgb.insert(s.rgb.end(), v.rgb.begin(), v.rgb.end());
  }
  return s;
}

Result<DatasetBuildReport> build_dataset(const DatasetBuildOptions& o) {
  using R = Result<DatasetBuildReport>;
  const auto start = Clock::now();
  if (o.sources.empty()) return R::fail(ErrorCode::kInvalidArgument, "no --source given");
  if (o.vec_frame != "centred" && o.vec_frame != "model")
    return R::fail(ErrorCode::kInvalidArgument, "unknown vector frame '" + o.vec_frame + "' (expected centred or model)");
  if (o.shard_size < 1) return R::fail(ErrorCode::kInvalidArgument, "--shard-size must be >= 1");
  if (o.sets < 1 || o.views_per_set < 1 || o.size < 8 || o.size > 2048)
    return R::fail(ErrorCode::kInvalidArgument, "--sets/--views must be >= 1 and --size in [8, 2048]");
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) return R::fail(ErrorCode::kIo, o.out_dir + ": cannot create: " + ec.message());

  // Refuse to mix shards made with different options.
  const nlohmann::json config = build_config(o);
  const std::string config_path = o.out_dir + "/build_config.json";
  if (fs::exists(config_path)) {
    auto text = read_file(config_path);
    nlohmann::json old;
    try {
      old = nlohmann::json::parse(text.ok() ? *text : std::string("null"));
    } catch (const std::exception&) {
    }
    if (old != config)
      return R::fail(ErrorCode::kInvalidArgument, o.out_dir + " holds a dataset built with other options (" + config_path +
                                                      "); use another -o or delete it");
  } else if (Status s = write_file_atomically(config_path, config.dump(1) + "\n"); !s.ok()) {
    return s.error();
  }

  // The job list, in dataset order.
  std::vector<Job> jobs;
  std::unordered_set<std::string> planned_keys;
  for (size_t si = 0; si < o.sources.size(); ++si) {
    const DatasetSource& src = o.sources[si];
    if (src.kind == "f360") {
      auto listed = list_f360_jobs(src, o);
      if (!listed.ok()) return listed.error();
      for (Job& j : *listed) jobs.push_back(std::move(j));
    } else if (src.kind == "synth") {
      for (Job& j : plan_synth_jobs(src, si, o, &planned_keys)) jobs.push_back(std::move(j));
    } else {
      return R::fail(ErrorCode::kInvalidArgument, "unknown source kind '" + src.kind + "'");
    }
  }

  DatasetBuildReport report;
  report.jobs = static_cast<int64_t>(jobs.size());
  const int n_shards = static_cast<int>((jobs.size() + o.shard_size - 1) / o.shard_size);
  report.shards = n_shards;
  const ShardLayout layout{o.sets * o.views_per_set, o.size, o.rgb};
  ProgressBar bar("dataset", report.jobs, o.progress);
  const int threads = std::max(1, o.threads);
  int64_t done_jobs = 0;
  nlohmann::json shard_list = nlohmann::json::array();
  std::map<std::string, int64_t> per_source_split;
  // dataset.json is rewritten after every shard, so a build that is stopped part-way leaves a
  // readable dataset of the finished shards ("complete": false).
  auto write_manifest = [&](bool complete) -> Status {
    nlohmann::json manifest = {{"format", "cadcrafter-shards"},
                               {"format_version", kShardVersion},
                               {"complete", complete},
                               {"config", config},
                               {"views", layout.views},
                               {"size", layout.size},
                               {"rgb", layout.rgb},
                               {"vec_shape", {kShardVecRows, kShardVecCols}},
                               {"depth_units_per_length", kDepthUnitsPerLength},
                               {"jobs", report.jobs},
                               {"samples", report.samples},
                               {"rejected", report.rejected},
                               {"bytes", report.bytes},
                               {"by_source_split", per_source_split},
                               {"shards", shard_list},
                               {"run", o.run_info}};
    if (complete) manifest["seconds"] = seconds_since(start);
    return write_file_atomically(dataset_manifest_path(o.out_dir), manifest.dump(1) + "\n");
  };

  for (int k = 0; k < n_shards; ++k) {
    const size_t begin = static_cast<size_t>(k) * o.shard_size, end = std::min(jobs.size(), begin + o.shard_size);
    const std::string path = o.out_dir + "/" + shard_file_name(k);
    bool finished = false;
    if (fs::exists(path)) {
      if (verify_shard(path).ok()) {
        finished = true;
        ++report.shards_skipped;
      } else {
        fs::remove(path, ec);  // a damaged shard from an earlier run is rebuilt
      }
    }
    if (!finished) {
      std::vector<JobOutcome> outcomes(end - begin);
      std::mutex progress_mu;
      parallel_for(static_cast<int64_t>(end - begin), threads, [&](int64_t i, int) {
        outcomes[static_cast<size_t>(i)] = run_job(jobs[begin + static_cast<size_t>(i)], static_cast<int64_t>(begin) + i, o, planned_keys);
        bar.add(1);
      });
      std::vector<PackedSample> packed;
      nlohmann::json rejected = nlohmann::json::array();
      for (JobOutcome& out : outcomes) {
        report.synth_regenerated += out.regenerated;
        report.t_load += out.t_load;
        report.t_check += out.timings.check;
        report.t_tessellate += out.timings.tessellate;
        report.t_render += out.timings.render;
        report.t_pack += out.t_pack;
        if (out.ok) {
          packed.push_back(std::move(out.packed));
        } else {
          rejected.push_back(out.rejected);
        }
      }
      nlohmann::json meta = {{"shard", k}, {"jobs", {begin, end}}, {"rejected", rejected}};
      if (Status s = write_shard(path, layout, packed, meta); !s.ok()) return s.error();
    } else {
      bar.add(static_cast<int64_t>(end - begin));
    }
    done_jobs += static_cast<int64_t>(end - begin);
    // Read back what the shard holds (also for shards from an earlier run).
    auto shard = ShardFile::open(path);
    if (!shard.ok()) return shard.error();
    std::map<std::string, int64_t> splits;
    for (size_t i = 0; i < (*shard)->size(); ++i) {
      const SampleInfo& info = (*shard)->info(i);
      ++splits[info.split];
      ++per_source_split[info.source + "/" + info.split];
    }
    const auto& rej = (*shard)->meta().value("rejected", nlohmann::json::array());
    report.samples += static_cast<int64_t>((*shard)->size());
    report.rejected += static_cast<int64_t>(rej.size());
    report.bytes += (*shard)->file_bytes();
    shard_list.push_back({{"file", shard_file_name(k)},
                          {"jobs", {begin, end}},
                          {"samples", (*shard)->size()},
                          {"rejected", rej.size()},
                          {"bytes", (*shard)->file_bytes()},
                          {"splits", splits}});
    if (Status s = write_manifest(false); !s.ok()) return s.error();
  }
  bar.finish();

  // rejected.jsonl: every shard's rejections, in dataset order.
  std::string rejected_lines;
  for (int k = 0; k < n_shards; ++k) {
    auto shard = ShardFile::open(o.out_dir + "/" + shard_file_name(k));
    if (!shard.ok()) return shard.error();
    for (const auto& r : (*shard)->meta().value("rejected", nlohmann::json::array())) rejected_lines += r.dump() + "\n";
  }
  if (Status s = write_file_atomically(o.out_dir + "/rejected.jsonl", rejected_lines); !s.ok()) return s.error();

  report.seconds = seconds_since(start);
  if (Status s = write_manifest(true); !s.ok()) return s.error();
  return report;
}

std::string DatasetReader::vec_frame() const {
  const auto config = manifest_.find("config");
  return config != manifest_.end() && config->is_object() ? config->value("vec_frame", std::string("model")) : std::string("model");
}

Result<DatasetReader> DatasetReader::open(const std::string& dir) {
  using R = Result<DatasetReader>;
  auto text = read_file(dataset_manifest_path(dir));
  if (!text.ok()) return R::fail(ErrorCode::kIo, dir + ": no dataset.json (not a finished dataset folder?)");
  DatasetReader reader;
  reader.dir_ = dir;
  try {
    reader.manifest_ = nlohmann::json::parse(*text);
    if (reader.manifest_.value("format", "") != "cadcrafter-shards")
      return R::fail(ErrorCode::kParse, dataset_manifest_path(dir) + ": not a cadcrafter dataset manifest");
    reader.views_ = reader.manifest_.at("views").get<int>();
    reader.size_ = reader.manifest_.at("size").get<int>();
    reader.rgb_ = reader.manifest_.at("rgb").get<bool>();
    for (const auto& s : reader.manifest_.at("shards")) {
      auto shard = ShardFile::open(dir + "/" + s.at("file").get<std::string>());
      if (!shard.ok()) return shard.error();
      if ((*shard)->size() != s.at("samples").get<size_t>())
        return R::fail(ErrorCode::kParse, (*shard)->path() + ": holds " + std::to_string((*shard)->size()) + " samples, dataset.json says " +
                                              std::to_string(s.at("samples").get<size_t>()));
      const auto& l = (*shard)->layout();
      if (l.views != reader.views_ || l.size != reader.size_ || l.rgb != reader.rgb_)
        return R::fail(ErrorCode::kParse, (*shard)->path() + ": image layout differs from dataset.json");
      const auto shard_index = static_cast<uint32_t>(reader.shards_.size());
      for (size_t i = 0; i < (*shard)->size(); ++i) reader.index_.push_back({shard_index, static_cast<uint32_t>(i)});
      reader.shards_.push_back(*shard);
    }
  } catch (const std::exception& e) {
    return R::fail(ErrorCode::kParse, dataset_manifest_path(dir) + ": " + e.what());
  }
  return reader;
}

const SampleInfo& DatasetReader::info(size_t i) const {
  const auto& [shard, record] = index_.at(i);
  return shards_[shard]->info(record);
}

Result<DatasetSample> DatasetReader::get(size_t i, bool images) const {
  if (i >= index_.size())
    return Result<DatasetSample>::fail(ErrorCode::kInvalidArgument, "sample " + std::to_string(i) + " out of range (" + std::to_string(index_.size()) + " samples)");
  const auto& [shard, record] = index_[i];
  return shards_[shard]->read(record, images);
}

std::vector<size_t> DatasetReader::indices(const std::string& split, const std::string& source) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < index_.size(); ++i) {
    const SampleInfo& s = info(i);
    if ((split.empty() || s.split == split) && (source.empty() || s.source == source)) out.push_back(i);
  }
  return out;
}

}  // namespace cadcrafter
