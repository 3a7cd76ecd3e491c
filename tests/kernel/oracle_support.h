// Runs the F360 volume/area oracle over a list of manifest entries (shared by the default
// subset test and the slow full run).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "cad/cad_json.h"
#include "kernel/batch_check.h"
#include "util/parallel.h"

namespace cadcrafter::testing {

struct OracleTally {
  int models = 0, matched = 0, valid = 0;
  std::vector<std::string> misses;  // "id: why"
};

inline OracleTally run_oracle(const std::vector<ManifestEntry>& entries, int timeout_ms) {
  OracleTally tally;
  tally.models = static_cast<int>(entries.size());
  std::vector<std::string> miss(entries.size());
  std::vector<char> matched(entries.size(), 0), valid(entries.size(), 0);
  parallel_for(static_cast<int64_t>(entries.size()), 2, [&](int64_t i, int) {
    const ManifestEntry& e = entries[i];
    auto model = read_cad_json(e.path);
    if (!model) {
      miss[i] = e.id + ": " + model.error().message;
      return;
    }
    CheckOptions opt;
    opt.timeout_ms = timeout_ms;
    const CheckResult r = check_model(*model, opt);
    valid[i] = r.valid;
    matched[i] = r.n_solids > 0 && within_relative(r.volume, e.expected_volume) && within_relative(r.area, e.expected_area);
    if (!matched[i])
      miss[i] = e.id + ": volume " + std::to_string(r.volume) + " (expected " + std::to_string(e.expected_volume) + "), area " +
                std::to_string(r.area) + " (expected " + std::to_string(e.expected_area) + ")" + (r.valid ? "" : ", " + r.reason);
  });
  for (size_t i = 0; i < entries.size(); ++i) {
    tally.matched += matched[i];
    tally.valid += valid[i];
    if (!matched[i]) tally.misses.push_back(miss[i]);
  }
  return tally;
}

}  // namespace cadcrafter::testing
