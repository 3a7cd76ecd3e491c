// A database of known parts searched by image features: the retrieval candidate source of
// `reconstruct` and the retrieval baseline of `eval`.
//
// Each part is stored with its DeepCAD vector and one embedding: the contrastive backbone's
// features (learn/training/contrastive.h) averaged over `views_per_model` rendered views spread over the
// dataset's rendering sets (other azimuths and elevations), L2-normalised. A query (1..n views of a
// photographed part) is embedded the same way and compared by cosine similarity.
//
// On disk (`cadcrafter index build`), a folder:
//   config.json  {"kind": "part_index", "backbone": <path, relative to the folder when shipped>,
//                 "views_per_model", "image_size", "parts", "data", "splits"}
//   index.pt     embeddings [N, F] (float16), vector row offsets [N + 1] (int64), rows [R, 17] (int16)
//   ids.txt      one part id per line (F360 ids, "synth_..." for generated parts)
//
// The facade has no LibTorch in its interface, so the product layer (app/) can use it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cad/cad_vec.h"
#include "util/status.h"
#include "learn/inference/photo_estimator.h"

namespace cadcrafter::learn {

struct PartIndexBuildOptions {
  std::string dataset;                    // dataset shards (data/dataset.h)
  std::vector<std::string> splits{"train"};
  std::string source;                     // "" = every source, else "f360" or "synth"
  std::string backbone;                   // backbone run folder (or TorchScript file)
  std::string out_dir;
  int64_t views_per_model = 8;            // spread over the rendering sets
  int threads = 2;
  bool progress = true;
  bool force = false;                     // replace an existing index
  nlohmann::json run_info;
};
Status build_part_index(const PartIndexBuildOptions& options);

struct RetrievedPart {
  std::string id;
  CadVec vec;
  double similarity = 0;  // cosine
  int64_t index = 0;      // row in the index
};

class PartIndex {
 public:
  static Result<PartIndex> load(const std::string& dir);
  PartIndex();
  ~PartIndex();
  PartIndex(PartIndex&&) noexcept;
  PartIndex& operator=(PartIndex&&) noexcept;

  int64_t size() const;
  int feature_dim() const;
  std::string backbone_path() const;
  // The frame of the stored vectors (the dataset's, data/dataset.h DatasetBuildOptions::vec_frame):
  // "centred" or "model" (indexes built before the frame existed).
  std::string vec_frame() const;
  std::vector<std::string> weight_files() const;  // index.pt + the backbone's weights
  nlohmann::json describe() const;

  // The k most similar parts for the views' maps (any number >= 1 of views), best first.
  Result<std::vector<RetrievedPart>> nearest(const std::vector<GeometryMaps>& views, int k) const;
  // One backbone pass for both: element 0 is nearest(views, k); with several views, element
  // 1 + v is nearest({views[v]}, k).
  Result<std::vector<std::vector<RetrievedPart>>> nearest_joint_and_each(const std::vector<GeometryMaps>& views,
                                                                          int k) const;
  // The same for a precomputed embedding (feature_dim floats, any norm).
  std::vector<RetrievedPart> nearest_to(const std::vector<float>& embedding, int k) const;

 private:
  // The neighbours of all views together, then (each_view, several views) of each view alone.
  Result<std::vector<std::vector<RetrievedPart>>> search(const std::vector<GeometryMaps>& views, int k,
                                                         bool each_view) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cadcrafter::learn
