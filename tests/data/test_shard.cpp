// The shard format: exact write -> read round trip, and damaged files are refused with a
// message that names the file and the problem.
#include <filesystem>
#include <fstream>
#include <random>

#include "data/shard.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter {
namespace {

DatasetSample random_sample(int views, int size, bool rgb, uint64_t seed) {
  std::mt19937_64 rng(seed);
  DatasetSample s;
  s.info = {"model_" + std::to_string(seed), "synth", seed % 2 ? "train" : "val", seed, 7};
  for (auto& v : s.vec) v = static_cast<int16_t>(static_cast<int>(rng() % 257) - 1);
  s.views = views;
  s.size = size;
  s.norm_center = {0.5f, -1.25f, 3.0f};
  s.norm_scale = 0.125f;
  for (int v = 0; v < views; ++v) {
    ShardCamera c;
    for (auto& x : c.intrinsics) x = static_cast<float>(rng() % 1000) / 7.0f;
    for (auto& x : c.extrinsics) x = static_cast<float>(rng() % 1000) / 13.0f;
    s.cameras.push_back(c);
  }
  const size_t px = static_cast<size_t>(views) * size * size;
  // Images with structure (a disc) plus noise, like renders: compressible but not trivial.
  for (size_t i = 0; i < px; ++i) {
    const int x = static_cast<int>(i % size), y = static_cast<int>((i / size) % size);
    const bool inside = (x - size / 2) * (x - size / 2) + (y - size / 2) * (y - size / 2) < size * size / 8;
    s.depth.push_back(inside ? static_cast<uint16_t>(20000 + rng() % 5000) : 0);
    s.mask.push_back(inside ? 255 : 0);
    for (int c = 0; c < 3; ++c) s.normal.push_back(inside ? static_cast<uint8_t>(rng()) : 128);
    if (rgb)
      for (int c = 0; c < 3; ++c) s.rgb.push_back(static_cast<uint8_t>(rng()));
  }
  return s;
}

void expect_same(const DatasetSample& a, const DatasetSample& b) {
  EXPECT_EQ(a.info.id, b.info.id);
  EXPECT_EQ(a.info.source, b.info.source);
  EXPECT_EQ(a.info.split, b.info.split);
  EXPECT_EQ(a.info.seed, b.info.seed);
  EXPECT_EQ(a.info.vec_len, b.info.vec_len);
  EXPECT_EQ(a.vec, b.vec);
  EXPECT_EQ(a.views, b.views);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.norm_center, b.norm_center);
  EXPECT_EQ(a.norm_scale, b.norm_scale);
  ASSERT_EQ(a.cameras.size(), b.cameras.size());
  for (size_t i = 0; i < a.cameras.size(); ++i) {
    EXPECT_EQ(a.cameras[i].intrinsics, b.cameras[i].intrinsics);
    EXPECT_EQ(a.cameras[i].extrinsics, b.cameras[i].extrinsics);
  }
  EXPECT_EQ(a.depth, b.depth);
  EXPECT_EQ(a.normal, b.normal);
  EXPECT_EQ(a.mask, b.mask);
  EXPECT_EQ(a.rgb, b.rgb);
}

TEST(Shard, WriteReadRoundTripIsExact) {
  for (bool rgb : {false, true}) {
    testing::TempDir dir;
    const std::string path = dir / "s.ccs";
    std::vector<DatasetSample> samples;
    std::vector<PackedSample> packed;
    for (uint64_t i = 0; i < 5; ++i) {
      samples.push_back(random_sample(3, 16, rgb, i + 100));
      packed.push_back(pack_sample(samples.back()));
    }
    ASSERT_TRUE(write_shard(path, {3, 16, rgb}, packed, {{"note", "x"}}).ok());
    ASSERT_TRUE(verify_shard(path).ok());
    auto shard = ShardFile::open(path);
    ASSERT_TRUE(shard.ok()) << shard.error().message;
    ASSERT_EQ((*shard)->size(), 5u);
    EXPECT_EQ((*shard)->meta().at("note"), "x");
    // Random access, in reverse order.
    for (size_t i = 5; i-- > 0;) {
      auto got = (*shard)->read(i);
      ASSERT_TRUE(got.ok()) << got.error().message;
      expect_same(samples[i], *got);
    }
    EXPECT_FALSE((*shard)->read(5).ok());
    // Vector-only reads give the same vector without images.
    auto light = (*shard)->read(3, false);
    ASSERT_TRUE(light.ok()) << light.error().message;
    EXPECT_EQ(light->vec, samples[3].vec);
    EXPECT_EQ(light->info.id, samples[3].info.id);
    EXPECT_EQ(light->norm_scale, samples[3].norm_scale);
    EXPECT_TRUE(light->depth.empty());
  }
}

TEST(Shard, EmptyShardIsValid) {
  testing::TempDir dir;
  ASSERT_TRUE(write_shard(dir / "e.ccs", {2, 8, false}, {}).ok());
  auto shard = ShardFile::open(dir / "e.ccs");
  ASSERT_TRUE(shard.ok());
  EXPECT_EQ((*shard)->size(), 0u);
}

class DamagedShard : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_ / "d.ccs";
    std::vector<PackedSample> packed;
    for (uint64_t i = 0; i < 3; ++i) packed.push_back(pack_sample(random_sample(2, 16, false, i)));
    ASSERT_TRUE(write_shard(path_, {2, 16, false}, packed).ok());
    bytes_ = *read_file(path_);
  }
  void write(const std::string& bytes) { ASSERT_TRUE(write_file_atomically(path_, bytes).ok()); }
  testing::TempDir dir_;
  std::string path_, bytes_;
};

TEST_F(DamagedShard, TruncatedFileIsRefusedOnOpen) {
  write(bytes_.substr(0, bytes_.size() - 10));
  auto shard = ShardFile::open(path_);
  ASSERT_FALSE(shard.ok());
  EXPECT_NE(shard.error().message.find(path_), std::string::npos);
  EXPECT_NE(shard.error().message.find("truncated"), std::string::npos) << shard.error().message;
  write(bytes_.substr(0, 20));
  EXPECT_FALSE(ShardFile::open(path_).ok());
  EXPECT_FALSE(verify_shard(path_).ok());
}

TEST_F(DamagedShard, FlippedByteInARecordIsAChecksumError) {
  std::string bad = bytes_;
  bad[200] = static_cast<char>(bad[200] ^ 0x40);  // inside record 0's compressed bytes
  write(bad);
  auto shard = ShardFile::open(path_);  // header and index are intact
  ASSERT_TRUE(shard.ok()) << shard.error().message;
  auto got = (*shard)->read(0);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("checksum mismatch"), std::string::npos) << got.error().message;
  EXPECT_TRUE((*shard)->read(1).ok());
  const Status v = verify_shard(path_);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("checksum"), std::string::npos) << v.error().message;
}

TEST_F(DamagedShard, FlippedByteInTheIndexIsRefusedOnOpen) {
  std::string bad = bytes_;
  bad[bad.size() - 5] = static_cast<char>(bad[bad.size() - 5] ^ 0x01);  // inside the meta JSON
  write(bad);
  auto shard = ShardFile::open(path_);
  ASSERT_FALSE(shard.ok());
  EXPECT_NE(shard.error().message.find("checksum mismatch"), std::string::npos) << shard.error().message;
}

TEST_F(DamagedShard, NotAShardAtAll) {
  write(std::string(100, 'x'));
  auto shard = ShardFile::open(path_);
  ASSERT_FALSE(shard.ok());
  EXPECT_NE(shard.error().message.find("bad magic"), std::string::npos);
  EXPECT_FALSE(ShardFile::open(dir_ / "missing.ccs").ok());
}

}  // namespace
}  // namespace cadcrafter
