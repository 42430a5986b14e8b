#pragma once
// A task: a dataset, a model family and a recipe. Plugins subclass Task and register it.
// Task objects are shared between worker threads: every method must be const and
// thread-safe (build fresh objects, keep no mutable state).
//
// Plugin API 3 adds sequence tasks: sentence pairs (TensorSplit/ModelInput features2 and
// lengths2), a class at every position (labels [N, T], scores [B, T, C]), a data set's own
// validation split and loader tensors (DataBundle::val and ::tensors, Task::prepareModel), the
// order of training batches (InputTransform::batchOrder: bucketing by length) and task
// metrics beside the core's (TaskInfo::metrics: "bpc").
//
// Randomness (plugin API 2): every random draw of a run comes from generators the run owns
// and hands over here; nothing may use torch's global generators (torch::manual_seed,
// nn::init, at::dropout), which concurrent runs share. See losslab/tasks/model_random.h.
#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include "losslab/data/tensor_split.h"
#include "losslab/spec/param_set.h"
#include "losslab/tasks/task_info.h"

namespace losslab {

// What a model receives for one batch.
struct ModelInput {
    torch::Tensor features; // prepared, on the training device: float images, int64 token ids
    torch::Tensor lengths;  // sequence tasks only: [B] int64
    // Sentence-pair tasks only: the second sequence and its lengths.
    torch::Tensor features2;
    torch::Tensor lengths2;
    // The run's generator on the training device, for in-model randomness (dropout masks:
    // losslab::dropout). Set by the core for every training forward pass; may be undefined
    // when the model is evaluated.
    at::Generator generator;
};

// A classifier: raw scores [B, C] (no softmax) for a batch; [B, T, C] for a task with a class
// at every position.
class ClassifierModule : public torch::nn::Module {
public:
    virtual torch::Tensor forward(const ModelInput& input) = 0;
};

// Turns a batch of stored features into model input on the device: dtype conversion,
// normalisation, fixed permutations, and (when training) augmentation. Random choices
// come from `gen` (a CPU generator owned by the run) so they are seeded and device-independent.
class InputTransform {
public:
    virtual ~InputTransform() = default;
    virtual ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const = 0;

    // The training batches of one epoch, in order: CPU int64 tensors of row indices into
    // `train`, every row exactly once. `gen` is the run's CPU generator for the order. The
    // default is a random permutation cut into consecutive batches of `batchSize` (the last
    // one shorter); a sequence task may bucket rows of similar length together.
    virtual std::vector<torch::Tensor> batchOrder(const TensorSplit& train, std::int64_t batchSize,
                                                  at::Generator& gen) const;
};

// The default batch order above, for transforms that override batchOrder only sometimes.
std::vector<torch::Tensor> shuffledBatches(std::int64_t rows, std::int64_t batchSize, at::Generator& gen);

class Task {
public:
    virtual ~Task() = default;
    virtual const TaskInfo& info() const = 0;
    // Reads the data named by params ("data.root", ...). Throws Error saying where it
    // looked and how to get the data.
    virtual DataBundle loadData(const ParamSet& params) const = 0;
    virtual std::unique_ptr<InputTransform> makeTransform(const ParamSet& params,
                                                          const torch::Device& device) const = 0;
    // Builds a freshly initialised model on the CPU, every initial weight drawn from `init`
    // (a CPU generator owned by the run, seeded from its seed): build the layers, then
    // initLikePyTorch() and/or the initialisers of model_random.h. The core also calls it once
    // before storing any run, to check the model.* values.
    virtual std::shared_ptr<ClassifierModule> makeModel(const ParamSet& params, at::Generator& init) const = 0;
    // Called once per run after makeModel, on the CPU, with the data the run trains on: a
    // task may copy loader tensors (DataBundle::tensors, e.g. pretrained word vectors) into
    // the model here. Draws nothing at random. The default does nothing.
    virtual void prepareModel(ClassifierModule& model, const DataBundle& data, const ParamSet& params) const;
};

} // namespace losslab
