#include "learn/training/losses.h"

#include <cstdlib>

namespace cadcrafter::learn {

CadLoss cad_loss(const torch::Tensor& command_logits, const torch::Tensor& args_logits, const VecBatch& target,
                 const CadLossWeights& weights) {
  const int64_t len = command_logits.size(1);
  auto commands = target.commands.narrow(1, 0, len);
  auto args = target.args.narrow(1, 0, len);

  auto row_mask = rows_through_first_eos(commands);  // [B, S] bool
  auto command_loss = torch::nn::functional::cross_entropy(command_logits.index({row_mask}), commands.index({row_mask}));

  auto arg_mask = command_args_mask_tensor().to(commands.device()).index({commands}).to(torch::kBool);  // [B, S, 16]
  auto args_loss = torch::nn::functional::cross_entropy(args_logits.index({arg_mask}), (args + 1).index({arg_mask}));
  const int64_t args_count = arg_mask.sum().item<int64_t>();
  if (args_count == 0) args_loss = torch::zeros({}, command_logits.options());

  return {command_loss, args_loss, weights.command * command_loss + weights.args * args_loss, row_mask.sum().item<int64_t>(),
          args_count};
}

SequenceAccuracy sequence_accuracy(const VecRows& predicted, const VecRows& target, int tolerance) {
  SequenceAccuracy acc;
  const auto& mask = command_args_mask();
  int64_t cmd_hits = 0, param_hits = 0;
  for (size_t i = 0; i < target.size() && target[i][0] != kEos; ++i) {
    const VecRow& gt = target[i];
    const bool has_pred = i < predicted.size();
    const bool cmd_ok = has_pred && predicted[i][0] == gt[0];
    ++acc.command_count;
    cmd_hits += cmd_ok ? 1 : 0;
    if (gt[0] == kSol || !cmd_ok) continue;
    for (int a = 0; a < kNumArgs; ++a) {
      if (!mask[gt[0]][a]) continue;
      const int p = predicted[i][a + 1], t = gt[a + 1];
      const bool exact_only = (gt[0] == kExt && a >= 14) || (gt[0] == kArc && a == 3);
      const bool ok = exact_only ? p == t : std::abs(p - t) < tolerance;
      ++acc.param_count;
      param_hits += ok ? 1 : 0;
    }
  }
  if (acc.command_count > 0) acc.command = static_cast<double>(cmd_hits) / static_cast<double>(acc.command_count);
  if (acc.param_count > 0) acc.param = static_cast<double>(param_hits) / static_cast<double>(acc.param_count);
  return acc;
}

AccuracySummary summarize_accuracy(const std::vector<SequenceAccuracy>& per_sequence) {
  AccuracySummary s;
  double cmd_sum = 0.0, param_sum = 0.0;
  int64_t cmd_n = 0, param_n = 0;
  for (const auto& a : per_sequence) {
    if (a.command_count > 0) {
      cmd_sum += a.command;
      ++cmd_n;
    }
    if (a.param_count > 0) {
      param_sum += a.param;
      ++param_n;
    }
  }
  s.sequences = static_cast<int64_t>(per_sequence.size());
  s.command = cmd_n ? cmd_sum / static_cast<double>(cmd_n) : 0.0;
  s.param = param_n ? param_sum / static_cast<double>(param_n) : 0.0;
  return s;
}

}  // namespace cadcrafter::learn
