// Fuzzing decode -> compile -> check with a few hundred random vectors: every one gets a
// verdict (valid with a solid, or invalid with a reason), none crashes or outlives its limit.
#include "kernel/fuzz_vectors.h"

namespace cadcrafter {
namespace {

constexpr int kTimeoutMs = 2000;

TEST(Fuzz, NoiseVectorsAllGetVerdicts) {
  const testing::FuzzTally t = testing::fuzz_check(200, 1, testing::random_noise_vec, kTimeoutMs);
  testing::print_tally("noise", t);
  EXPECT_EQ(t.verdicts, t.total);
  EXPECT_LT(t.max_ms, kTimeoutMs * 2 + 1000);
}

TEST(Fuzz, PlausibleVectorsAllGetVerdicts) {
  const testing::FuzzTally t = testing::fuzz_check(200, 2, testing::random_plausible_vec, kTimeoutMs);
  testing::print_tally("plausible", t);
  EXPECT_EQ(t.verdicts, t.total);
  EXPECT_GT(t.decoded, t.total / 2);  // the generator really reaches the kernel
  EXPECT_GT(t.valid, 0);
  EXPECT_LT(t.max_ms, kTimeoutMs * 2 + 1000);
}

}  // namespace
}  // namespace cadcrafter
