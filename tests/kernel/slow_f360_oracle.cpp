// The F360 oracle on all 6,524 train + val models (label "slow"; several minutes on 2 cores).
#include <gtest/gtest.h>

#include "kernel/oracle_support.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

TEST(F360OracleFull, AllModelsMatchVolumeAndArea) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  auto all = read_manifest(testing::shared_data_dir() + "/f360/manifest.csv");
  ASSERT_TRUE(all.ok()) << all.error().message;
  const testing::OracleTally t = testing::run_oracle(*all, 60000);
  for (const std::string& m : t.misses) std::printf("miss %s\n", m.c_str());
  std::printf("F360 oracle: %d/%d match (%.3f%%), %d valid (%.3f%%)\n", t.matched, t.models, 100.0 * t.matched / t.models, t.valid,
              100.0 * t.valid / t.models);
  EXPECT_GE(t.matched, 0.995 * t.models);
}

}  // namespace
}  // namespace cadcrafter
