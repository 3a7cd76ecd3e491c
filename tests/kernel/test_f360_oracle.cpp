// The F360 oracle on a deterministic subset (every 22nd model of the manifest, ~300): the
// compiled solid's volume and area must both be within 1% of Fusion 360's for >= 99.5%.
#include <gtest/gtest.h>

#include "kernel/oracle_support.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

TEST(F360Oracle, SubsetMatchesVolumeAndArea) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  auto all = read_manifest(testing::shared_data_dir() + "/f360/manifest.csv");
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 6524u);
  std::vector<ManifestEntry> subset;
  for (size_t i = 0; i < all->size(); i += 22) subset.push_back((*all)[i]);
  // Generous limit: the machine is shared, and the oracle is about geometry, not speed.
  const testing::OracleTally t = testing::run_oracle(subset, 30000);
  for (const std::string& m : t.misses) std::printf("miss %s\n", m.c_str());
  std::printf("F360 oracle subset: %d/%d match (%.2f%%), %d valid\n", t.matched, t.models, 100.0 * t.matched / t.models, t.valid);
  EXPECT_GE(t.matched, 0.995 * t.models);
  EXPECT_GE(t.valid, 0.99 * t.models);
}

TEST(F360Oracle, ManifestReaderFiltersSplitAndReportsErrors) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  auto val = read_manifest(testing::shared_data_dir() + "/f360/manifest.csv", "val");
  ASSERT_TRUE(val.ok());
  EXPECT_EQ(val->size(), 717u);
  for (const ManifestEntry& e : *val) ASSERT_EQ(e.split, "val");
  auto missing = read_manifest("/nonexistent/manifest.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/manifest.csv"), std::string::npos);
}

}  // namespace
}  // namespace cadcrafter
