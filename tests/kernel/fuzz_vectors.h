// Random DeepCAD vectors for fuzzing decode -> compile -> check: pure noise (exercises the
// decoder's refusals) and structurally plausible sequences (SOL/curves/Ext/EOS in order,
// arguments in range), which reach the kernel and stress it far more.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cad/cad_vec.h"
#include "kernel/batch_check.h"
#include "util/parallel.h"

namespace cadcrafter::testing {

inline CadVec random_noise_vec(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> cmd(0, 5), arg(-1, 255);
  CadVec v(60);
  for (auto& row : v) {
    row[0] = cmd(rng);
    for (int c = 1; c < kVecColumns; ++c) row[c] = arg(rng);
  }
  return v;
}

inline CadVec random_plausible_vec(std::mt19937_64& rng) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  CadVec v;
  auto row = [](int cmd) {
    CadVecRow r;
    r.fill(-1);
    r[0] = cmd;
    return r;
  };
  const int n_ext = uni(1, 4);
  for (int e = 0; e < n_ext && v.size() < 50; ++e) {
    const int n_loops = uni(1, 3);
    for (int l = 0; l < n_loops; ++l) {
      v.push_back(row(kCmdSol));
      if (uni(0, 3) == 0) {
        CadVecRow c = row(kCmdCircle);
        c[kColX] = uni(40, 215);
        c[kColY] = uni(40, 215);
        c[kColRadius] = uni(1, 90);
        v.push_back(c);
        continue;
      }
      const int n_curves = uni(2, 6);  // a one-curve loop (not a circle) is always degenerate
      for (int k = 0; k < n_curves; ++k) {
        const bool arc = uni(0, 2) == 0;
        CadVecRow c = row(arc ? kCmdArc : kCmdLine);
        c[kColX] = uni(0, 255);
        c[kColY] = uni(0, 255);
        if (arc) {
          c[kColAlpha] = uni(1, 255);
          c[kColFlag] = uni(0, 1);
        }
        v.push_back(c);
      }
    }
    CadVecRow x = row(kCmdExt);
    x[kColTheta] = uni(0, 255);
    x[kColPhi] = uni(0, 255);
    x[kColGamma] = uni(0, 255);
    x[kColPx] = uni(88, 168);
    x[kColPy] = uni(88, 168);
    x[kColPz] = uni(88, 168);
    x[kColSize] = uni(10, 255);
    x[kColE1] = uni(0, 255);
    x[kColE2] = uni(0, 255);
    x[kColOperation] = e == 0 ? 0 : uni(0, 3);
    x[kColExtentType] = uni(0, 2);
    v.push_back(x);
  }
  v.push_back(row(kCmdEos));
  return v;
}

struct FuzzTally {
  int total = 0, decoded = 0, valid = 0, verdicts = 0;
  double max_ms = 0;
  std::map<std::string, int> reasons;  // first words of the reason
};

// Runs check_vec on n vectors from `make` (seeded per index, so any failure reproduces).
template <class Make>
FuzzTally fuzz_check(int n, uint64_t seed, Make make, int timeout_ms) {
  std::vector<CheckResult> results(static_cast<size_t>(n));
  parallel_for(n, 2, [&](int64_t i, int) {
    std::mt19937_64 rng(seed * 1000003ull + static_cast<uint64_t>(i));
    CheckOptions opt;
    opt.timeout_ms = timeout_ms;
    results[i] = check_vec(make(rng), opt);
  });
  FuzzTally t;
  t.total = n;
  for (const CheckResult& r : results) {
    // A verdict: valid with a measured solid, or invalid with a reason.
    const bool verdict = r.valid ? (r.reason.empty() && r.volume > 0 && r.n_solids > 0) : !r.reason.empty();
    t.verdicts += verdict;
    t.valid += r.valid;
    t.decoded += r.reason.rfind("decode:", 0) != 0;
    t.max_ms = std::max(t.max_ms, r.ms);
    // Group reasons by their wording: numbers become '#', details in brackets are dropped.
    std::string key = r.valid ? "valid" : r.reason.substr(0, r.reason.find('('));
    for (char& ch : key)
      if (ch >= '0' && ch <= '9') ch = '#';
    ++t.reasons[key.substr(0, 70)];
  }
  return t;
}

inline void print_tally(const char* name, const FuzzTally& t) {
  std::printf("%s: %d vectors, %d decoded, %d valid, %d verdicts, slowest %.0f ms\n", name, t.total, t.decoded, t.valid, t.verdicts,
              t.max_ms);
  std::vector<std::pair<int, std::string>> top;
  for (const auto& [k, c] : t.reasons) top.push_back({c, k});
  std::sort(top.rbegin(), top.rend());
  for (size_t i = 0; i < std::min<size_t>(8, top.size()); ++i) std::printf("  %5d  %s\n", top[i].first, top[i].second.c_str());
}

}  // namespace cadcrafter::testing
