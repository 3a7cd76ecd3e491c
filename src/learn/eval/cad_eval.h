// Scoring generated command sequences against ground truth as DeepCAD's evaluation scripts
// do (evaluation/evaluate_ae_acc.py and evaluate_ae_cd.py):
//  - command / parameter accuracy (see losses.h, sequence_accuracy), averaged per sequence;
//  - invalid ratio: share of predictions that do not decode or do not build a valid solid
//    with the project's kernel (check_vec);
//  - Chamfer distance (deepcad_chamfer, 2,000 surface points each) between the prediction and
//    the ground truth, both built by the same kernel in DeepCAD's normalised frame; reported
//    as mean / median / trimmed mean over the valid predictions, and median x 10^3.
// The ground-truth cloud comes from the quantised ground-truth vector, so the figures measure
// the network alone (the 8-bit quantisation error is `cadcrafter check --roundtrip`'s job).
// Next to it, so each figure can be read against chance:
//  - the rotation-free Chamfer distance (rotation_free_chamfer: both clouds centred, scaled to
//    unit max-abs coordinate, best of the 24 axis-aligned rotations) per valid prediction;
//  - the chance level on the same models: the ground truth of each buildable model against
//    the ground truth of another one (a fixed derangement: the k-th of the m buildable ground
//    truths is paired with the (k + m/2) mod m-th), with both distances (Chamfer as above,
//    i.e. deepcad_chamfer, and rotation-free), as medians. A prediction that is no better
//    than "some other part of the set" reads as the chance median.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "geom/sampling.h"
#include "learn/data/cad_tokens.h"
#include "learn/training/losses.h"

namespace cadcrafter::learn {

struct CadEvalOptions {
  bool geometry = true;   // Chamfer + invalid ratio (needs the kernel; slower)
  int n_points = 2000;
  uint64_t seed = 0;
  int threads = 1;
  int timeout_ms = 4000;  // per model build
  bool progress = true;
};

struct CadEvalReport {
  int64_t sequences = 0;
  AccuracySummary accuracy;
  // Geometry (when evaluated):
  int64_t gt_valid = 0;       // ground truths that built (the others are left out)
  int64_t invalid = 0;        // predictions that failed to build, among gt_valid
  double invalid_ratio = 0.0;
  double chamfer_mean = 0.0, chamfer_median = 0.0, chamfer_trimmed_mean = 0.0;
  std::vector<double> chamfer;  // per valid prediction (not serialised)
  // Rotation-free Chamfer (see the file comment): per valid prediction in the order of
  // `chamfer`, and per model in the order of the targets (NaN where the ground truth or the
  // prediction did not build; serialised, NaN as null).
  double chamfer_rotation_free_median = 0.0;
  std::vector<double> chamfer_rotation_free, chamfer_rotation_free_per_model;
  // Between the two, to tell placement from orientation errors (per valid prediction, medians
  // serialised): centred_chamfer (centred and unit scale, as oriented) and z_turn_free_chamfer
  // (the same, best of the four quarter turns about +Z).
  double chamfer_centred_median = 0.0, chamfer_z_turn_free_median = 0.0;
  std::vector<double> chamfer_centred, chamfer_z_turn_free;
  // Chance level: one pair per buildable ground truth (none with fewer than two).
  double chance_chamfer_median = 0.0, chance_chamfer_rotation_free_median = 0.0;
  std::vector<double> chance_chamfer, chance_chamfer_rotation_free;  // per pair (not serialised)
  std::map<std::string, int64_t> invalid_reasons;  // why predictions failed, by kind of checker reason
};

// predicted[i] is scored against target[i]; `ids` names them in the per-model list (optional).
// Builds `rows` with the kernel and samples `n_points` of its surface (DeepCAD's clouds); empty
// when it does not build or has no surface, with the checker's reason in *why.
PointCloud sample_sequence_surface(const VecRows& rows, int n_points, uint64_t seed, int timeout_ms,
                                   std::string* why = nullptr);

// The median (mean of the middle two for an even count); NaN for none.
double median_of(std::vector<double> values);

CadEvalReport evaluate_sequences(const std::vector<VecRows>& predicted, const std::vector<const VecRows*>& target,
                                 const CadEvalOptions& options);

nlohmann::json report_to_json(const CadEvalReport& report);
// One Markdown table row set: "| metric | value |".
std::string report_to_markdown(const std::string& title, const CadEvalReport& report);

}  // namespace cadcrafter::learn
