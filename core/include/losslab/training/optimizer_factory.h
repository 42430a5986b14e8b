#pragma once
// Optimisers and learning-rate schedules from train.* keys (docs/experiment-keys.md).
#include <memory>
#include <vector>

#include <torch/optim/optimizer.h>

#include "losslab/spec/param_set.h"

namespace losslab {

// sgd (momentum, nesterov, weight_decay), adam (L2 weight_decay), adamw (decoupled).
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const ParamSet& params,
                                                       const std::vector<torch::Tensor>& parameters, double lr);

// Learning rate for 1-based `epoch`: constant; multistep (times gamma after each milestone
// epoch); cosine from baseLr to 0 over train.max_epochs. Every protocol of an experiment
// follows the same curve, so "same epochs as CE" truncates it exactly where CE stopped.
double scheduledLearningRate(const ParamSet& params, double baseLr, int epoch);

void setLearningRate(torch::optim::Optimizer& optimizer, double lr);

} // namespace losslab
