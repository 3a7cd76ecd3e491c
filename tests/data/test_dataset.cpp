// Building datasets end to end on a few models: contents match the encoder, rejections are
// logged, the result does not depend on threads, and a re-run resumes.
#include <filesystem>
#include <fstream>

#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "data/dataset.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter {
namespace {
namespace fs = std::filesystem;

DatasetBuildOptions small_options(const std::string& out, int threads) {
  DatasetBuildOptions o;
  o.out_dir = out;
  o.sets = 1;
  o.views_per_set = 2;
  o.size = 32;
  o.shard_size = 4;
  o.threads = threads;
  o.seed = 5;
  o.progress = false;
  o.sources.push_back(*parse_dataset_source("synth:6"));
  return o;
}

std::string file_bytes(const std::string& path) { return *read_file(path); }

TEST(Dataset, ParsesSources) {
  EXPECT_EQ(parse_dataset_source("synth:12")->count, 12);
  EXPECT_EQ(parse_dataset_source("f360:/a/b")->path, "/a/b");
  EXPECT_FALSE(parse_dataset_source("synth:x").ok());
  EXPECT_FALSE(parse_dataset_source("synth:-3").ok());
  EXPECT_FALSE(parse_dataset_source("mesh:1").ok());
  EXPECT_FALSE(parse_dataset_source("f360:").ok());
}

TEST(Dataset, SynthBuildIsDeterministicAcrossThreadsAndResumes) {
  testing::TempDir a, b;
  auto ra = build_dataset(small_options(a.path(), 1));
  ASSERT_TRUE(ra.ok()) << ra.error().message;
  auto rb = build_dataset(small_options(b.path(), 2));
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(ra->shards, 2);
  EXPECT_EQ(ra->samples + ra->rejected, 6);
  for (int k = 0; k < ra->shards; ++k) EXPECT_EQ(file_bytes(a / shard_file_name(k)), file_bytes(b / shard_file_name(k))) << k;

  // A re-run skips every finished shard and changes nothing.
  const std::string before = file_bytes(a / shard_file_name(1));
  auto again = build_dataset(small_options(a.path(), 2));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->shards_skipped, 2);
  // A missing shard and a damaged one are rebuilt to the same bytes.
  fs::remove(a / shard_file_name(1));
  std::string damaged = file_bytes(a / shard_file_name(0));
  damaged[100] = static_cast<char>(damaged[100] ^ 1);
  ASSERT_TRUE(write_file_atomically(a / shard_file_name(0), damaged).ok());
  auto resumed = build_dataset(small_options(a.path(), 1));
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->shards_skipped, 0);
  EXPECT_EQ(file_bytes(a / shard_file_name(1)), before);
  EXPECT_EQ(file_bytes(a / shard_file_name(0)), file_bytes(b / shard_file_name(0)));

  // Other options into the same folder are refused.
  auto other = small_options(a.path(), 1);
  other.size = 64;
  auto refused = build_dataset(other);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("other options"), std::string::npos);

  // The reader sees every sample with its images and a vector that decodes.
  auto reader = DatasetReader::open(a.path());
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  ASSERT_EQ(static_cast<int64_t>(reader->size()), ra->samples);
  EXPECT_TRUE(reader->complete());
  for (size_t i = 0; i < reader->size(); ++i) {
    auto s = reader->get(i);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->info.source, "synth");
    EXPECT_EQ(s->views, 2);
    EXPECT_EQ(s->depth.size(), 2u * 32 * 32);
    EXPECT_EQ(s->cameras.size(), 2u);
    int covered = 0;
    for (size_t p = 0; p < s->mask.size(); ++p) {
      covered += s->mask[p] != 0;
      EXPECT_EQ(s->mask[p] != 0, s->depth[p] != 0);
    }
    EXPECT_GT(covered, 10);
    CadVec vec;
    for (const auto& r : s->vec_rows()) vec.push_back(r);
    EXPECT_TRUE(validate_vec(vec).ok());
    EXPECT_TRUE(decode(vec).ok());
  }
  EXPECT_EQ(reader->indices("train").size(), reader->size());
  EXPECT_TRUE(reader->indices("val").empty());
}

TEST(Dataset, F360SamplesMatchTheEncoderAndRejectionsAreLogged) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  testing::TempDir out;
  DatasetBuildOptions o = small_options(out.path(), 2);
  o.sources = {*parse_dataset_source("f360:" + testing::shared_data_dir() + "/f360")};
  o.splits = {"train", "val"};
  o.limit_per_source = 20;
  auto r = build_dataset(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->jobs, 20);
  EXPECT_EQ(r->samples + r->rejected, 20);
  std::ifstream rejected(out / "rejected.jsonl");
  int lines = 0;
  for (std::string line; std::getline(rejected, line);) {
    ++lines;
    const auto j = nlohmann::json::parse(line);
    EXPECT_FALSE(j.at("reason").get<std::string>().empty());
    EXPECT_EQ(j.at("source"), "f360");
  }
  EXPECT_EQ(lines, r->rejected);
  auto reader = DatasetReader::open(out.path());
  ASSERT_TRUE(reader.ok());
  std::string previous;
  for (size_t i = 0; i < reader->size(); ++i) {
    auto s = reader->get(i);
    ASSERT_TRUE(s.ok());
    EXPECT_LT(previous, s->info.id);  // sorted by id
    previous = s->info.id;
    EXPECT_TRUE(s->info.split == "train" || s->info.split == "val");
    auto model = read_cad_json(testing::shared_data_dir() + "/f360/json/" + s->info.id + ".json");
    ASSERT_TRUE(model.ok());
    auto vec = encode(*model);
    ASSERT_TRUE(vec.ok());
    const auto rows = s->vec_rows();
    ASSERT_EQ(rows.size(), vec->size());
    for (size_t k = 0; k < rows.size(); ++k) EXPECT_EQ(rows[k], (*vec)[k]);
    // Padding rows are EOS.
    for (size_t k = rows.size(); k < kShardVecRows; ++k) EXPECT_EQ(s->vec[k * kShardVecCols], kCmdEos);
  }
}

TEST(Dataset, ReaderRefusesMissingOrDamagedData) {
  testing::TempDir out;
  auto none = DatasetReader::open(out.path());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("dataset.json"), std::string::npos);
  ASSERT_TRUE(build_dataset(small_options(out.path(), 2)).ok());
  const std::string shard = out / shard_file_name(0);
  const std::string bytes = file_bytes(shard);
  ASSERT_TRUE(write_file_atomically(shard, bytes.substr(0, bytes.size() / 2)).ok());
  auto reader = DatasetReader::open(out.path());
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.error().message.find("truncated"), std::string::npos) << reader.error().message;
}

}  // namespace
}  // namespace cadcrafter
