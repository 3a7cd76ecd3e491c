// The sequences the autoencoder trains on, with their train/val split.
//
// Sources (`load_vec_dataset` picks by what DIR holds):
//  - a `vec.jsonl` (one {"id", "vec": [[17 ints], ...]} per line; lines with "rejected" are
//    skipped) plus a `manifest.csv` with `id` and `split` columns, looked up in DIR, in
//    DIR/golden + DIR/f360 (the shared data root), or next to DIR in ../f360;
//    ids missing from the manifest get split "unlisted" (all "train" when there is no manifest);
//  - a dataset folder (dataset.json + shards, src/data/dataset.h): the project's own encoder
//    output with the builder's splits.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "util/status.h"
#include "learn/data/cad_tokens.h"

namespace cadcrafter {
class DatasetReader;
struct DatasetSample;
}  // namespace cadcrafter

namespace cadcrafter::learn {

struct VecSample {
  std::string id;
  std::string split;  // "train", "val", "test"
  VecRows rows;       // ends with EOS, at most kMaxSeqLen rows
};

struct VecDataset {
  std::vector<VecSample> samples;
  std::string source;  // the file(s) read, for logs and run.json
  // Indices of the samples in `split`.
  std::vector<size_t> split_indices(const std::string& split) const;
};

Result<VecDataset> load_vec_dataset(const std::string& dir);

Result<VecDataset> read_dataset_shards(const std::string& dir);

// A dataset sample's vector up to and including its first EOS.
VecRows vec_of_sample(const DatasetSample& sample);
// The vectors of samples `indices` (in order), read without decoding their images.
Result<std::vector<VecRows>> read_sample_vecs(const DatasetReader& reader, const std::vector<size_t>& indices);

// A sequence and its quarter turns about +Z (cad/turn.h: turn_vec(rows, k) for k = 1, 2, 3),
// in turn order: rows itself first, then each turn that encodes and is not a copy of an earlier
// variant. So 1 to 4 variants; a sequence that does not decode keeps only itself.
std::vector<VecRows> quarter_turn_variants(const VecRows& rows);

// Parses one vec.jsonl file; `splits` maps ids to split names (may be empty).
Result<VecDataset> read_vec_jsonl(const std::string& path, const std::string& manifest_csv);

// Length-bucketed batches for one epoch: indices are shuffled, cut into windows of 32 batches,
// each window sorted by length and cut into batches, and the batch order shuffled again.
// Sequences are short on average (~15 rows of up to 60) so this cuts padding ~3x.
// Deterministic for (seed, epoch).
std::vector<std::vector<size_t>> make_length_bucketed_batches(const std::vector<size_t>& indices,
                                                              const std::vector<VecSample>& samples,
                                                              int64_t batch_size, uint64_t seed, int64_t epoch);

}  // namespace cadcrafter::learn
