// 10,000 random vectors (half noise, half structurally plausible) through decode -> check.
#include "kernel/fuzz_vectors.h"

namespace cadcrafter {
namespace {

TEST(FuzzSlow, TenThousandVectorsAllGetVerdicts) {
  const testing::FuzzTally noise = testing::fuzz_check(5000, 11, testing::random_noise_vec, 2000);
  testing::print_tally("noise", noise);
  const testing::FuzzTally plausible = testing::fuzz_check(5000, 12, testing::random_plausible_vec, 2000);
  testing::print_tally("plausible", plausible);
  EXPECT_EQ(noise.verdicts, noise.total);
  EXPECT_EQ(plausible.verdicts, plausible.total);
  EXPECT_LT(std::max(noise.max_ms, plausible.max_ms), 5000.0);
}

}  // namespace
}  // namespace cadcrafter
