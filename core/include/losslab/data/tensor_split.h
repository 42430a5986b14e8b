#pragma once
// A labelled set of examples held as whole tensors. Features keep their storage dtype
// (uint8 for images) and are converted per batch by the task's InputTransform, so a dataset
// that fits stays on the training device as one tensor and a batch is an index into it.
#include <torch/types.h>

namespace losslab {

struct TensorSplit {
    torch::Tensor features; // [N, ...], any dtype
    torch::Tensor labels;   // [N], int64, in [0, numClasses)
    torch::Tensor lengths;  // [N] int64 for sequence tasks; undefined otherwise

    std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
    TensorSplit index(const torch::Tensor& idx) const;   // rows `idx` (same device)
    TensorSplit to(const torch::Device& device) const;
};

// What a task's loader returns: CPU tensors; the core splits and moves them.
struct DataBundle {
    TensorSplit train; // the full training set; validation is split off by the core
    TensorSplit test;
    std::string source; // where it was read from, for logs and the run record
};

} // namespace losslab
