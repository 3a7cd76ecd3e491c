// Dataset shards: one binary file per shard holding, per model, the padded DeepCAD vector,
// multi-view depth/normal/mask(/rgb) images with their cameras, and provenance. The layout is
// documented in docs/dataset.md; in short (all integers little-endian):
//
//   [header 64 B] [record 0] [record 1] ... [index] [meta JSON]
//   header : "CCSHARD1", version, sample count, views, size, flags, index/meta offsets+sizes,
//            crc32 of the index + meta, crc32 of the whole file after the header
//   record : u32 stored size, u32 raw size, u32 crc32(stored bytes), stored bytes
//            (zlib deflate of the raw sample, see encode_sample_payload)
//   index  : u64 record offset per sample
//   meta   : JSON {"samples": [{id, source, split, seed, vec_len}, ...], "rejected": [...]}
//
// Records are compressed one by one, so a sample is read with one pread and one inflate.
// A truncated or corrupted shard is detected when it is opened (sizes, index crc) or read
// (record crc), and verify_shard() checks the whole-file crc.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace cadcrafter {

constexpr int kShardVecRows = 60;
constexpr int kShardVecCols = 17;
constexpr uint32_t kShardVersion = 1;

// One camera: row-major 3x3 intrinsics K and 3x4 world->camera [R | t], in the normalised
// frame of the sample (see DatasetSample::norm_center/norm_scale).
struct ShardCamera {
  std::array<float, 9> intrinsics{};
  std::array<float, 12> extrinsics{};
};

// Provenance of one sample, available without decompressing it.
struct SampleInfo {
  std::string id, source, split;  // source "f360" / "synth"; split "train" / "val" / "test"
  uint64_t seed = 0;              // generator seed (synth) or render seed (all)
  int vec_len = 0;                // rows of the unpadded vector, EOS included
};

struct DatasetSample {
  SampleInfo info;
  // DeepCAD vector padded with EOS rows to 60 x 17 (row-major); unused arguments are -1.
  std::array<int16_t, kShardVecRows * kShardVecCols> vec{};
  int views = 0, size = 0;
  // The mesh was mapped into the unit sphere by (p - norm_center) * norm_scale before
  // rendering; the cameras look at that normalised mesh.
  std::array<float, 3> norm_center{};
  float norm_scale = 1.0f;
  std::vector<ShardCamera> cameras;  // views
  std::vector<uint16_t> depth;       // views * size * size, round(z * 10000), 0 = background
  std::vector<uint8_t> normal;       // views * size * size * 3, round((n + 1) * 127.5), camera frame
  std::vector<uint8_t> mask;         // views * size * size, 255 = object
  std::vector<uint8_t> rgb;          // views * size * size * 3 when the dataset has RGB, else empty

  // The unpadded vector rows.
  std::vector<std::array<int, kShardVecCols>> vec_rows() const;
};

// Serialises the per-sample payload (everything but SampleInfo) uncompressed; the writer
// deflates it. Exposed for tests and the benchmark.
std::string encode_sample_payload(const DatasetSample& sample);
Status decode_sample_payload(const std::string& raw, int views, int size, bool rgb, DatasetSample* out);

// A shard's fixed parameters.
struct ShardLayout {
  int views = 0, size = 0;
  bool rgb = false;
};

// A compressed record ready to be written (made on worker threads, written in order).
struct PackedSample {
  SampleInfo info;
  std::string stored;  // deflated payload
  uint32_t raw_size = 0;
};
PackedSample pack_sample(const DatasetSample& sample, int compression_level = 1);

// Writes a whole shard atomically (temp file + rename); `meta_extra` is merged into the meta
// JSON (the builder stores the shard's rejected models there).
Status write_shard(const std::string& path, const ShardLayout& layout, const std::vector<PackedSample>& samples,
                   const nlohmann::json& meta_extra = nlohmann::json::object());

// An open shard: header, index and meta are read once; records are read with pread, so one
// ShardFile may be shared by many threads.
class ShardFile {
 public:
  static Result<std::shared_ptr<ShardFile>> open(const std::string& path);
  ~ShardFile();
  ShardFile(const ShardFile&) = delete;
  ShardFile& operator=(const ShardFile&) = delete;

  size_t size() const { return infos_.size(); }
  const ShardLayout& layout() const { return layout_; }
  const SampleInfo& info(size_t i) const { return infos_[i]; }
  const nlohmann::json& meta() const { return meta_; }
  const std::string& path() const { return path_; }
  uint64_t file_bytes() const { return file_bytes_; }
  // images = false fills only info, vec and the normalisation (inflates just the first ~2 KB).
  Result<DatasetSample> read(size_t i, bool images = true) const;

 private:
  ShardFile() = default;
  std::string path_;
  int fd_ = -1;
  uint64_t file_bytes_ = 0;
  ShardLayout layout_;
  std::vector<uint64_t> offsets_;  // one per sample, plus the index offset as the end
  std::vector<SampleInfo> infos_;
  nlohmann::json meta_;
};

// Full integrity check: header, index, meta and the whole-file crc32. The error names the
// file and what is wrong ("truncated: 1234 bytes, header says 5678", "checksum mismatch").
Status verify_shard(const std::string& path);

}  // namespace cadcrafter
