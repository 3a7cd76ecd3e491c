// Small hand-made DeepCAD vectors for the learning-layer tests (no shared data needed).
#pragma once

#include <random>

#include "learn/data/cad_tokens.h"
#include "learn/data/vec_dataset.h"

namespace cadcrafter::learn::testdata {

inline VecRow row(int cmd, std::initializer_list<std::pair<int, int>> args = {}) {
  VecRow r;
  r.fill(-1);
  r[0] = cmd;
  for (auto [col, value] : args) r[static_cast<size_t>(col)] = value;
  return r;
}

// A plausible sketch-and-extrude vector: `extrudes` x (SOL, a polygon of lines, maybe a
// circle hole, Ext), then EOS. Arguments are random but valid for their command.
inline VecRows random_vec(std::mt19937& rng, int extrudes) {
  std::uniform_int_distribution<int> level(0, 255), small(1, 40), lines(3, 5), op(0, 3), ext(0, 2), coin(0, 1);
  VecRows v;
  for (int e = 0; e < extrudes; ++e) {
    v.push_back(row(kSol));
    const int n = lines(rng);
    for (int i = 0; i < n; ++i) v.push_back(row(kLine, {{1, level(rng)}, {2, level(rng)}}));
    if (coin(rng)) {
      v.push_back(row(kSol));
      v.push_back(row(kCircle, {{1, level(rng)}, {2, level(rng)}, {5, small(rng)}}));
    }
    VecRow x = row(kExt);
    for (int c = 6; c <= 14; ++c) x[static_cast<size_t>(c)] = level(rng);
    x[15] = e == 0 ? 0 : op(rng);
    x[16] = ext(rng);
    v.push_back(x);
  }
  v.push_back(row(kEos));
  return v;
}

// `n` random vectors of 1-2 extrudes; every fourth one goes to "val".
inline VecDataset random_dataset(int n, unsigned seed) {
  std::mt19937 rng(seed);
  VecDataset ds;
  ds.source = "random_dataset";
  for (int i = 0; i < n; ++i) {
    VecSample s;
    s.id = "m" + std::to_string(i);
    s.split = i % 4 == 3 ? "val" : "train";
    s.rows = random_vec(rng, 1 + i % 2);
    ds.samples.push_back(std::move(s));
  }
  return ds;
}

}  // namespace cadcrafter::learn::testdata
