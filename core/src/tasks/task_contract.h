#pragma once
// Private to the core: the task contract of docs/writing-a-task-plugin.md, checked where the
// core takes what a task's code gives (its data before any run is stored, its model's scores
// at every batch), so that a plugin that breaks it is named instead of training something else.
#include <cstdint>
#include <string>

#include "losslab/tasks/task.h"

namespace losslab::Internal {

// "task 'mnist/mlp' (plugin 'vision')": messages about what a plugin's task gave or did.
std::string taskName(const TaskInfo& info);

// The contract of a loaded split ("The data"), checked once before any run is stored: examples
// in it (unless `mayBeEmpty`: the validation split), CPU tensors, as many rows in every member
// as labels, integer labels in [minLabel, classes), and no NaN or infinite feature. Error
// naming the task, `source`, the split `name` and what was expected. Waits for nothing: the
// tensors are on the CPU.
void checkSplit(const TaskInfo& info, const std::string& source, const std::string& name, const TensorSplit& split,
                std::int64_t classes, std::int64_t minLabel, bool mayBeEmpty);

// What the model's forward pass must return for `labels` ("The model"): float scores [B, C] for
// labels [B], [B, T, C] for labels [B, T] (fewer positions only where the labels are padded), C
// the run's class count. Checked on every batch, by sizes only (no wait for the device).
// Otherwise the losses would fail with LibTorch's words, or, for scores wider than C, train
// silently on the wrong number of classes.
void checkScores(const torch::Tensor& out, const torch::Tensor& labels, std::int64_t classes, const TaskInfo& info);

} // namespace losslab::Internal
