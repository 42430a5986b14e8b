#pragma once
// Trains one run: data and model from the task, everything seeded from the run's seed,
// metrics after every epoch, the protocol's stopping rule, the reported epoch's weights
// restored and saved. Called on a worker thread; never throws (failures become the outcome).
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include <torch/types.h>

#include "losslab/data/tensor_split.h"

#include "losslab/runner/run_event.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/task_info.h"

namespace losslab {

class RunStore;
class Task;

struct RunContext {
    std::int64_t runId = 0;
    RunStore* store = nullptr;                 // may be null (tests, benchmarks)
    const std::atomic<bool>* cancel = nullptr; // checked every batch
    std::function<void(const RunEvent&)> emit; // may be empty
    int targetEpochs = 0;                      // exact-epoch protocols: epochs to train
    std::string checkpointPath;                // where the reported weights go ("" = none)
    // Resume checkpoint, rewritten after every epoch once that epoch's metrics are committed
    // ("" = none): model, optimiser, every generator, the protocol's state. Removed when the
    // run completes, diverges or fails; kept when it is cancelled or killed.
    std::string resumePath;
    bool resume = false; // continue from resumePath instead of starting at epoch 1
};

struct RunOutcome {
    RunStatus status = RunStatus::Failed;
    int epochs = 0;     // epochs completed
    int bestEpoch = 0;  // epoch reported by the protocol (0 = none)
    double wallSeconds = 0.0;
    std::string error;
    std::vector<MetricValue> reported; // metrics at bestEpoch
    // Values read back from the training device inside training steps (each one waits for
    // the device to finish its queued work): the first step's loss and one training-loss
    // mean per log interval, nothing else.
    std::int64_t hostReadsInSteps = 0;
    // The waits for the device inside training steps that CUDA's sync debug mode counted
    // (setSyncDebugWarnings, tests); -1 when the mode is off.
    std::int64_t syncsInSteps = -1;
    // train.cuda_graphs: "on: N capture(s), M replayed step(s)", "off: why" where the key asked
    // for graphs and the run could not use them, "" where none were asked for or possible.
    std::string cudaGraphs;
    // A file of the run (its checkpoint) could not be written: the disk is full or a file-size
    // limit reached. The run is stopped as cancelled, resumable from its last checkpoint.
    std::string writeFailure;
};

// Seeds derived from a run's seed for its independent random streams (initial weights, batch
// order, augmentation, dropout; split and subset from splitSeedOf), so that changing one use
// never shifts another. Each stream has a generator of its own, owned by the run.
std::uint64_t deriveSeed(std::int64_t runSeed, std::uint64_t stream);

// The seed the validation split and the data.limit_train subset are drawn from: data.split_seed,
// the same for every seed of an experiment (the spread over seeds is then that of
// initialisation and batch order, which the paper's Table 8 measures), or the run's own seed
// when it is "per_seed" (and for runs stored before the key existed).
std::int64_t splitSeedOf(const ParamSet& params, std::int64_t runSeed);

// Loads the task's data through the process-wide cache that runs share (CPU tensors).
std::shared_ptr<const DataBundle> loadSharedData(const Task& task, const ParamSet& params, const DataContext& context = {});

RunOutcome trainRun(const RunSpec& spec, const Task& task, const torch::Device& device, const RunContext& context);

} // namespace losslab
