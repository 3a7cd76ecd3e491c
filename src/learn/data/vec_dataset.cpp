#include "learn/data/vec_dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cad/turn.h"
#include "data/dataset.h"
#include "util/parallel.h"

namespace cadcrafter::learn {
namespace fs = std::filesystem;

std::vector<size_t> VecDataset::split_indices(const std::string& split) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < samples.size(); ++i)
    if (samples[i].split == split) out.push_back(i);
  return out;
}

namespace {

Result<std::map<std::string, std::string>> read_manifest_splits(const std::string& path) {
  std::map<std::string, std::string> splits;
  if (path.empty()) return splits;
  std::ifstream in(path);
  if (!in) return Result<std::map<std::string, std::string>>::fail(ErrorCode::kIo, path + ": cannot open manifest");
  std::string line;
  auto next_line = [&]() {
    if (!std::getline(in, line)) return false;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
    return true;
  };
  next_line();
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    for (std::string col; std::getline(ss, col, ',');) header.push_back(col);
  }
  const auto id_col = std::find(header.begin(), header.end(), "id") - header.begin();
  const auto split_col = std::find(header.begin(), header.end(), "split") - header.begin();
  if (id_col >= static_cast<long>(header.size()) || split_col >= static_cast<long>(header.size()))
    return Result<std::map<std::string, std::string>>::fail(ErrorCode::kParse, path + ": needs 'id' and 'split' columns");
  while (next_line()) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    for (std::string col; std::getline(ss, col, ',');) cols.push_back(col);
    if (static_cast<long>(cols.size()) > std::max(id_col, split_col)) splits[cols[id_col]] = cols[split_col];
  }
  return splits;
}

}  // namespace

Result<VecDataset> read_vec_jsonl(const std::string& path, const std::string& manifest_csv) {
  auto splits = read_manifest_splits(manifest_csv);
  if (!splits) return splits.error();
  std::ifstream in(path);
  if (!in) return Result<VecDataset>::fail(ErrorCode::kIo, path + ": cannot open");
  VecDataset ds;
  ds.source = path + (manifest_csv.empty() ? "" : " + " + manifest_csv);
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
      return Result<VecDataset>::fail(ErrorCode::kParse, path + ":" + std::to_string(line_no) + ": not a JSON object");
    if (!j.contains("vec")) continue;  // a rejected model
    VecSample s;
    s.id = j.value("id", "line" + std::to_string(line_no));
    const auto& vec = j["vec"];
    if (!vec.is_array() || vec.empty() || vec.size() > static_cast<size_t>(kMaxSeqLen))
      return Result<VecDataset>::fail(ErrorCode::kParse, path + ":" + std::to_string(line_no) + ": 'vec' must hold 1.." +
                                                              std::to_string(kMaxSeqLen) + " rows");
    for (const auto& row : vec) {
      if (!row.is_array() || row.size() != 17)
        return Result<VecDataset>::fail(ErrorCode::kParse, path + ":" + std::to_string(line_no) + ": a row is not 17 ints");
      VecRow r;
      for (int k = 0; k < 17; ++k) {
        if (!row[static_cast<size_t>(k)].is_number_integer())
          return Result<VecDataset>::fail(ErrorCode::kParse, path + ":" + std::to_string(line_no) + ": non-integer entry");
        r[static_cast<size_t>(k)] = row[static_cast<size_t>(k)].get<int>();
      }
      if (r[0] < 0 || r[0] >= kNumCommands)
        return Result<VecDataset>::fail(ErrorCode::kParse, path + ":" + std::to_string(line_no) + ": command out of range");
      s.rows.push_back(r);
    }
    s.rows = trim_at_eos(s.rows);
    if (s.rows.size() > static_cast<size_t>(kMaxSeqLen)) continue;
    auto it = splits->find(s.id);
    s.split = it != splits->end() ? it->second : (splits->empty() ? "train" : "unlisted");
    ds.samples.push_back(std::move(s));
  }
  if (ds.samples.empty()) return Result<VecDataset>::fail(ErrorCode::kParse, path + ": no vectors");
  return ds;
}

VecRows vec_of_sample(const DatasetSample& sample) {
  VecRows rows;
  for (const auto& row : sample.vec_rows()) rows.push_back(row);
  return trim_at_eos(rows);
}

Result<std::vector<VecRows>> read_sample_vecs(const DatasetReader& reader, const std::vector<size_t>& indices) {
  std::vector<VecRows> out;
  out.reserve(indices.size());
  for (size_t i : indices) {
    auto s = reader.get(i, /*images=*/false);
    if (!s) return s.error();
    out.push_back(vec_of_sample(*s));
  }
  return out;
}

Result<VecDataset> read_dataset_shards(const std::string& dir) {
  auto reader = DatasetReader::open(dir);
  if (!reader) return reader.error();
  VecDataset ds;
  ds.source = dir + " (dataset shards)";
  ds.samples.resize(reader->size());
  std::vector<std::string> errors(reader->size());
  parallel_for(static_cast<int64_t>(reader->size()), 2, [&](int64_t i, int) {
    const size_t k = static_cast<size_t>(i);
    auto sample = reader->get(k, /*images=*/false);  // the vector is all the autoencoder needs
    if (!sample) {
      errors[k] = sample.error().message;
      return;
    }
    VecSample& s = ds.samples[k];
    s.id = sample->info.id;
    s.split = sample->info.split;
    s.rows = vec_of_sample(*sample);
  });
  for (const auto& e : errors)
    if (!e.empty()) return Result<VecDataset>::fail(ErrorCode::kParse, dir + ": " + e);
  if (ds.samples.empty()) return Result<VecDataset>::fail(ErrorCode::kParse, dir + ": dataset has no samples");
  return ds;
}

std::vector<VecRows> quarter_turn_variants(const VecRows& rows) {
  std::vector<VecRows> out{rows};
  for (int k = 1; k <= 3; ++k) {
    auto turned = turn_vec(rows, k);
    if (turned.ok() && std::find(out.begin(), out.end(), *turned) == out.end()) out.push_back(std::move(*turned));
  }
  return out;
}

Result<VecDataset> load_vec_dataset(const std::string& dir) {
  if (!fs::exists(dir)) return Result<VecDataset>::fail(ErrorCode::kIo, dir + ": no such file or directory");
  if (fs::is_directory(dir) && fs::exists(dataset_manifest_path(dir))) return read_dataset_shards(dir);
  std::string vec_path, manifest;
  if (fs::is_regular_file(dir)) {
    vec_path = dir;
  } else if (fs::exists(fs::path(dir) / "vec.jsonl")) {
    vec_path = (fs::path(dir) / "vec.jsonl").string();
  } else if (fs::exists(fs::path(dir) / "golden" / "vec.jsonl")) {
    vec_path = (fs::path(dir) / "golden" / "vec.jsonl").string();
  } else {
    return Result<VecDataset>::fail(ErrorCode::kIo, dir + ": no vec.jsonl (expected DIR/vec.jsonl or DIR/golden/vec.jsonl)");
  }
  const fs::path base = fs::path(vec_path).parent_path();
  for (const fs::path& candidate : {base / "manifest.csv", base.parent_path() / "f360" / "manifest.csv"}) {
    if (fs::exists(candidate)) {
      manifest = candidate.string();
      break;
    }
  }
  return read_vec_jsonl(vec_path, manifest);
}

std::vector<std::vector<size_t>> make_length_bucketed_batches(const std::vector<size_t>& indices,
                                                              const std::vector<VecSample>& samples,
                                                              int64_t batch_size, uint64_t seed, int64_t epoch) {
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(epoch));
  std::vector<size_t> order = indices;
  std::shuffle(order.begin(), order.end(), rng);
  const size_t bs = static_cast<size_t>(std::max<int64_t>(1, batch_size));
  const size_t window = bs * 32;
  std::vector<std::vector<size_t>> batches;
  for (size_t start = 0; start < order.size(); start += window) {
    const size_t end = std::min(order.size(), start + window);
    std::stable_sort(order.begin() + static_cast<long>(start), order.begin() + static_cast<long>(end),
                     [&](size_t a, size_t b) { return samples[a].rows.size() < samples[b].rows.size(); });
    for (size_t b = start; b < end; b += bs)
      batches.emplace_back(order.begin() + static_cast<long>(b), order.begin() + static_cast<long>(std::min(end, b + bs)));
  }
  std::shuffle(batches.begin(), batches.end(), rng);
  return batches;
}

}  // namespace cadcrafter::learn
