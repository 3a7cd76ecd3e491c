// What the training benchmarks feed the autoencoder: a synthetic batch of full-length sequences
// (bench_train, bench_distributed), the same for every run.
#pragma once

#include <cstdlib>
#include <vector>

#include "learn/data/cad_tokens.h"

namespace cadcrafter::learn {

// SOL, 4 lines, Ext repeated, then EOS: every row of the batch is used (`length` rows).
inline VecBatch synthetic_batch(int64_t batch, int64_t length) {
  std::vector<VecRows> seqs(static_cast<size_t>(batch));
  const int pattern[] = {kSol, kLine, kLine, kLine, kLine, kExt};
  std::srand(0);
  for (auto& rows : seqs) {
    for (int64_t i = 0; i + 1 < length; ++i) {
      VecRow r;
      r.fill(-1);
      r[0] = pattern[i % 6];
      for (int a = 0; a < kNumArgs; ++a)
        if (command_args_mask()[r[0]][a]) r[a + 1] = std::rand() % 256;
      rows.push_back(r);
    }
    VecRow eos;
    eos.fill(-1);
    eos[0] = kEos;
    rows.push_back(eos);
  }
  std::vector<const VecRows*> ptrs;
  for (const auto& s : seqs) ptrs.push_back(&s);
  return make_vec_batch(ptrs, static_cast<int>(length));
}

}  // namespace cadcrafter::learn
