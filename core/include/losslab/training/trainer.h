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
};

// Seeds derived from a run's seed for its independent random streams (split, subset,
// batch order, augmentation), so that changing one use never shifts another.
std::uint64_t deriveSeed(std::int64_t runSeed, std::uint64_t stream);

// Loads the task's data through the process-wide cache that runs share (CPU tensors).
std::shared_ptr<const DataBundle> loadSharedData(const Task& task, const ParamSet& params);

RunOutcome trainRun(const RunSpec& spec, const Task& task, const torch::Device& device, const RunContext& context);

} // namespace losslab
