// Procedural sketch-and-extrude models that look like small mechanical parts: plates with
// holes and pockets, L/U brackets with gussets, flanges with bolt circles, stepped shafts,
// blocks with side holes. The output is a CadModel in DeepCAD's representation (one Extrude
// per profile, arcs with DeepCAD's bookkeeping, bbox of the additive extrusions), so the
// sequence encoder treats it exactly like real data.
//
// generate_model is a pure function of (options, seed): it draws from std::mt19937_64 with its
// own uniform conversions, so the same seed gives the same model on every platform and
// library. It does not call the CAD kernel; generate_valid_models filters with a caller-given
// checker (normally the kernel's) and removes duplicates.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cad/cad_model.h"
#include "util/status.h"

namespace cadcrafter {

// Bumped whenever generate_model's output for a seed changes; datasets record it, so a resumed
// build never mixes shards from two generator versions.
constexpr int kGeneratorVersion = 2;

struct GeneratorOptions {
  // 1 = mostly single plates and prisms, 2 = the default mix (tuned toward F360 statistics),
  // 3 = more features per part. Scales the number of features, not the part size.
  int complexity = 2;
  // DeepCAD's training limits: the generator never exceeds them (checked by count_rows).
  int max_extrudes = 10;
  int max_loops_per_profile = 6;
  int max_rows_per_loop = 15;  // SOL + curves
  int max_total_rows = 60;     // including the final EOS
  // Base part size in model units (centimetres, like the F360 files).
  double min_size = 1.0;
  double max_size = 20.0;
};

// The part families, in the order generate_model draws them; exposed for statistics.
enum class PartFamily { kPrism, kPlate, kFlange, kShaft, kLBracket, kUChannel, kBlock };
const char* part_family_name(PartFamily family);

// One model for this seed (always within the limits above; validity is not checked here).
CadModel generate_model(const GeneratorOptions& options, uint64_t seed, PartFamily* family = nullptr);

// The number of DeepCAD vector rows the model encodes to: per extrude, per loop one SOL plus
// one row per curve, one Ext row; plus the final EOS.
int count_rows(const CadModel& model);
// "" when within the limits, else the first violated limit in DeepCAD's words.
std::string check_limits(const CadModel& model, const GeneratorOptions& options);

// Returns ok when a model is acceptable (the kernel compiles it to a valid solid and the
// encoder accepts it); otherwise the reason.
using ModelChecker = std::function<Status(const CadModel&)>;
// A key that identifies duplicates (normally the quantised DeepCAD vector, serialised).
using ModelKey = std::function<std::string(const CadModel&)>;

struct GeneratedModel {
  CadModel model;
  uint64_t seed = 0;  // the seed generate_model was called with
  PartFamily family = PartFamily::kPrism;
};

struct GenerationReport {
  int64_t attempts = 0, rejected_invalid = 0, rejected_duplicate = 0;
};

// `count` distinct, checker-approved models. Model k is the first acceptable one among seeds
// derived from (base_seed, k, attempt), so the result does not depend on `threads`; duplicates
// are resolved in index order (the later index retries with its next attempt).
// `on_progress(done)` is called as models complete (may be empty).
std::vector<GeneratedModel> generate_valid_models(const GeneratorOptions& options, uint64_t base_seed, int64_t count,
                                                  const ModelChecker& checker, const ModelKey& key, int threads,
                                                  GenerationReport* report = nullptr,
                                                  const std::function<void(int64_t)>& on_progress = {});

// The seed of attempt `attempt` for model `index` (splitmix64 mixing; exposed for tests).
uint64_t derive_seed(uint64_t base_seed, uint64_t index, uint64_t attempt);

}  // namespace cadcrafter
