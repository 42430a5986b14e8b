#pragma once
// The CUDA halves of tests that count a run's waits for the device in its training steps:
// CUDA's sync debug mode, on while alive, and one run trained on the GPU under it.
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/task.h"
#include "losslab/training/cuda_support.h"
#include "losslab/training/trainer.h"

namespace losslab::fixtures {

struct SyncDebugScope {
    SyncDebugScope() { setSyncDebugWarnings(true); }
    ~SyncDebugScope() { setSyncDebugWarnings(false); }
    SyncDebugScope(const SyncDebugScope&) = delete;
    SyncDebugScope& operator=(const SyncDebugScope&) = delete;
};

// `spec` trained on the first CUDA device under the sync debug mode: the outcome's
// syncsInSteps counts every wait of its training steps, hostReadsInSteps the loss reads among them.
inline RunOutcome trainCountingSyncs(const RunSpec& spec, const Task& task) {
    RunContext ctx;
    const SyncDebugScope debug;
    return trainRun(spec, task, torch::Device(torch::kCUDA, 0), ctx);
}

} // namespace losslab::fixtures
