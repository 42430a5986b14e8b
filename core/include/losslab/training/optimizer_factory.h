#pragma once
// Optimisers and learning-rate schedules from train.* keys (docs/experiment-keys.md).
#include <cstdint>
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
// Per-step schedules ("linear") return baseLr here; stepLearningRate gives their rates.
double scheduledLearningRate(const ParamSet& params, double baseLr, int epoch);

// Whether train.schedule changes the rate at every optimiser step ("linear") rather than
// per epoch.
bool schedulesPerStep(const ParamSet& params);

// "linear", as Hugging Face's get_linear_schedule_with_warmup (the BERT fine-tuning recipe):
// for the 0-based optimiser step `step` of `totalSteps` (train.max_epochs x steps per
// epoch), W = ceil(train.warmup x totalSteps) warm-up steps (train.warmup is declared by the
// tasks whose recipe warms up; 0 when absent): baseLr * step / W while step < W, then
// baseLr * max(0, (totalSteps - step) / max(1, totalSteps - W)).
double stepLearningRate(const ParamSet& params, double baseLr, std::int64_t step, std::int64_t totalSteps);

void setLearningRate(torch::optim::Optimizer& optimizer, double lr);

} // namespace losslab
