// `cadcrafter check`: the code checker over files or the F360 manifest. One JSON object per
// model (stdout, or --jsonl), a summary on stderr, and optionally DeepCAD's 8-bit round trip
// (--roundtrip: encode, decode, rebuild; volume error and Chamfer distance).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cad/cad_h5.h"
#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "command.h"
#include "kernel/batch_check.h"
#include "kernel/check.h"
#include "util/atomic_file.h"
#include "util/parallel.h"
#include "util/progress.h"

namespace cadcrafter::cli {
namespace {

struct CheckCliOptions {
  std::vector<std::string> files;
  std::string manifest, split, jsonl;
  int limit = 0;
  int threads = default_threads();
  int timeout_ms = 2000;
  bool roundtrip = false;
  bool force = false;
  bool quiet = false;
  uint64_t seed = 0;
};

struct Input {
  std::string id, path;
  double expected_volume = std::nan(""), expected_area = std::nan("");
};

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

// Loads the model of one input: cad_json directly, .h5 through DeepCAD's decoder.
Result<CadModel> load_model(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".json") return read_cad_json(path);
  if (ext == ".h5") {
    auto vec = read_cad_vec_h5(path);
    if (!vec) return vec.error();
    auto model = decode(*vec);
    if (!model) return Result<CadModel>::fail(model.error().code, path + ": " + model.error().message);
    model->id = std::filesystem::path(path).stem().string();
    return model;
  }
  return Result<CadModel>::fail(ErrorCode::kInvalidArgument, path + ": unknown input type '" + ext + "' (expected .json or .h5)");
}

nlohmann::json nullable(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(std::floor(q * static_cast<double>(v.size() - 1) + 0.5)));
  return v[i];
}

struct Outcome {
  nlohmann::json line;
  bool valid = false;
  bool has_oracle = false, oracle_match = false;
  double ms = 0;
  bool rt_encoded = false, rt_valid = false;
  double rt_volume_error = std::nan(""), rt_chamfer = std::nan("");
};

Outcome check_one(const Input& in, const CheckCliOptions& o) {
  Outcome out;
  CheckOptions copt;
  copt.timeout_ms = o.timeout_ms;
  copt.keep_solid = o.roundtrip;
  auto model = load_model(in.path);
  CheckResult r;
  if (model) {
    r = check_model(*model, copt);
  } else {
    r.reason = model.error().message;
  }
  out.valid = r.valid;
  out.ms = r.ms;
  nlohmann::json& j = out.line;
  j["id"] = in.id;
  j["valid"] = r.valid;
  j["reason"] = r.valid ? nlohmann::json() : nlohmann::json(r.reason);
  j["volume"] = r.volume;
  j["area"] = r.area;
  j["n_solids"] = r.n_solids;
  j["expected_volume"] = nullable(in.expected_volume);
  j["expected_area"] = nullable(in.expected_area);
  if (std::isfinite(in.expected_volume) && std::isfinite(in.expected_area)) {
    out.has_oracle = true;
    // The oracle judges the measured solid; validity is reported separately.
    out.oracle_match = r.n_solids > 0 && within_relative(r.volume, in.expected_volume) && within_relative(r.area, in.expected_area);
    j["oracle_match"] = out.oracle_match;
  }
  j["ms"] = std::round(r.ms * 100) / 100;
  if (o.roundtrip && model && lower_extension(in.path) == ".json") {
    RoundTripOptions ropt;
    ropt.seed = o.seed;
    ropt.check.timeout_ms = o.timeout_ms;
    const RoundTripResult rt = check_roundtrip(*model, r.valid ? r.solid : Solid(), ropt);
    out.rt_encoded = rt.encoded;
    out.rt_valid = rt.encoded && rt.decoded.valid;
    out.rt_volume_error = rt.volume_error;
    out.rt_chamfer = rt.chamfer;
    nlohmann::json rj;
    rj["encoded"] = rt.encoded;
    if (!rt.encoded) rj["encode_error"] = rt.encode_error;
    if (rt.encoded) {
      rj["valid"] = rt.decoded.valid;
      rj["reason"] = rt.decoded.valid ? nlohmann::json() : nlohmann::json(rt.decoded.reason);
      rj["volume"] = rt.decoded.volume;
      rj["volume_error"] = nullable(rt.volume_error);
      rj["chamfer"] = nullable(rt.chamfer);
    }
    j["roundtrip"] = rj;
  }
  return out;
}

int run_check(const CheckCliOptions& o) {
  const char* name = "check";
  std::vector<Input> inputs;
  if (!o.manifest.empty()) {
    auto entries = read_manifest(o.manifest, o.split);
    if (!entries) return fail(name, entries.error().message);
    for (const ManifestEntry& e : *entries) inputs.push_back({e.id, e.path, e.expected_volume, e.expected_area});
    if (inputs.empty()) return fail(name, o.manifest + ": no models" + (o.split.empty() ? "" : " in split '" + o.split + "'"));
  } else if (!o.split.empty()) {
    return fail(name, "--split needs --manifest");
  }
  for (const std::string& f : o.files) inputs.push_back({std::filesystem::path(f).stem().string(), f});
  if (inputs.empty()) return fail(name, "nothing to check: give model files or --manifest CSV");
  if (o.limit > 0 && static_cast<int>(inputs.size()) > o.limit) inputs.resize(static_cast<size_t>(o.limit));
  if (!o.jsonl.empty() && std::filesystem::exists(o.jsonl) && !o.force)
    return fail(name, o.jsonl + " already exists (use --force to overwrite)");

  std::vector<Outcome> outcomes(inputs.size());
  const auto start = std::chrono::steady_clock::now();
  {
    ProgressBar bar(name, static_cast<int64_t>(inputs.size()), !o.quiet);
    std::atomic<int64_t> valid{0};
    parallel_for(static_cast<int64_t>(inputs.size()), std::max(1, o.threads), [&](int64_t i, int) {
      outcomes[i] = check_one(inputs[i], o);
      if (outcomes[i].valid) ++valid;
      bar.add(1, "valid " + std::to_string(valid.load()));
    });
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::string lines;
  size_t n_valid = 0, n_oracle = 0, n_match = 0, n_encoded = 0, n_rt_valid = 0;
  std::vector<double> ms, vol_err, chamfer;
  for (const Outcome& out : outcomes) {
    lines += out.line.dump() + "\n";
    n_valid += out.valid;
    n_oracle += out.has_oracle;
    n_match += out.oracle_match;
    n_encoded += out.rt_encoded;
    n_rt_valid += out.rt_valid;
    ms.push_back(out.ms);
    if (std::isfinite(out.rt_volume_error)) vol_err.push_back(out.rt_volume_error);
    if (std::isfinite(out.rt_chamfer)) chamfer.push_back(out.rt_chamfer);
  }
  if (o.jsonl.empty()) {
    std::fputs(lines.c_str(), stdout);
  } else if (Status st = write_file_atomically(o.jsonl, lines); !st.ok()) {
    return fail(name, st.error().message);
  }
  std::fprintf(stderr, "check: %zu models, %zu valid (%.2f%%)", inputs.size(), n_valid, 100.0 * n_valid / inputs.size());
  if (n_oracle > 0) std::fprintf(stderr, ", oracle matches %zu/%zu (%.2f%%)", n_match, n_oracle, 100.0 * n_match / n_oracle);
  std::fprintf(stderr, ", median %.1f ms, %.1f models/s with %d thread(s)\n", percentile(ms, 0.5), inputs.size() / seconds,
               o.threads);
  if (o.roundtrip) {
    std::fprintf(stderr,
                 "roundtrip: %zu encoded, %zu decoded valid (%.2f%% of encoded); volume error median %.3g p90 %.3g; "
                 "chamfer median %.3g p90 %.3g (n=%zu)\n",
                 n_encoded, n_rt_valid, n_encoded ? 100.0 * n_rt_valid / n_encoded : 0.0, percentile(vol_err, 0.5),
                 percentile(vol_err, 0.9), percentile(chamfer, 0.5), percentile(chamfer, 0.9), chamfer.size());
  }
  if (!o.jsonl.empty()) std::fprintf(stderr, "check: wrote %s\n", o.jsonl.c_str());
  return n_valid == inputs.size() ? 0 : 1;
}

CommandRegistration reg("check", "Check that CAD models build valid solids (and match the F360 oracle)", [](CLI::App& app) {
  auto o = std::make_shared<CheckCliOptions>();
  app.add_option("files", o->files, "cad_json (.json) or DeepCAD vector (.h5) files");
  app.add_option("--manifest", o->manifest, "F360 manifest.csv (models are json/<id>.json next to it)");
  app.add_option("--split", o->split, "only this split of the manifest (train, val)");
  app.add_option("--limit", o->limit, "check at most this many models (0 = all)");
  app.add_option("-o,--jsonl", o->jsonl, "write the per-model JSON lines here instead of stdout");
  app.add_flag("--force", o->force, "overwrite an existing --jsonl file");
  app.add_option("--threads", o->threads, "models checked in parallel")->check(CLI::Range(1, 256));
  app.add_option("--timeout-ms", o->timeout_ms, "time limit per model build (0 = none)")->check(CLI::Range(0, 3600000));
  app.add_flag("--roundtrip", o->roundtrip, "also encode to DeepCAD's 8-bit vector, decode, rebuild and compare");
  app.add_option("--seed", o->seed, "seed for the round trip's surface sampling");
  app.add_flag("-q,--quiet", o->quiet, "no progress bar");
  return [o]() { return run_check(*o); };
});

}  // namespace
}  // namespace cadcrafter::cli
