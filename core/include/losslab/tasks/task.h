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
// Plugin API 4 adds sequence-to-sequence tasks (speech recognition): label sequences padded
// with kIgnoreLabel (TaskInfo::paddedLabels), the batch's labels handed to the model for
// teacher forcing (ModelInput::targets), a loss of the model's own mixed into the objective
// (ClassifierModule::objective: CTC), metrics a task computes from the model itself
// (Task::makeEvaluator: error rates of decoded hypotheses) and loader tensors for the
// transform (Task::makeTransform with the DataBundle: a bank of audio frames).
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
#include "losslab/store/records.h"
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
    // The batch's labels on the training device, int64 (plugin API 4), set by the core for
    // every forward pass, in training and in evaluation: a decoder that is fed the previous
    // true unit (teacher forcing) reads them here. Padded positions hold kIgnoreLabel.
    torch::Tensor targets;
    // The same values on the CPU (plugin API 6), for a model to read on the host without making
    // it wait for the device: the lengths LibTorch's packed sequences take (runPackedLstm), a
    // decoder's longest target. The core sets hostLengths and hostLengths2 wherever lengths and
    // lengths2 are set, and hostTargets (int64) for tasks with padded labels
    // (TaskInfo::paddedLabels), in training and in evaluation; on the CPU they may be the very
    // tensors above. A model must not change them.
    torch::Tensor hostLengths;
    torch::Tensor hostLengths2;
    torch::Tensor hostTargets;
};

// `host` (one of ModelInput's host members), or where the caller left it unset (a model run
// outside the core, by a test or a benchmark) `device` read back to the CPU, with a wait.
inline torch::Tensor hostCopy(const torch::Tensor& host, const torch::Tensor& device) {
    return host.defined() || !device.defined() ? host : device.cpu();
}

// The label of a padded position (plugin API 4): a task whose TaskInfo::paddedLabels is set
// pads its per-position labels [N, T] with it, and the loss and every metric skip it.
constexpr std::int64_t kIgnoreLabel = -1;

// A classifier: raw scores [B, C] (no softmax) for a batch; [B, T, C] for a task with a class
// at every position.
// A task with padded labels (TaskInfo::paddedLabels) may return fewer positions than the
// labels have, [B, T', C] with T' <= T, when every label past T' is kIgnoreLabel (a decoder
// that stops at the batch's longest target).
class ClassifierModule : public torch::nn::Module {
public:
    virtual torch::Tensor forward(const ModelInput& input) = 0;
    // The training objective (plugin API 4), given `studyLoss`, the run's loss (cross-entropy
    // or the square loss) of the scores the last forward pass returned. The default is that
    // loss alone; a model with a loss of its own computes it in forward() and mixes it in here
    // (joint CTC-attention: lambda * CTC + (1 - lambda) * studyLoss). Called after each
    // training forward pass, before backward.
    virtual torch::Tensor objective(const torch::Tensor& studyLoss) { return studyLoss; }
};

// Metrics a task computes from the model itself rather than from the scores of a forward
// pass (plugin API 4): e.g. word error rates of decoded hypotheses. The core makes one per
// evaluated split and epoch and calls add() for every batch of the split, after the forward
// pass that gave the core's metrics, with the model in eval mode under NoGradGuard. `batch` is
// the one the transform got (plugin API 6: its lengths on the CPU).
class TaskEvaluator {
public:
    virtual ~TaskEvaluator() = default;
    virtual void add(ClassifierModule& model, const ModelInput& input, const TensorSplit& batch) = 0;
    // The values for `split`, stored per epoch beside the core's ("test", "wer", 0.123).
    virtual std::vector<MetricValue> finish(const std::string& split) const = 0;
};

// Turns a batch of stored features into model input on the device: dtype conversion,
// normalisation, fixed permutations, and (when training) augmentation. Random choices
// come from `gen` (a CPU generator owned by the run) so they are seeded and device-independent.
// The batch's `lengths` and `lengths2` are on the CPU (plugin API 6; the rest on the training
// device, but see featuresOnHost), so that trimming a batch to its longest sequence reads them
// without a wait. apply() returns them as they are, or changed, on the CPU: the core then
// copies them to the device without a wait and hands the model both (ModelInput::lengths and
// hostLengths). Lengths that apply() returns on the device reach the model as they are, and
// their host copy costs a wait (unless apply() also sets hostLengths).
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

    // Whether the batches' `features` stay on the CPU (plugin API 5): true when they are row
    // indices into tensors the transform keeps on the CPU (the speech tasks' offsets into a
    // bank of frames), so that apply() reads them without making the host wait for the device
    // every step. The core then keeps every split's `features` on the CPU and selects them
    // with CPU row indices; the labels and the rest go to the device as always (the lengths
    // stay on the CPU, as for every task), and so does everything apply() returns. The default
    // is false.
    virtual bool featuresOnHost() const { return false; }
};

// The default batch order above, for transforms that override batchOrder only sometimes.
std::vector<torch::Tensor> shuffledBatches(std::int64_t rows, std::int64_t batchSize, at::Generator& gen);

// Batches of rows of similar length: the rows in a random order, cut into pools of
// batchSize * pool rows, each pool sorted by length (longest first, stable) and cut into
// batches; then the batches in a random order. `lengths`: [N] int64 (any device). Every row
// exactly once; all draws from `gen`.
std::vector<torch::Tensor> bucketedBatches(const torch::Tensor& lengths, std::int64_t batchSize, std::int64_t pool,
                                           at::Generator& gen);

// "message. hint" with the task's TaskInfo::dataHint (how to get the data), or the message alone.
std::string withDataHint(const std::string& message, const TaskInfo& info);
// The file or folder data.root names; Error naming the task, with its data hint, when data.root
// is unset or names nothing.
std::string requireDataRoot(const TaskInfo& info, const ParamSet& params);

class Task {
public:
    virtual ~Task() = default;
    virtual const TaskInfo& info() const = 0;
    // Reads the data named by params ("data.root", ...). Throws Error saying where it
    // looked and how to get the data.
    virtual DataBundle loadData(const ParamSet& params) const = 0;
    // The same with a place for derived files (plugin API 4); the default ignores it. The core
    // calls this one.
    virtual DataBundle loadDataIn(const ParamSet& params, const DataContext& context) const;
    virtual std::unique_ptr<InputTransform> makeTransform(const ParamSet& params,
                                                          const torch::Device& device) const = 0;
    // The transform of a run given the data it trains on (plugin API 4): a task whose
    // features are indices into a loader tensor (DataBundle::tensors) keeps that tensor here.
    // The default calls makeTransform(params, device); the core calls this one.
    virtual std::unique_ptr<InputTransform> makeTransformFor(const ParamSet& params, const torch::Device& device,
                                                             const DataBundle& data) const;
    // The evaluator of `split` ("train", "val", "test") for one epoch, or nullptr for none (the
    // default). A task may skip a split whose metrics cost too much (decoding the training set).
    virtual std::unique_ptr<TaskEvaluator> makeEvaluator(const ParamSet& params, const std::string& split) const;
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
