#include "kernel/repair.h"

#include <chrono>

#include "kernel/batch_check.h"

namespace cadcrafter {
namespace {

// One extrude of a vector: its loops (each SOL row and the curve rows after it) and its Ext row.
struct Block {
  std::vector<CadVec> loops;
  CadVecRow ext{};
  int index = 0;  // position among the input's extrudes (for the edit notes)
};

// The extrudes of a well-formed vector; false when the rows do not follow DeepCAD's grammar
// (curves before a SOL, an Ext without loops, rows after the last Ext other than EOS).
bool parse_blocks(const CadVec& vec, std::vector<Block>* blocks) {
  Block current;
  for (const auto& row : vec) {
    const int cmd = row[kColCmd];
    if (cmd == kCmdEos) break;
    if (cmd == kCmdSol) {
      current.loops.push_back({row});
    } else if (cmd == kCmdLine || cmd == kCmdArc || cmd == kCmdCircle) {
      if (current.loops.empty()) return false;
      current.loops.back().push_back(row);
    } else if (cmd == kCmdExt) {
      if (current.loops.empty()) return false;
      current.ext = row;
      current.index = static_cast<int>(blocks->size());
      blocks->push_back(std::move(current));
      current = Block{};
    } else {
      return false;
    }
  }
  return current.loops.empty() && !blocks->empty();
}

CadVec assemble(const std::vector<Block>& blocks) {
  CadVec out;
  for (const auto& b : blocks) {
    for (const auto& loop : b.loops) out.insert(out.end(), loop.begin(), loop.end());
    out.push_back(b.ext);
  }
  out.push_back(eos_row());
  return out;
}

}  // namespace

RepairResult repair_vec(const CadVec& vec, const RepairOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto spent = [&](const RepairResult& so_far) {
    return so_far.checks >= options.max_checks ||
           (options.max_seconds > 0 && std::chrono::duration<double>(Clock::now() - start).count() >= options.max_seconds);
  };
  RepairResult r;
  r.vec = vec;
  r.check = check_vec(vec, options.check);
  r.checks = 1;
  if (r.check.valid) {
    r.valid = true;
    return r;
  }
  r.reason = r.check.reason;
  std::vector<Block> blocks;
  if (!parse_blocks(vec, &blocks)) {
    r.edits.push_back("not repairable: the rows do not follow DeepCAD's grammar");
    return r;
  }
  // A prefix that builds keeps its verdict: the last one accepted is the result's.
  auto builds = [&](const std::vector<Block>& prefix) {
    ++r.checks;
    CheckResult c = check_vec(assemble(prefix), options.check);
    if (!c.valid) return false;
    r.check = std::move(c);
    return true;
  };
  std::vector<Block> kept;
  for (const Block& b : blocks) {
    if (spent(r)) {
      r.edits.push_back("stopped: budget spent");
      return r;
    }
    kept.push_back(b);
    if (builds(kept)) continue;
    kept.pop_back();
    bool fixed = false;
    for (size_t j = b.loops.size(); j-- > 0 && b.loops.size() > 1 && !spent(r);) {
      Block without = b;
      without.loops.erase(without.loops.begin() + static_cast<std::ptrdiff_t>(j));
      kept.push_back(without);
      if (builds(kept)) {
        r.edits.push_back("removed loop " + std::to_string(j) + " of extrude " + std::to_string(b.index) + " (" +
                          std::to_string(b.loops[j].size() - 1) + " curve(s))");
        fixed = true;
        break;
      }
      kept.pop_back();
    }
    if (!fixed && spent(r)) {
      r.edits.push_back("stopped: budget spent");
      return r;
    }
    if (!fixed) r.edits.push_back("removed extrude " + std::to_string(b.index));
  }
  r.changed = true;
  if (kept.empty()) {
    r.edits.push_back("nothing left");
    return r;
  }
  r.vec = assemble(kept);
  r.valid = true;  // the last accepted prefix is the whole vector, and r.check its verdict
  return r;
}

std::string describe_edits(const RepairResult& r) {
  std::string out;
  for (const auto& e : r.edits) out += (out.empty() ? "" : "; ") + e;
  return out;
}

}  // namespace cadcrafter
