// Deterministic random numbers for rendering. Everything random in a rendered view (camera,
// material, lights, background, noise) is drawn from an Rng seeded by derive_seed(...), so a
// view is reproducible from (seed, set, view) alone, independent of thread count and order.
//
// std::uniform_real_distribution and std::normal_distribution are implementation-defined
// (libstdc++ and libc++ give different numbers), so the conversions here are written out.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace cadcrafter {

// SplitMix64 finaliser: a well-mixed 64-bit hash, used to derive independent sub-seeds.
inline uint64_t mix_seed(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  return mix_seed(mix_seed(mix_seed(mix_seed(seed) ^ a) ^ b) ^ c);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1): the top 53 bits of one 64-bit draw.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n) (n > 0); the modulo bias is below 2^-40 for the n we use.
  int index(int n) { return static_cast<int>(engine_() % static_cast<uint64_t>(n)); }
  bool chance(double p) { return uniform() < p; }
  // Standard normal by Box-Muller (one value per call; simple beats fast here).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  uint64_t next_u64() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace cadcrafter
