#pragma once
// A labelled set of examples held as whole tensors. Features keep their storage dtype
// (uint8 for images) and are converted per batch by the task's InputTransform, so a dataset
// that fits stays on the training device as one tensor and a batch is an index into it.
#include <map>
#include <string>

#include <torch/types.h>

namespace losslab {

struct TensorSplit {
    torch::Tensor features; // [N, ...], any dtype
    // [N], int64, in [0, numClasses). Per-position tasks (plugin API 3: a class at every
    // position, e.g. the next character) hold [N, T] labels, int64 or uint8; the core
    // converts them to int64 per batch, and the model returns [B, T, C] scores.
    torch::Tensor labels;
    // [N] int64 for sequence tasks; undefined otherwise
    torch::Tensor lengths;
    // The second sequence of sentence-pair tasks (plugin API 3), padded like `features`, and
    // its lengths; undefined for every other task.
    torch::Tensor features2;
    torch::Tensor lengths2;

    std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
    TensorSplit index(const torch::Tensor& idx) const;   // rows `idx` (same device)
    // Rows of a split whose members live on two devices (a run's: lengths on the CPU): each
    // member selected with `idx` where it is on idx's device, else with `hostIdx`, the same
    // rows on the CPU.
    TensorSplit index(const torch::Tensor& idx, const torch::Tensor& hostIdx) const;
    TensorSplit to(const torch::Device& device) const;
};

// `cpu` (a CPU tensor) on `device`, without making the calling thread wait for the device:
// to a CUDA device through page-locked memory, asynchronously on the current stream (a copy
// from ordinary memory waits until the stream has run all its queued work, which inside a
// training step stalls the GPU every step). The same values as `cpu.to(device)`. For small
// per-batch tensors drawn on the CPU (augmentation offsets, lengths of padded batches).
torch::Tensor copyToDevice(const torch::Tensor& cpu, const torch::Device& device);

// What a task's loader returns: CPU tensors; the core splits and moves them.
struct DataBundle {
    TensorSplit train; // the full training set; validation is split off by the core
    TensorSplit test;
    // A validation set of the data set's own (plugin API 3; e.g. text8's 5M-symbol one). When
    // it holds examples the core uses it, limited like the test set by data.limit_test, and
    // splits nothing off train (data.val_fraction is not used).
    TensorSplit val;
    std::string source; // where it was read from, for logs and the run record
    // Tensors the loader hands to Task::prepareModel (plugin API 3), by name: e.g. the text
    // plugin's "embeddings", pretrained word vectors in vocabulary order.
    std::map<std::string, torch::Tensor> tensors;
};

} // namespace losslab
