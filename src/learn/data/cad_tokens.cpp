#include "learn/data/cad_tokens.h"

#include <algorithm>
#include <array>
#include <limits>
#include <sstream>

#include "cad/cad_vec.h"

namespace cadcrafter::learn {

// The networks' vocabulary must be the codec's (src/cad/cad_vec.h).
static_assert(kNumCommands == cadcrafter::kNumCommands && kMaxSeqLen == kMaxTotalLen && kArgLevels == kArgsDim &&
                  int{kLine} == int{kCmdLine} && int{kArc} == int{kCmdArc} && int{kCircle} == int{kCmdCircle} &&
                  int{kEos} == int{kCmdEos} && int{kSol} == int{kCmdSol} && int{kExt} == int{kCmdExt} &&
                  kMaxExtrudes == cadcrafter::kMaxExtrudes,
              "learn/data/cad_tokens.h disagrees with cad/cad_vec.h");
static_assert(std::is_same_v<VecRows, CadVec>, "a learn vector is a CadVec");

const std::array<std::array<bool, kNumArgs>, kNumCommands>& command_args_mask() {
  static const std::array<std::array<bool, kNumArgs>, kNumCommands> mask = [] {
    std::array<std::array<bool, kNumArgs>, kNumCommands> m{};
    m[kLine][0] = m[kLine][1] = true;                                     // x y
    m[kArc][0] = m[kArc][1] = m[kArc][2] = m[kArc][3] = true;             // x y alpha f
    m[kCircle][0] = m[kCircle][1] = m[kCircle][4] = true;                 // x y r
    for (int a = 5; a < kNumArgs; ++a) m[kExt][a] = true;                 // theta .. u
    return m;
  }();
  return mask;
}

torch::Tensor command_args_mask_tensor() {
  auto t = torch::zeros({kNumCommands, kNumArgs});
  const auto& m = command_args_mask();
  for (int c = 0; c < kNumCommands; ++c)
    for (int a = 0; a < kNumArgs; ++a) t[c][a] = m[c][a] ? 1.0f : 0.0f;
  return t;
}

VecBatch make_vec_batch(const std::vector<const VecRows*>& seqs, int length) {
  int64_t len = length;
  if (len <= 0) {
    len = 1;
    for (const VecRows* s : seqs) len = std::max<int64_t>(len, static_cast<int64_t>(s->size()));
  }
  const int64_t batch = static_cast<int64_t>(seqs.size());
  auto commands = torch::full({batch, len}, static_cast<int64_t>(kEos), torch::kLong);
  auto args = torch::full({batch, len, kNumArgs}, int64_t{-1}, torch::kLong);
  auto cmd_acc = commands.accessor<int64_t, 2>();
  auto arg_acc = args.accessor<int64_t, 3>();
  for (int64_t b = 0; b < batch; ++b) {
    const VecRows& rows = *seqs[static_cast<size_t>(b)];
    const int64_t n = std::min<int64_t>(len, static_cast<int64_t>(rows.size()));
    for (int64_t i = 0; i < n; ++i) {
      const VecRow& r = rows[static_cast<size_t>(i)];
      cmd_acc[b][i] = std::clamp(r[0], 0, kNumCommands - 1);
      for (int a = 0; a < kNumArgs; ++a) arg_acc[b][i][a] = std::clamp(r[a + 1], -1, kArgLevels - 1);
    }
    if (static_cast<int64_t>(rows.size()) > len) {  // truncated: keep the target well-formed
      cmd_acc[b][len - 1] = kEos;
      for (int a = 0; a < kNumArgs; ++a) arg_acc[b][len - 1][a] = -1;
    }
  }
  return {commands, args};
}

torch::Tensor extrude_group_index(const torch::Tensor& commands) {
  // Rows up to and including an Ext belong to that extrude: count the Ext rows strictly before.
  auto is_ext = (commands == kExt).to(torch::kLong);
  auto group = is_ext.cumsum(1) - is_ext;
  return group.clamp_max(kMaxExtrudes);
}

torch::Tensor rows_before_eos(const torch::Tensor& commands) {
  return (commands == kEos).to(torch::kLong).cumsum(1) == 0;
}

torch::Tensor rows_through_first_eos(const torch::Tensor& commands) {
  // A position is kept when no EOS occurred strictly before it.
  auto eos = (commands == kEos).to(torch::kLong);
  return (eos.cumsum(1) - eos) == 0;
}

const char* decoding_name(CommandDecoding decoding) {
  return decoding == CommandDecoding::kGrammar ? "grammar" : "argmax";
}

bool parse_decoding(const std::string& name, CommandDecoding* out) {
  if (name == "argmax") *out = CommandDecoding::kArgmax;
  else if (name == "grammar") *out = CommandDecoding::kGrammar;
  else return false;
  return true;
}

namespace {

// The automaton: where the sequence is, and which command may come next. A loop is one circle,
// or at least two lines/arcs of which not both are lines (two lines enclose no area).
enum GrammarState { kStart, kLoopStart, kCircleDone, kOneLine, kOneArc, kTwoLines, kSegments, kExtDone, kEnd, kNumStates };

int next_state(int state, int command) {
  const bool segment = command == kLine || command == kArc;
  switch (state) {
    case kStart: return command == kSol ? kLoopStart : -1;
    case kLoopStart:
      if (command == kCircle) return kCircleDone;
      if (command == kLine) return kOneLine;
      return command == kArc ? kOneArc : -1;
    case kCircleDone:
      if (command == kSol) return kLoopStart;
      return command == kExt ? kExtDone : -1;
    case kOneLine:
      if (command == kLine) return kTwoLines;
      return command == kArc ? kSegments : -1;
    case kOneArc:
    case kTwoLines: return segment ? kSegments : -1;
    case kSegments:
      if (segment) return kSegments;
      if (command == kSol) return kLoopStart;
      return command == kExt ? kExtDone : -1;
    case kExtDone:
      if (command == kSol) return kLoopStart;
      return command == kEos ? kEnd : -1;
    case kEnd: return command == kEos ? kEnd : -1;
    default: return -1;
  }
}

}  // namespace

std::vector<int> grammar_commands(const torch::Tensor& command_log_probs) {
  const auto lp = command_log_probs.to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t length = lp.size(0);
  if (length < 4) return {};
  auto acc = lp.accessor<float, 2>();
  constexpr double kNone = -std::numeric_limits<double>::infinity();
  std::vector<std::array<double, kNumStates>> best(static_cast<size_t>(length + 1));
  std::vector<std::array<std::pair<int, int>, kNumStates>> from(static_cast<size_t>(length + 1));  // (state, command)
  for (auto& b : best) b.fill(kNone);
  best[0][kStart] = 0.0;
  for (int64_t i = 0; i < length; ++i)
    for (int s = 0; s < kNumStates; ++s) {
      if (best[static_cast<size_t>(i)][s] == kNone) continue;
      for (int c = 0; c < kNumCommands; ++c) {
        const int t = next_state(s, c);
        if (t < 0) continue;
        const double score = best[static_cast<size_t>(i)][s] + acc[i][c];
        if (score > best[static_cast<size_t>(i + 1)][t]) {
          best[static_cast<size_t>(i + 1)][t] = score;
          from[static_cast<size_t>(i + 1)][t] = {s, c};
        }
      }
    }
  if (best[static_cast<size_t>(length)][kEnd] == kNone) return {};
  std::vector<int> commands(static_cast<size_t>(length));
  int state = kEnd;
  for (int64_t i = length; i > 0; --i) {
    const auto [previous, command] = from[static_cast<size_t>(i)][state];
    commands[static_cast<size_t>(i - 1)] = command;
    state = previous;
  }
  return commands;
}

std::vector<VecRows> logits_to_vecs(const torch::Tensor& command_logits, const torch::Tensor& args_logits,
                                    CommandDecoding decoding) {
  auto commands = command_logits.argmax(-1).to(torch::kCPU).contiguous();  // [B, S]
  const bool grammar = decoding == CommandDecoding::kGrammar;
  if (grammar) {
    const auto log_probs = torch::log_softmax(command_logits.to(torch::kCPU, torch::kFloat), -1);
    for (int64_t b = 0; b < commands.size(0); ++b) {
      const auto best = grammar_commands(log_probs[b]);
      for (size_t i = 0; i < best.size(); ++i) commands[b][static_cast<int64_t>(i)] = best[i];
    }
  }
  // With the grammar, a used argument takes its best real value (classes 1..256), never "unused".
  auto args = (grammar ? args_logits.narrow(-1, 1, kArgLevels).argmax(-1) : args_logits.argmax(-1) - 1)
                  .to(torch::kCPU)
                  .contiguous();  // [B, S, 16]
  auto cmd_acc = commands.accessor<int64_t, 2>();
  auto arg_acc = args.accessor<int64_t, 3>();
  const auto& mask = command_args_mask();
  std::vector<VecRows> out(static_cast<size_t>(commands.size(0)));
  for (int64_t b = 0; b < commands.size(0); ++b) {
    VecRows& rows = out[static_cast<size_t>(b)];
    for (int64_t i = 0; i < commands.size(1); ++i) {
      VecRow row;
      row[0] = static_cast<int>(cmd_acc[b][i]);
      for (int a = 0; a < kNumArgs; ++a)
        row[a + 1] = mask[row[0]][a] ? std::max<int>(0, static_cast<int>(arg_acc[b][i][a])) : -1;
      rows.push_back(row);
      if (row[0] == kEos) break;
    }
  }
  return out;
}

VecRows trim_at_eos(const VecRows& rows) {
  VecRows out;
  for (const VecRow& r : rows) {
    out.push_back(r);
    if (r[0] == kEos) return out;
  }
  VecRow eos;
  eos.fill(-1);
  eos[0] = kEos;
  out.push_back(eos);
  return out;
}

std::string vec_to_string(const VecRows& rows) {
  static const char* names[kNumCommands] = {"Line", "Arc", "Circle", "EOS", "SOL", "Ext"};
  std::ostringstream os;
  for (const VecRow& r : rows) {
    os << (r[0] >= 0 && r[0] < kNumCommands ? names[r[0]] : "?");
    for (int a = 1; a < 17; ++a)
      if (r[a] >= 0) os << ' ' << r[a];
    os << '\n';
  }
  return os.str();
}

}  // namespace cadcrafter::learn
