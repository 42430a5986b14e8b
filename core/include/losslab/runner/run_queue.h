#pragma once
// RunQueue: plans an experiment's runs, stores them, and executes them on worker threads,
// one per device slot. A run that depends on a CE run (same_epochs_as_ce) waits until that
// run has finished and then trains for the epoch count it chose.
//
// Thread rules: construct, start(), wait() from one thread; cancel*() from any thread
// (including a signal-watching thread). Observers are called on worker threads, in order
// per run; they must be quick and thread-safe. An observer's exception is logged (the first
// one) and otherwise ignored: it never changes how a run ends. Each run's end is stored,
// counted and announced once. A write to the store that fails for one run fails that run
// only (as `failed`, with the database's message). Torch-free header.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "losslab/runner/run_event.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/task_info.h"

namespace losslab {

class RunStore;
class TaskRegistry;

struct RunQueueOptions {
    std::string device;           // overrides the experiment's device when not empty
    int runsPerDevice = 1;        // concurrent runs per CUDA device (CPU: see cpuSlots)
    int cpuSlots = 1;             // concurrent runs on the CPU
    int threadsPerRun = 0;        // intra-op threads per CPU run; 0 = defaultRunThreads(cpuSlots)
    // Workers run this much "nicer" than the caller (see configureWorkerThread): the desktop
    // program uses it so that its event loop stays responsive on a busy machine.
    int workerNiceIncrement = 0;
    // Only these runs of the experiment's expand() (indices; empty = all), which must hold
    // every run they depend on: `losslab-cli run --task-index` runs one independent unit.
    std::vector<int> runIndices;
    // The stored experiment's uid (empty: a new random one): every array task of one Slurm
    // plan gives the same, so the merged parts hold one experiment.
    std::string experimentUid;
    // Add the runs to this stored experiment instead of storing a new one (0: a new one): a
    // second array task of a plan run into the database that holds the first joins its
    // experiment, as `losslab-cli merge` would join their parts.
    std::int64_t experimentId = 0;
};

struct RunQueueResult {
    std::int64_t experimentId = 0;
    std::vector<std::int64_t> runIds;
    int completed = 0, diverged = 0, failed = 0, cancelled = 0;
    // The database stopped accepting writes: the queue cancelled the remaining runs. What
    // was committed before stays; what came after is not stored.
    std::string storeFailure;
    // A run's checkpoint could not be written (disk full, file-size limit): the queue cancelled
    // the remaining runs, which would meet the same full disk. The database holds every epoch
    // committed before, and the runs resume from their last checkpoints.
    std::string checkpointFailure;
};

// Checks that `device` ("auto", "cpu", "cuda", "cuda:N") can be used here; throws Error
// otherwise. Returns the resolved device names of the slots ("cpu", "cuda:0", ...).
std::vector<std::string> resolveDeviceSlots(const std::string& device, const RunQueueOptions& options);
// The same for a machine with `cudaCount` visible CUDA devices (what resolveDeviceSlots asks
// LibTorch): "auto" and "cuda" take every device, runsPerDevice slots on each, interleaved
// (cuda:0, cuda:1, ..., cuda:0, cuda:1, ...) so that fewer runs than slots spread over the
// devices; "auto" without CUDA, and "cpu", give cpuSlots CPU slots. Pure: testable anywhere.
std::vector<std::string> planDeviceSlots(const std::string& device, int cudaCount, const RunQueueOptions& options);

// Everything that can be checked before a run is stored: the device, the task, the data
// (loaded once and kept for the runs) and the model's parameters (one model is built).
// Throws Error with the message a user needs; stores nothing.
// `data`: where the task may cache derived files (the run database's data cache folder).
void preflightExperiment(const ExperimentSpec& experiment, const TaskRegistry& tasks, const std::string& device,
                         const DataContext& data = {});

class RunQueue {
public:
    RunQueue(RunStore& store, const TaskRegistry& tasks, RunQueueOptions options = {});
    ~RunQueue(); // cancels and joins
    RunQueue(const RunQueue&) = delete;
    RunQueue& operator=(const RunQueue&) = delete;

    void addObserver(std::function<void(const RunEvent&)> observer); // before start()

    // Runs preflightExperiment(), creates the database's checkpoint folder, stores the
    // experiment and its runs (all `queued`), then starts the workers. Throws Error, before
    // anything is stored, when the preflight fails or the folder cannot be created.
    RunQueueResult start(const ExperimentSpec& experiment);
    // Continues interrupted or cancelled runs from their last checkpoint (or from the start
    // when they never finished an epoch). Throws Error for an unknown run or one in another
    // state, or a checkpoint folder that cannot be created. The runs are stored `queued` by this
    // process before the workers start (RunStore::claimForResume), so another process resuming
    // them at the same time is refused. Use instead of start(), not after it.
    RunQueueResult resume(const std::vector<std::int64_t>& runIds);
    // Blocks until every run has finished; returns the counts.
    RunQueueResult wait();

    void cancel(std::int64_t runId);
    void cancelAll();
    // Stops every run as cancelAll() does, but stores them `interrupted`, not `cancelled`:
    // the program is closing, not the user giving up on them; resume() continues them.
    void interruptAll();
    bool cancelRequested() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace losslab
