// DeepCAD's reconstruction loss (trainer/loss.py) and accuracy metrics
// (evaluation/evaluate_ae_acc.py), restated.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "learn/data/cad_tokens.h"

namespace cadcrafter::learn {

struct CadLossWeights {
  double command = 1.0;
  double args = 2.0;
};

struct CadLoss {
  torch::Tensor command;  // scalar
  torch::Tensor args;     // scalar
  torch::Tensor total;    // weighted sum
  // Entries the two means count (command rows, used arguments): a data-parallel rank weights its
  // means by its share of the global counts (learn/training/distributed.h share_weight).
  int64_t command_count = 0;
  int64_t args_count = 0;
};

// Command cross-entropy over the rows up to and including the first EOS of the target (the
// rest is padding and is masked). Argument cross-entropy (targets shifted by +1, so -1 is
// class 0) only on the arguments the *target* command uses. Both are means over the counted
// entries. Logits may be shorter than the target only if the target fits.
CadLoss cad_loss(const torch::Tensor& command_logits, const torch::Tensor& args_logits, const VecBatch& target,
                 const CadLossWeights& weights = {});

// DeepCAD's accuracy of one reconstruction, over the target's rows before EOS:
// command accuracy = share of rows whose command matches; parameter accuracy = over rows with
// a matching command other than SOL/EOS, share of used arguments within 3 levels, where b, u
// (Ext) and the arc flag f must match exactly. `param_count` = 0 when nothing was counted.
struct SequenceAccuracy {
  double command = 0.0;
  int64_t command_count = 0;
  double param = 0.0;
  int64_t param_count = 0;
};
SequenceAccuracy sequence_accuracy(const VecRows& predicted, const VecRows& target, int tolerance = 3);

// Dataset-level figures as DeepCAD reports them: per-sequence accuracies averaged over
// sequences (sequences without counted parameters are left out of the parameter mean).
struct AccuracySummary {
  double command = 0.0, param = 0.0;
  int64_t sequences = 0;
};
AccuracySummary summarize_accuracy(const std::vector<SequenceAccuracy>& per_sequence);

}  // namespace cadcrafter::learn
