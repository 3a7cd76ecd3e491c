// DeepCAD's command-sequence vocabulary as the networks see it, and the conversion between
// integer vectors (rows of 17 ints: command + 16 arguments, -1 = unused) and padded tensors.
//
// The learning layer keeps its own copy of the few DeepCAD constants it needs (cadlib/macro.py)
// so it builds even while the sequence codec (src/cad/cad_vec.h) evolves; both follow the same
// table, which the tests check against the golden vectors.
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

namespace cadcrafter::learn {

using VecRow = std::array<int, 17>;
using VecRows = std::vector<VecRow>;

enum CommandIndex : int { kLine = 0, kArc = 1, kCircle = 2, kEos = 3, kSol = 4, kExt = 5 };
constexpr int kNumCommands = 6;
constexpr int kNumArgs = 16;
constexpr int kArgLevels = 256;              // quantisation levels of every argument
constexpr int kArgClasses = kArgLevels + 1;  // +1: class 0 is "unused" (-1 shifted by one)
constexpr int kMaxSeqLen = 60;               // DeepCAD MAX_TOTAL_LEN, the final EOS included
constexpr int kMaxExtrudes = 10;             // DeepCAD MAX_N_EXT

// Which of the 16 arguments each command uses (DeepCAD CMD_ARGS_MASK):
// x y alpha f r | theta phi gamma px py pz s e1 e2 b u
const std::array<std::array<bool, kNumArgs>, kNumCommands>& command_args_mask();
// The same table as a [6, 16] float tensor (1 = used).
torch::Tensor command_args_mask_tensor();

// A batch of sequences padded with EOS rows (arguments -1) to a common length.
struct VecBatch {
  torch::Tensor commands;  // [B, S] int64
  torch::Tensor args;      // [B, S, 16] int64, -1 where unused
  VecBatch to(const torch::Device& device) const { return {commands.to(device), args.to(device)}; }
};

// Pads every sequence to `length` rows (or to the longest one when length <= 0, plus nothing:
// every DeepCAD vector already ends with its EOS). Longer sequences are truncated to `length`
// (their last row is forced to EOS so the target stays well-formed).
VecBatch make_vec_batch(const std::vector<const VecRows*>& seqs, int length = 0);

// Extrude index of every position (0 before the first Ext, 1 after it, ...), the "group"
// DeepCAD's encoder embeds; clamped to kMaxExtrudes.
torch::Tensor extrude_group_index(const torch::Tensor& commands);

// Positions that count: every row before the first EOS (valid) ...
torch::Tensor rows_before_eos(const torch::Tensor& commands);
// ... and the same plus the first EOS itself, DeepCAD's "extended" padding mask for the loss.
torch::Tensor rows_through_first_eos(const torch::Tensor& commands);

// How command logits become commands.
// - kArgmax: each row's most likely command, as DeepCAD decodes (its metrics are defined so).
// - kGrammar: the most likely command sequence that is well formed (Viterbi over a small
//   automaton of DeepCAD's grammar: every sketch is loops of SOL + either one circle or >= 2
//   lines/arcs, not just two lines, ended by Ext; extrudes then EOS). A non-autoregressive decoder scores rows
//   independently, so argmax can emit e.g. a Line where a SOL must start the next sketch,
//   which no kernel can build; this picks the best sequence that can be built. Arguments of
//   used parameters then never take the "unused" class.
enum class CommandDecoding { kArgmax, kGrammar };
const char* decoding_name(CommandDecoding decoding);
bool parse_decoding(const std::string& name, CommandDecoding* out);

// The grammar-constrained command sequence of one row of log-probabilities [S, 6] (CPU,
// float); empty when S is too short for any well-formed sequence (4 rows).
std::vector<int> grammar_commands(const torch::Tensor& command_log_probs);

// Network outputs back to integer vectors: commands as `decoding` says, argmax argument minus
// the shift, arguments the command does not use set to -1, cut after the first EOS (kept).
std::vector<VecRows> logits_to_vecs(const torch::Tensor& command_logits, const torch::Tensor& args_logits,
                                    CommandDecoding decoding = CommandDecoding::kArgmax);

// The rows up to and including the first EOS (appends an EOS when there is none).
VecRows trim_at_eos(const VecRows& rows);

std::string vec_to_string(const VecRows& rows);

}  // namespace cadcrafter::learn
